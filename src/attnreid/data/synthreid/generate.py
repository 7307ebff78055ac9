"""generate(): plan the images, render every shot, write the dataset atomically."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from attnreid.data.synthreid.config import SynthConfig
from attnreid.data.synthreid.plan import GALLERY, GT_BBOX, PARTIAL, QUERY, TRAIN, Plan, make_plan
from attnreid.data.synthreid.scene import Crop, Studio, clear_outside
from attnreid.data.synthreid.seeds import Stream, stream
from attnreid.data.synthreid.writer import DatasetWriter

VERSION = 1
PARTS = ("upper", "left", "right")


def partial_view(crop: Crop, rng: np.random.Generator) -> Crop:
    """The upper, left or right 50-75 % (image sides) of a query crop, kept at the cropped aspect
    (as Partial-REID's probes; resizing is the loader's job)."""
    w, h = crop.image.size
    part, f = PARTS[int(rng.integers(len(PARTS)))], rng.uniform(0.5, 0.75)
    box = {"upper": (0, 0, w, round(h * f)), "left": (0, 0, round(w * f), h),
           "right": (w - round(w * f), 0, w, h)}[part]
    kps = crop.keypoints.copy()
    kps[:, 0] -= box[0]
    size = (box[2] - box[0], box[3] - box[1])
    return Crop(crop.image.crop(box), crop.mask.crop(box), clear_outside(kps, size))


def counts(cfg: SynthConfig, plan: Plan) -> dict[str, int]:
    """Image/identity counts per split; gallery_images includes distractors and junk."""
    n = Counter(s.split for s in plan.shots)
    extras = Counter(s.pid for s in plan.shots if s.split == GALLERY and s.pid <= 0)
    partial = n[QUERY] if cfg.partial_query else 0
    return {
        "images": len(plan.shots) + partial,
        "train_images": n[TRAIN], "train_ids": len(plan.train_pids),
        "query_images": n[QUERY], "query_ids": len({s.pid for s in plan.shots if s.split == QUERY}),
        "gallery_images": n[GALLERY], "gallery_ids": len(plan.test_pids),
        "distractor_images": extras[0], "junk_images": extras[-1],
        "gt_bbox_images": n[GT_BBOX], "partial_query_images": partial,
    }


def generate(out_dir: str | Path, cfg: SynthConfig) -> dict:
    """Write the dataset for `cfg` to out_dir (replacing it) and return its manifest."""
    plan = make_plan(cfg)
    studio = Studio(cfg)
    with DatasetWriter(out_dir, cfg.jpeg_quality) as out:
        for shot in plan.shots:
            crop = studio.shoot(shot.ident, shot.cam, shot.frame, shot.mode)
            out.add(shot.path, crop.image, crop.mask, crop.keypoints)
            if cfg.partial_query and shot.split == QUERY:
                rng = stream(cfg.seed, Stream.PARTIAL, shot.ident, shot.cam, shot.frame)
                part = partial_view(crop, rng)
                out.add(f"{PARTIAL}/{shot.name}", part.image, part.mask, part.keypoints)
        return out.commit({"format": "market1501", "generator": "attnreid.data.synthreid", "version": VERSION,
                           "config": cfg.to_dict(), "counts": counts(cfg, plan)})
