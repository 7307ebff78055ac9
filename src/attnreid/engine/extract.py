"""Query and gallery features of a trained cell (optionally averaged with the mirrored image)."""
from __future__ import annotations

import json

import numpy as np
import torch
from tqdm import tqdm

from attnreid import models
from attnreid.atomic import atomic_path
from attnreid.data import index as index_io
from attnreid.data.dataset import ReIDImages
from attnreid.data.transforms import test_transform
from attnreid.engine import checkpoint, runtime

SPLITS = ("query", "gallery")


@torch.no_grad()
def features(model, data: ReIDImages, dev, batch_size: int, flip: bool) -> np.ndarray:
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    out = []
    for batch in tqdm(loader, desc="features", leave=False, mininterval=5):
        x = batch["img"].to(dev)
        f = model(x)
        if flip:
            f = (f + model(torch.flip(x, dims=[3]))) / 2
        out.append(f.float().cpu())
    return torch.cat(out).numpy()


def load_model(ckpt_path: str, digest: str | None, dev):
    ckpt = checkpoint.load_model(ckpt_path, digest)
    cfg = {**ckpt["config"], "train": {**ckpt["config"]["train"], "pretrained": "none"}}
    model = models.build(cfg, ckpt["meta"]["num_classes"])
    model.load_state_dict(ckpt["model"])
    return model.to(dev).eval(), ckpt


def extract(ckpt_path: str, digest: str, index_csv: str, out: str, eval_cfg: dict, threads: int) -> None:
    """Write features.npz: <split>_feat, <split>_pid, <split>_camid, <split>_path, and the train meta.
    Splits: query, gallery, and gt_bbox (the multi-query images of the queries' identities and
    cameras, Market-1501's hand-drawn boxes) when the index has them."""
    torch.set_num_threads(threads)
    dev = runtime.device("auto")
    model, ckpt = load_model(ckpt_path, digest, dev)
    t = ckpt["config"]["train"]
    df, _ = index_io.read(index_csv)
    arrays = {"train_meta": np.array(json.dumps(ckpt["meta"]))}
    parts = {split: index_io.split(df, split) for split in SPLITS}
    gt = index_io.split(df, "gt_bbox")
    queries = set(zip(parts["query"].pid, parts["query"].camid))
    gt = gt[np.array([key in queries for key in zip(gt.pid, gt.camid)], dtype=bool)].reset_index(drop=True)
    if len(gt):
        parts["gt_bbox"] = gt
    for split, part in parts.items():
        data = ReIDImages(part, test_transform(t["height"], t["width"], t["normalize"]))
        arrays[f"{split}_feat"] = features(model, data, dev, eval_cfg["batch_size"], eval_cfg["flip"])
        arrays[f"{split}_pid"] = part.pid.to_numpy()
        arrays[f"{split}_camid"] = part.camid.to_numpy()
        arrays[f"{split}_path"] = part.path.to_numpy().astype(str)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
