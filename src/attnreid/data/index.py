"""The one data index: a CSV of (path, pid, camid, split, ...) plus meta.json beside it.

`path` is relative to the dataset root recorded in meta.json, so an index can be moved with its
data. Splits: train, query, gallery (and gt_bbox, partial_query where a dataset has them).
pid -1 marks junk and 0 distractors, as in Market-1501.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from attnreid.atomic import atomic_path
from attnreid.errors import InputError

COLUMNS = ("path", "pid", "camid", "split")


def write(df: pd.DataFrame, meta: dict, index_csv: str | Path) -> dict:
    """Write index.csv and meta.json (with split counts) atomically, meta first; return the meta."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"index is missing columns {missing}")
    index_csv = Path(index_csv)
    counts = {s: {"images": int((df.split == s).sum()), "ids": int(df.pid[df.split == s].nunique())}
              for s in sorted(df.split.unique())}
    meta = {**meta, "counts": counts}
    with atomic_path(index_csv.with_name("meta.json")) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    with atomic_path(index_csv) as tmp:
        df.to_csv(tmp, index=False)
    return meta


def read(index_csv: str | Path) -> tuple[pd.DataFrame, dict]:
    index_csv = Path(index_csv)
    if not index_csv.is_file():
        raise InputError(f"{index_csv}: index not found (run the prepare stage)")
    meta = json.loads(index_csv.with_name("meta.json").read_text())
    df = pd.read_csv(index_csv)
    root = Path(meta["root"])
    df["abspath"] = [str(root / p) for p in df.path]
    return df, meta


def split(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df[df.split == name].reset_index(drop=True)
