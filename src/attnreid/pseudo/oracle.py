"""Backend `oracle`: synthreid's ground truth, optionally degraded to mimic a detector.

synthreid writes beside its images <root>/annotations/keypoints.csv (path, then <name>_x, _y, _v
per COCO keypoint, v = COCO visibility 0/1/2) and annotations/masks/<split dir>/<stem>.png (0/255).
Chosen: confidence c = v / 2 (1 visible, 0.5 labelled but occluded, 0 missing); `noise_px` adds
Gaussian noise of that sigma to x and y, `drop_prob` drops each labelled keypoint; seeded by `seed`.
Everything it writes says `ground_truth: true`.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image

from attnreid.errors import InputError
from attnreid.pseudo import coco
from attnreid.pseudo.masks import PackedMasks
from attnreid.pseudo.store import Labels
from attnreid.pseudo.provenance import sha256

GT_COLUMNS = ["path"] + [f"{n}_{a}" for n in coco.NAMES for a in "xyv"]


def annotations_dir(meta: dict) -> Path | None:
    """The ground-truth folder recorded in an index's meta.json, or None for a real dataset."""
    return Path(meta["root"]) / meta["annotations"] if meta.get("annotations") else None


def ground_truth(df: pd.DataFrame, meta: dict) -> tuple[Labels, Path]:
    """Ground-truth labels (c = v / 2) of every index row, and the keypoints.csv they came from."""
    ann = annotations_dir(meta)
    if ann is None:
        raise InputError(f"{meta['dataset']}: meta.json: no 'annotations' (the oracle needs a synthreid dataset)")
    csv = ann / "keypoints.csv"
    if not csv.is_file():
        raise InputError(f"{csv}: ground-truth keypoints not found")
    gt = pd.read_csv(csv)
    if list(gt.columns) != GT_COLUMNS:
        raise InputError(f"{csv}: columns are not path + <name>_x/_y/_v for the 17 COCO keypoints")
    gt = gt.set_index("path")
    absent = [p for p in df.path if p not in gt.index]
    if absent:
        raise InputError(f"{csv}: no ground truth for {absent[0]} ({len(absent)} images)")
    xyv = gt.loc[df.path, GT_COLUMNS[1:]].to_numpy(np.float32).reshape(len(df), coco.K, 3)
    kps = coco.mark_missing(np.concatenate([xyv[..., :2], xyv[..., 2:] / 2], axis=-1), xyv[..., 2] <= 0)
    return Labels(list(df.path), kps, PackedMasks.pack(_mask(ann, p) for p in df.path)), csv


def _mask(ann: Path, path: str) -> np.ndarray:
    f = ann / "masks" / PurePosixPath(path).with_suffix(".png")
    if not f.is_file():
        raise InputError(f"{f}: ground-truth mask not found")
    with Image.open(f) as im:
        return np.asarray(im.convert("L")) > 127


def degrade(kps: np.ndarray, noise_px: float, drop_prob: float, seed: int) -> np.ndarray:
    """Jitter present keypoints by N(0, noise_px) and drop each with probability drop_prob."""
    rng = np.random.default_rng(seed)
    out = kps.copy()
    out[..., :2] += rng.normal(0.0, noise_px, out[..., :2].shape).astype(np.float32) if noise_px else 0.0
    return coco.mark_missing(out, rng.random(out.shape[:-1]) < drop_prob)


def label(df: pd.DataFrame, meta: dict, cfg: dict) -> tuple[Labels, dict]:
    truth, csv = ground_truth(df, meta)
    kps = degrade(truth.keypoints, cfg["noise_px"], cfg["drop_prob"], cfg["seed"])
    info = {"ground_truth": True, "source": str(csv.parent), "source_sha256": {csv.name: sha256(csv)},
            "confidence": "v / 2 of the ground truth (1 visible, 0.5 occluded)"}
    return Labels(truth.paths, kps, truth.masks), info
