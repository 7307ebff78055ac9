"""Market-1501 layout (also DukeMTMC-reID and the synthreid datasets): folders to index rows.

File names `PPPP_cCsS_FFFFFF_BB.jpg`: pid (-1 junk, 0000 distractor), camera C, sequence S,
frame, box. A name that does not match stops with one line naming the file.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from attnreid.errors import InputError

NAME = re.compile(r"^(-1|\d{4})_c(\d+)s(\d+)_(\d{6})_(\d{2})\.jpg$")
SPLITS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
OPTIONAL_SPLITS = {"gt_bbox": "gt_bbox", "partial_query": "partial_query"}
IGNORED = {"Thumbs.db", ".DS_Store"}


def parse_name(path: Path) -> dict:
    m = NAME.match(path.name)
    if not m:
        raise InputError(f"{path}: file name does not match the Market-1501 pattern PPPP_cCsS_FFFFFF_BB.jpg")
    pid, cam, seq, frame, _ = m.groups()
    return {"pid": int(pid), "camid": int(cam), "seq": int(seq), "frame": int(frame)}


def scan(root: str | Path) -> pd.DataFrame:
    """Index every image of a Market-layout root; junk (-1) is kept out of the gallery."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root does not exist")
    rows = []
    for split, folder in {**SPLITS, **OPTIONAL_SPLITS}.items():
        d = root / folder
        if not d.is_dir():
            if split in SPLITS:
                raise InputError(f"{d}: missing split folder '{folder}'")
            continue
        for f in sorted(d.iterdir()):
            if f.name in IGNORED:
                continue
            rec = parse_name(f)
            if split == "gallery" and rec["pid"] == -1:
                continue
            if split in ("train", "query") and rec["pid"] <= 0:
                raise InputError(f"{f}: junk/distractor identity in the {folder} split")
            rows.append({"path": f"{folder}/{f.name}", **rec, "split": split})
    df = pd.DataFrame(rows, columns=["path", "pid", "camid", "split", "seq", "frame"])
    for split, folder in SPLITS.items():
        if not (df.split == split).any():
            raise InputError(f"{root / folder}: split folder is empty")
    return df
