"""MSMT17_V1 (Wei et al. CVPR 2018): the release's list files -> index rows.

`list_train.txt` + `list_val.txt` (images under train/) form the training set, as in the paper's
32,621 training images; `list_query.txt` and `list_gallery.txt` index test/. A line is
`PPPP/PPPP_NNN_CC_DDDDtime_FFFF_K.jpg LABEL`; the camera is CC (1-15). Labels start at 0 in both
halves; the index shifts them by +1 because pid 0 means "distractor" in the common index.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from attnreid.errors import InputError

LISTS = {"train": ("train", ("list_train.txt", "list_val.txt")),
         "query": ("test", ("list_query.txt",)),
         "gallery": ("test", ("list_gallery.txt",))}
NAME = re.compile(r"^\d{4}/\d{4}_(?P<shot>\d{3})_(?P<cam>\d{2})_\d{4}(morning|noon|afternoon)"
                  r"_(?P<frame>\d{4})_\d+\.jpg$")
TEMPLATE = "PPPP/PPPP_NNN_CC_DDDD{morning,noon,afternoon}_FFFF_K.jpg LABEL"


def scan(root: str | Path) -> pd.DataFrame:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root does not exist")
    rows = []
    for split, (folder, lists) in LISTS.items():
        if not (root / folder).is_dir():
            raise InputError(f"{root / folder}: missing split folder '{folder}'")
        for name in lists:
            rows += _read_list(root / name, folder, split)
    return pd.DataFrame(rows, columns=["path", "pid", "camid", "split", "shot", "frame"])


def _read_list(list_path: Path, folder: str, split: str) -> list[dict]:
    if not list_path.is_file():
        raise InputError(f"{list_path}: list file not found")
    rows = []
    for lineno, line in enumerate(list_path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        m = NAME.match(parts[0]) if len(parts) == 2 and parts[1].isdigit() else None
        if not m:
            raise InputError(f"{list_path}:{lineno}: line does not match the MSMT17 pattern {TEMPLATE}")
        rows.append({"path": f"{folder}/{parts[0]}", "pid": int(parts[1]) + 1, "camid": int(m["cam"]),
                     "split": split, "shot": int(m["shot"]), "frame": int(m["frame"])})
    return rows
