"""Bring a real dataset's root into being: from an archive the user placed, or from a public URL.

The archive is `datasets.<name>.archive`, by default `<root>.zip` (e.g.
data/raw/Market-1501-v15.09.15.zip, the official file name). Nothing is extracted unverified:
`sha256` must be pinned in params, for a download as for an archive the user placed (DVC then
tracks the archive: see README). A root that exists is left as it is; prepare checks it.
"""
from __future__ import annotations

from pathlib import Path

from attnreid.data import archive as archive_io
from attnreid.data.datasets import resolve
from attnreid.data.download import download, sha256_file, verify
from attnreid.errors import InputError


def fetch_dataset(name: str, cfg: dict) -> Path:
    """Make `cfg['root']` exist (download and/or extract the pinned archive); return it."""
    kind, _ = resolve(name, cfg)
    key = f"params.yaml: datasets.{name}"
    if kind.stats is None:
        raise InputError(f"{key}.kind: {cfg['kind']} is {kind.source}, not fetched")
    if "root" not in cfg:
        raise InputError(f"{key}.root: missing")
    root = Path(cfg["root"])
    if root.is_dir():
        return root
    arch = Path(cfg.get("archive") or f"{root}.zip")
    sha, url = cfg.get("sha256"), cfg.get("url")
    if not arch.is_file():
        if not url:
            raise InputError(f"{arch}: not found; place {arch.name} in {arch.parent}/ (expected sha256: "
                             f"{sha or 'none pinned'}; {kind.source}) or point {key}.root at an extracted copy")
        if not sha:
            raise InputError(f"{key}.sha256: no checksum pinned for {url}; refusing to download unverified data")
        download(url, arch, sha)
    elif not sha:
        raise InputError(f"{key}.sha256: no checksum pinned for {arch} (its sha256 is {sha256_file(arch)}; "
                         f"pin it if this copy is the one you trust)")
    else:
        verify(arch, sha)
    return archive_io.extract(arch, root)
