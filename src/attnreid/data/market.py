"""Folder layouts: one folder per split, identity and camera in each file name -> index rows.

One scanner serves every dataset laid out like Market-1501; a `Layout` says its folders and its
file-name pattern (named groups `pid` and `cam`, or a fixed camera per folder). Junk (pid -1) is
kept here so that counts match the published ones (which count the files); `prepare` drops it.
A name that does not match stops with one line naming the file and the expected pattern.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from attnreid.errors import InputError

IGNORED = {"Thumbs.db", ".DS_Store"}
MARKET_SPLITS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}


@dataclass(frozen=True)
class Layout:
    name: str
    pattern: re.Pattern
    template: str  # the pattern as a reader would write it, for error messages
    splits: dict[str, str]  # split -> folder, each required
    optional: dict[str, str] = field(default_factory=dict)  # split -> folder, indexed when present
    cams: dict[str, int] = field(default_factory=dict)  # split -> camera, for names without one


# Market-1501 v15.09.15: PPPP_cCsS_FFFFFF_BB.jpg (pid -1 junk, 0000 distractor; camera C, sequence S,
# frame, box). The release names 38 files `*.jpg.jpg` (mostly pid 1488); they are accepted as they are.
MARKET = Layout(
    "Market-1501",
    re.compile(r"^(?P<pid>-1|\d{4})_c(?P<cam>\d)s(?P<seq>\d)_(?P<frame>\d{6})_(?P<box>\d{2})\.jpg(\.jpg)?$"),
    "PPPP_cCsS_FFFFFF_BB.jpg",
    MARKET_SPLITS,
    optional={"gt_bbox": "gt_bbox", "partial_query": "partial_query"},
)
# DukeMTMC-reID (Zheng et al. 2017): PPPP_cC_fFFFFFFF.jpg, 8 cameras, no junk files.
DUKE = Layout("DukeMTMC-reID", re.compile(r"^(?P<pid>\d{4})_c(?P<cam>\d)_f(?P<frame>\d{7})\.jpg$"),
              "PPPP_cC_fFFFFFFF.jpg", MARKET_SPLITS)
# Partial-REID and Partial-iLIDS (Zheng et al. ICCV 2015): test-only, PPP[_NN].jpg.
# Their releases name no camera: partial probes are camera 1 and whole-body gallery images camera 2.
PARTIAL_NAME = re.compile(r"^(?P<pid>\d{3})(_(?P<shot>\d{1,3}))?\.jpg$")
PARTIAL_REID = Layout("Partial-REID", PARTIAL_NAME, "PPP_NN.jpg",
                      {"query": "partial_body_images", "gallery": "whole_body_images"},
                      cams={"query": 1, "gallery": 2})
PARTIAL_ILIDS = Layout("Partial-iLIDS", PARTIAL_NAME, "PPP.jpg", {"query": "Probe", "gallery": "Gallery"},
                       cams={"query": 1, "gallery": 2})


def cuhk03_np(variant: str) -> Layout:
    """CUHK03-NP Market-format release (Zhong et al. 2017): <variant>/<split folder>/PPPP_cC_N.png, C in {1, 2}."""
    return Layout(f"CUHK03-NP {variant}", re.compile(r"^(?P<pid>\d{4})_c(?P<cam>[12])_(?P<shot>\d{1,2})\.png$"),
                  "PPPP_cC_N.png", {s: f"{variant}/{f}" for s, f in MARKET_SPLITS.items()})


def parse_name(path: Path, layout: Layout = MARKET) -> dict:
    m = layout.pattern.match(path.name)
    if not m:
        raise InputError(f"{path}: file name does not match the {layout.name} pattern {layout.template}")
    return {k: int(v) for k, v in m.groupdict().items() if v is not None}


def scan(root: str | Path, layout: Layout = MARKET) -> pd.DataFrame:
    """Index every image of a layout's split folders under `root` (junk included)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root does not exist")
    rows = []
    for split, folder in {**layout.splits, **layout.optional}.items():
        d = root / folder
        if not d.is_dir():
            if split in layout.splits:
                raise InputError(f"{d}: missing split folder '{folder}'")
            continue
        for f in sorted(d.iterdir()):
            if f.name in IGNORED:
                continue
            rec = parse_name(f, layout)
            camid = rec.pop("cam", layout.cams.get(split))
            rows.append({"path": f"{folder}/{f.name}", "pid": rec.pop("pid"), "camid": camid, "split": split, **rec})
    return pd.DataFrame(rows, columns=["path", "pid", "camid", "split"] + _extras(rows))


def _extras(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in rows for k in r if k not in ("path", "pid", "camid", "split")))
