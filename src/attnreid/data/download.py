"""Download with resume (HTTP Range) and a pinned sha256; nothing appears at `dest` unverified.

Bytes go to `<dest>.part`; a later call resumes it with `Range: bytes=N-` (a server that answers
200 instead of 206 sends the whole file again). Only a file whose sha256 matches is renamed onto
`dest`; a mismatching one is deleted so that the next call starts afresh.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from attnreid.errors import InputError

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, sha256: str) -> None:
    got = sha256_file(path)
    if got != sha256.lower():
        raise InputError(f"{path}: checksum mismatch: sha256 {got}, expected {sha256.lower()}")


def download(url: str, dest: str | Path, sha256: str, timeout: float = 60) -> Path:
    """Fetch `url` to `dest` (resuming a previous partial download) and verify its sha256."""
    dest = Path(dest)
    if dest.is_file():
        verify(dest, sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urlopen(request, timeout=timeout) as response:
            resumed = have and response.status == 206 and _range_start(response) == have
            expected = int(response.headers.get("Content-Length") or -1)
            with open(part, "ab" if resumed else "wb") as f:
                written = _copy(response, f)
        if written < expected:
            raise OSError(f"connection closed after {written} of {expected} bytes")
    except HTTPError as err:
        if not (err.code == 416 and have):  # 416 with a partial file: it is already complete
            raise InputError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (URLError, OSError, http.client.HTTPException) as err:
        size = part.stat().st_size if part.is_file() else 0
        raise InputError(f"{url}: download interrupted at {size} bytes ({err}); "
                         f"run again to resume from {part}") from None
    got = sha256_file(part)
    if got != sha256.lower():
        part.unlink()
        raise InputError(f"{url}: checksum mismatch: sha256 {got}, expected {sha256.lower()} (download deleted)")
    os.replace(part, dest)
    return dest


def _copy(src, dst) -> int:
    n = 0
    for block in iter(lambda: src.read(CHUNK), b""):
        dst.write(block)
        n += len(block)
    return n


def _range_start(response) -> int | None:
    m = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None
