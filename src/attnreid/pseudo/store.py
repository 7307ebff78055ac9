"""The pseudo-label folder, work/<profile>/pseudo/<dataset>/, read and written.

  provenance.json  backend, versions, model file sha256, parameters (always; alone for `none`)
  quality.json     detection rate, mean confidence, no-person share; vs ground truth if any
  keypoints.csv    path, then <name>_x, <name>_y, <name>_c per COCO keypoint (coco.NAMES order);
                   a missing keypoint has empty x, y and c = 0
  masks.npz        the person masks, one bit per pixel (see attnreid.pseudo.masks)
  overlay.png      a grid of images with their masks and keypoints drawn
Rows of keypoints.csv and masks.npz follow the index, one per image.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from attnreid.errors import InputError
from attnreid.pseudo import coco
from attnreid.pseudo.masks import PackedMasks

COLUMNS = ["path"] + [f"{n}_{a}" for n in coco.NAMES for a in "xyc"]


@dataclass
class Labels:
    """Per image of an index: path, (17, 3) keypoints (x, y, c; missing NaN, NaN, 0), mask."""

    paths: list[str]
    keypoints: np.ndarray
    masks: PackedMasks

    def __post_init__(self):
        if not (len(self.paths) == len(self.keypoints) == len(self.masks)):
            raise ValueError(f"{len(self.paths)} paths, {len(self.keypoints)} keypoint rows, {len(self.masks)} masks")


def write(folder: str | Path, labels: Labels) -> None:
    folder = Path(folder)
    flat = labels.keypoints.reshape(len(labels.paths), -1)
    df = pd.DataFrame(flat, columns=COLUMNS[1:])
    df.insert(0, "path", labels.paths)
    df.to_csv(folder / "keypoints.csv", index=False, float_format="%.3f")
    labels.masks.save(folder / "masks.npz", labels.paths)


def read(folder: str | Path) -> Labels:
    """Load keypoints.csv and masks.npz of a pseudo-label folder, checking they agree."""
    folder = Path(folder)
    csv, npz = folder / "keypoints.csv", folder / "masks.npz"
    for f in (csv, npz):
        if not f.is_file():
            raise InputError(f"{f}: missing (run the pseudo_labels stage with a backend other than none)")
    df = pd.read_csv(csv)
    if list(df.columns) != COLUMNS:
        raise InputError(f"{csv}: columns are not path + <name>_x/_y/_c for the 17 COCO keypoints")
    masks, paths = PackedMasks.load(npz)
    if paths != df.path.tolist():
        raise InputError(f"{npz}: its paths do not match {csv.name}")
    kps = df[COLUMNS[1:]].to_numpy(np.float32).reshape(len(df), coco.K, 3)
    return Labels(paths, kps, masks)


def write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def read_json(folder: str | Path, name: str) -> dict:
    return json.loads((Path(folder) / name).read_text())
