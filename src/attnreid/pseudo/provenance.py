"""What made a pseudo-label folder: file checksums and package versions for provenance.json."""
from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of `packages` (of this interpreter) and of Python."""
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out
