"""Backend `torchvision`: Mask R-CNN (masks) and Keypoint R-CNN (keypoints), COCO weights.

The COCO weights come from torch.hub's cache (<torch hub dir>/checkpoints), checked against their
published hash; nothing is downloaded inside the job: a missing file stops the stage with one line
naming it and `attnreid fetch-weights`, which fetches it (models/weights.py). Per image the highest-scoring
person with score >= `min_score` is kept, by each model separately; its mask is thresholded at 0.5.
Keypoint confidence is sigmoid(Keypoint R-CNN's keypoint score); a keypoint outside the image is missing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from attnreid.models import weights
from attnreid.pseudo import coco
from attnreid.pseudo.masks import PackedMasks
from attnreid.pseudo.provenance import versions
from attnreid.pseudo.store import Labels

PERSON = 1  # COCO category id
BATCH = 4


def unavailable(cfg: dict) -> str | None:
    """Why the backend cannot run here (a COCO weights file is not in the torch cache), or None."""
    for key in ("coco:maskrcnn", "coco:keypointrcnn"):
        if not weights.cache_file(weights.published(key)).is_file():
            return f"{key} weights not in the torch cache (run: {weights.fetch_hint(key)})"
    return None


def _load(builder, key: str, device):
    """Build a model with its COCO weights from the hub cache; its record {file, sha256}."""
    state, record = weights.load_published(key)
    meta = weights.published(key).meta
    model = builder(weights=None, weights_backbone=None, num_classes=len(meta["categories"]))
    model.load_state_dict(state)
    return model.eval().to(device), record


def best_person(out: dict, min_score: float) -> int | None:
    """Index of the highest-scoring person detection at or above min_score in one model output."""
    ok = (out["labels"] == PERSON) & (out["scores"] >= min_score)
    if not bool(ok.any()):
        return None
    return int(np.flatnonzero(ok.cpu().numpy())[int(out["scores"][ok].argmax())])


def convert(mask_out: dict, kp_out: dict, size: tuple[int, int], min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """COCO keypoints (17, 3) and boolean mask (h, w) of one image from the two models' outputs."""
    h, w = size
    m = best_person(mask_out, min_score)
    mask = mask_out["masks"][m, 0].cpu().numpy() > 0.5 if m is not None else np.zeros((h, w), bool)
    k = best_person(kp_out, min_score)
    if k is None:
        return coco.missing(), mask
    xy = kp_out["keypoints"][k, :, :2].cpu().numpy()
    conf = 1.0 / (1.0 + np.exp(-kp_out["keypoints_scores"][k].cpu().numpy()))
    kps = np.column_stack([xy, conf]).astype(np.float32)
    outside = (xy[:, 0] < 0) | (xy[:, 0] >= w) | (xy[:, 1] < 0) | (xy[:, 1] >= h)
    return coco.mark_missing(kps, outside), mask


def label(df: pd.DataFrame, meta: dict, cfg: dict) -> tuple[Labels, dict]:
    import torch
    from PIL import Image
    from torchvision.models import detection as det
    from torchvision.transforms.functional import pil_to_tensor

    device = cfg["device"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    mask_model, mask_file = _load(det.maskrcnn_resnet50_fpn, "coco:maskrcnn", device)
    kp_model, kp_file = _load(det.keypointrcnn_resnet50_fpn, "coco:keypointrcnn", device)
    kps, masks = [], []
    with torch.inference_mode():
        for start in range(0, len(df), BATCH):
            batch = []
            for p in df.abspath.iloc[start:start + BATCH]:
                with Image.open(p) as im:
                    batch.append(pil_to_tensor(im.convert("RGB")).float().div(255).to(device))
            for img, mo, ko in zip(batch, mask_model(batch), kp_model(batch)):
                k, m = convert(mo, ko, tuple(img.shape[1:]), cfg["min_score"])
                kps.append(k)
                masks.append(m)
    info = {"versions": versions("torch", "torchvision"), "device": device,
            "model_sha256": {r["file"]: r["sha256"] for r in (mask_file, kp_file)}}
    return Labels(list(df.path), np.array(kps, np.float32).reshape(-1, coco.K, 3), PackedMasks.pack(masks)), info
