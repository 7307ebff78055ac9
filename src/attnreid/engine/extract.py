"""Query and gallery features of a trained cell (optionally averaged with the mirrored image)."""
from __future__ import annotations

import json

import numpy as np
import torch
from tqdm import tqdm

from attnreid import models
from attnreid.atomic import atomic_path
from attnreid.data import cache as image_cache
from attnreid.data import index as index_io
from attnreid.data.augment import normalize
from attnreid.engine import checkpoint, runtime
from attnreid.engine.step import autocast, memory_format

SPLITS = ("query", "gallery")


@torch.no_grad()
def features(model, images: np.ndarray, rows: np.ndarray, dev, train_cfg: dict, batch_size: int,
             flip: bool) -> np.ndarray:
    """Features [len(rows), D] (float32) of cache rows `rows` of `images` (uint8 [N, H, W, 3]), in
    the cell's normalisation, precision and memory layout; with `flip`, the mean of the image's and
    its mirror's, both in one forward."""
    layout = memory_format(train_cfg)
    out = []
    for i in tqdm(range(0, len(rows), batch_size), desc="features", leave=False, mininterval=5):
        raw = torch.from_numpy(np.ascontiguousarray(images[rows[i:i + batch_size]])).to(dev, non_blocking=True)
        x = normalize(raw, train_cfg["normalize"])
        if flip:
            x = torch.cat([x, x.flip(3)])
        with autocast(dev, train_cfg["precision"]):
            f = model(x.contiguous(memory_format=layout)).float()
        out.append((f[:len(raw)] + f[len(raw):]) / 2 if flip else f)
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, 0), np.float32)


def load_model(ckpt_path: str, digest: str | None, dev):
    ckpt = checkpoint.load_model(ckpt_path, digest)
    cfg = {**ckpt["config"], "train": {**ckpt["config"]["train"], "pretrained": "none"}}
    model = models.build(cfg, ckpt["meta"]["num_classes"])
    model.load_state_dict(ckpt["model"])
    return model.to(dev).eval(), ckpt


def extract(ckpt_path: str, digest: str, index_csv: str, out: str, eval_cfg: dict, threads: int,
            cache: str | None = None) -> None:
    """`cache`: the index's image cache at the cell's input size (None: decoded in memory).
    Write features.npz: <split>_feat, <split>_pid, <split>_camid, <split>_path, and the train meta.
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
    images = image_cache.load(index_csv, t["height"], t["width"], cache, threads)
    model.to(memory_format=memory_format(t))
    for split, part in parts.items():
        arrays[f"{split}_feat"] = features(model, images.array, images.rows(part.path), dev, t, eval_cfg["batch_size"],
                                           eval_cfg["flip"])
        arrays[f"{split}_pid"] = part.pid.to_numpy()
        arrays[f"{split}_camid"] = part.camid.to_numpy()
        arrays[f"{split}_path"] = part.path.to_numpy().astype(str)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
