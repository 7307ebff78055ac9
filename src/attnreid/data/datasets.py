"""The `prepare` stage: any dataset kind -> the common index (see attnreid.data.index).

Every prepare checks, each an error naming the file or params key: the layout (split folders,
file-name patterns), that no split is empty, no junk or distractor in train or query, every
query identity in the gallery, every image decoding; for real kinds also the counts against the
published statistics (stats.PUBLISHED) and, where one is pinned, the content digest of the
release. Junk (pid -1) is dropped after the checks; meta.json records the content digest.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from attnreid.data import cuhk03, index, market, msmt17, stats
from attnreid.errors import InputError

VARIANTS = ("labeled", "detected")
FULL = ("train", "query", "gallery")


@dataclass(frozen=True)
class Kind:
    scan: Callable[..., pd.DataFrame]  # scan(root, **options) -> rows, junk included
    stats: str | None  # key of stats.PUBLISHED (+ "/<variant>" where it has one); None: not count-checked
    source: str  # where the data comes from, for the message asking a user to place it
    options: tuple[str, ...] = ()  # params keys the scanner takes: variant, split
    splits: tuple[str, ...] = FULL  # splits that must not be empty


def _cuhk03_np(root: Path, variant: str) -> pd.DataFrame:
    return market.scan(root, market.cuhk03_np(variant))


def _synthreid(root: Path, partial: bool = False) -> pd.DataFrame:
    """A synthreid folder; `partial`: a Partial-REID-shaped test set whose queries are the partial views
    (partial_query/) of the generator's queries, against its holistic gallery."""
    df = market.scan(root)
    if not partial:
        return df
    if not (df.split == "partial_query").any():
        raise InputError(f"{root}: no partial_query/ images for a `partial: true` dataset "
                         "(set synth.partial_query: true)")
    df = df[df.split != "query"].copy()
    df.loc[df.split == "partial_query", "split"] = "query"
    return df.reset_index(drop=True)


KINDS: dict[str, Kind] = {
    "synthreid": Kind(_synthreid, None, "made by the synthesize stage", ("partial",)),
    "market1501": Kind(market.scan, "market1501", "the official release of Zheng et al. 2015"),
    "dukemtmc": Kind(partial(market.scan, layout=market.DUKE), "dukemtmc",
                     "withdrawn by its authors in 2019, there is no download: place your own copy"),
    "cuhk03_np": Kind(_cuhk03_np, "cuhk03_np", "the CUHK03-NP release of Zhong et al. 2017", ("variant",)),
    "cuhk03_np_mat": Kind(cuhk03.scan_np, "cuhk03_np", "cuhk03_release.zip of Li et al. 2014 plus the "
                          "CUHK03-NP protocol files", ("variant",)),
    "cuhk03_classic": Kind(cuhk03.scan_classic, "cuhk03_classic", "cuhk03_release.zip of Li et al. 2014",
                           ("variant", "split")),
    "msmt17": Kind(msmt17.scan, "msmt17", "licensed by its authors (Wei et al. 2018): request it and place it"),
    "partial_reid": Kind(partial(market.scan, layout=market.PARTIAL_REID), "partial_reid",
                         "the Partial-REID release of Zheng et al. 2015", splits=("query", "gallery")),
    "partial_ilids": Kind(partial(market.scan, layout=market.PARTIAL_ILIDS), "partial_ilids",
                          "the Partial-iLIDS release of Zheng et al. 2015", splits=("query", "gallery")),
}


def resolve(name: str, cfg: dict) -> tuple[Kind, dict]:
    """The kind of `datasets.<name>` and the scanner options it sets (validated)."""
    key = f"params.yaml: datasets.{name}"
    kind = KINDS.get(cfg.get("kind"))
    if kind is None:
        raise InputError(f"{key}.kind: unknown dataset kind '{cfg.get('kind')}'")
    for opt in ("variant", "split", "partial"):
        if opt in cfg and opt not in kind.options:
            raise InputError(f"{key}.{opt}: not used by kind {cfg['kind']}")
    opts = {}
    if "variant" in kind.options:
        if cfg.get("variant") not in VARIANTS:
            raise InputError(f"{key}.variant: expected one of {list(VARIANTS)}, got {cfg.get('variant')!r}")
        opts["variant"] = cfg["variant"]
    if "split" in kind.options:
        opts["split"] = cfg.get("split", 0)
        if not isinstance(opts["split"], int) or opts["split"] < 0:
            raise InputError(f"{key}.split: expected an integer >= 0, got {opts['split']!r}")
    if "partial" in kind.options and "partial" in cfg:
        if not isinstance(cfg["partial"], bool):
            raise InputError(f"{key}.partial: expected true or false, got {cfg['partial']!r}")
        opts["partial"] = cfg["partial"]
    return kind, opts


def check_images(root: Path, paths) -> str:
    """Every image must decode (the first that does not stops the run, named); return the content digest."""
    files = []
    for rel in tqdm(paths, desc="checking images", leave=False, mininterval=2):
        try:
            data = (root / rel).read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        except (OSError, UnidentifiedImageError, SyntaxError):
            raise InputError(f"{root / rel}: missing, unreadable or corrupt image") from None
        files.append((rel, hashlib.sha256(data).hexdigest()))
    return stats.tree_digest(files)


def check_structure(df: pd.DataFrame, kind: Kind, root: Path) -> None:
    for split in kind.splits:
        if not (df.split == split).any():
            raise InputError(f"{root}: the {split} split is empty")
    bad = df[df.split.isin(["train", "query"]) & (df.pid <= 0)]
    if len(bad):
        raise InputError(f"{root / bad.path.iloc[0]}: junk/distractor identity in the {bad.split.iloc[0]} split")
    missing = sorted(set(df.pid[df.split == "query"]) - set(df.pid[df.split == "gallery"]))
    if missing:
        raise InputError(f"{root}: {len(missing)} query identities have no gallery image (empty identity), "
                         f"e.g. pid {missing[0]}")


def prepare(name: str, cfg: dict, root: str | Path, out_csv: str | Path) -> dict:
    """Scan `root` with the reader of cfg['kind'], check it, write the index; return its meta."""
    kind, opts = resolve(name, cfg)
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset root does not exist")
    df = kind.scan(root, **opts)
    check_structure(df, kind, root)
    published = None
    if kind.stats and cfg.get("check_counts", True):
        published = stats.lookup(kind.stats, opts.get("variant"))
        stats.check(df, published, f"{root}", f"datasets.{name}.check_counts")
    digest = check_images(root, df.path)
    if published and published.tree_sha256 and digest != published.tree_sha256:
        raise InputError(f"{root}: content digest {digest} differs from the pinned digest of {published.name} "
                         f"({published.tree_sha256}): files changed, added or missing")
    df = df[df.pid != -1].reset_index(drop=True)
    meta = {"dataset": name, "kind": cfg["kind"], "root": str(root), "content_sha256": digest, **opts}
    if (root / "annotations").is_dir():
        meta["annotations"] = "annotations"
    return index.write(df, meta, out_csv)
