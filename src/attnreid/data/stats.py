"""Published statistics of each real dataset, and the check of a scanned index against them.

Counts are of files as released, before junk is dropped: Market-1501's 19,732 gallery images
include its 3,819 junk and 2,798 distractor files. `ids` counts distinct pids of a split. A
split or field left out is not checked. `cameras` counts distinct camids over all splits (for
CUHK03, the two views of a camera pair; for the partial sets, probe vs gallery).
`tree_sha256` pins the content digest of the released files (see `tree_digest`), where a
public copy was at hand to compute it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from attnreid.errors import InputError


@dataclass(frozen=True)
class Published:
    name: str
    source: str
    splits: dict[str, dict[str, int]]  # split -> {"images": n, "ids": n}
    cameras: int | None = None
    tree_sha256: str | None = None


def _np(variant: str, train: int, gallery: int) -> Published:
    return Published(f"CUHK03-NP {variant}", "Zhong et al. CVPR 2017, CUHK03-NP readme",
                     {"train": {"images": train, "ids": 767}, "query": {"images": 1400, "ids": 700},
                      "gallery": {"images": gallery, "ids": 700}}, cameras=2)


# Keyed by kind, or kind/variant. Tests monkeypatch entries to check tiny fakes.
PUBLISHED: dict[str, Published] = {
    "market1501": Published(
        "Market-1501-v15.09.15", "Zheng et al. ICCV 2015 and the release's readme.txt",
        {"train": {"images": 12936, "ids": 751}, "query": {"images": 3368, "ids": 750},
         "gallery": {"images": 19732}, "gt_bbox": {"images": 25259, "ids": 1501}},
        cameras=6,
        # Of the four image folders, computed from the complete public copy in
        # github.com/sybernix/market1501 (commit d7cfaf10b), whose counts are all the published ones.
        tree_sha256="93d0039f6e2865282e7770d592b28bc8ab5a6646223abf8aac43f3e4f86ec06c",
    ),
    "dukemtmc": Published(
        "DukeMTMC-reID", "Zheng et al. ICCV 2017 (702 ids train, 702 query ids + 408 distractor ids in the gallery)",
        {"train": {"images": 16522, "ids": 702}, "query": {"images": 2228, "ids": 702},
         "gallery": {"images": 17661, "ids": 1110}},
        cameras=8,
    ),
    "cuhk03_np/labeled": _np("labeled", 7368, 5328),
    "cuhk03_np/detected": _np("detected", 7365, 5332),
    "cuhk03_classic": Published(
        "CUHK03 classic split", "Li et al. CVPR 2014 (1,467 ids; 100 test ids per split; single-shot)",
        {"train": {"ids": 1367}, "query": {"images": 100, "ids": 100}, "gallery": {"images": 100, "ids": 100}},
        cameras=2,
    ),
    "msmt17": Published(
        "MSMT17_V1", "Wei et al. CVPR 2018 (train = list_train + list_val)",
        {"train": {"images": 32621, "ids": 1041}, "query": {"images": 11659, "ids": 3060},
         "gallery": {"images": 82161, "ids": 3060}},
        cameras=15,
    ),
    "partial_reid": Published(
        "Partial-REID", "Zheng et al. ICCV 2015 (60 persons, 5 partial and 5 whole-body images each)",
        {"query": {"images": 300, "ids": 60}, "gallery": {"images": 300, "ids": 60}}, cameras=2,
    ),
    "partial_ilids": Published(
        "Partial-iLIDS", "Zheng et al. ICCV 2015 (119 persons, one probe and one gallery image each)",
        {"query": {"images": 119, "ids": 119}, "gallery": {"images": 119, "ids": 119}}, cameras=2,
    ),
}


def lookup(kind: str, variant: str | None = None) -> Published:
    return PUBLISHED[f"{kind}/{variant}" if f"{kind}/{variant}" in PUBLISHED else kind]


def counts(df: pd.DataFrame) -> dict:
    """{split: {images, ids}} and the camera count of a scanned index."""
    out = {s: {"images": int(len(g)), "ids": int(g.pid.nunique())} for s, g in df.groupby("split")}
    return {"splits": out, "cameras": int(df.camid.nunique())}


def check(df: pd.DataFrame, published: Published, where: str, skip_key: str) -> None:
    """Raise one line listing every count that differs from the published one (`skip_key` turns it off)."""
    got = counts(df)
    diffs = []
    for split, want in published.splits.items():
        have = got["splits"].get(split, {"images": 0, "ids": 0})
        diffs += [f"{split} {field} {have[field]} != {n}" for field, n in want.items() if have[field] != n]
    if published.cameras is not None and got["cameras"] != published.cameras:
        diffs.append(f"cameras {got['cameras']} != {published.cameras}")
    if diffs:
        raise InputError(f"{where}: counts differ from the published statistics of {published.name} "
                         f"({published.source}): {'; '.join(diffs)} (a subset or another release? "
                         f"params.yaml {skip_key}: false skips this check)")


def tree_digest(files: list[tuple[str, str]]) -> str:
    r"""sha256 over sorted `relative path<TAB>sha256 of its bytes` lines: the content of a release.

    In a shell, in the root: `find <folders> -type f ! -name Thumbs.db | xargs sha256sum |
    awk '{print $2"\t"$1}' | LC_ALL=C sort | sha256sum`.
    """
    h = hashlib.sha256()
    for rel, digest in sorted(files):
        h.update(f"{rel}\t{digest}\n".encode())
    return h.hexdigest()
