"""Outputs appear complete or not at all: write to a temporary sibling, then rename.

A temporary is `.<name>.tmp-<pid>`; one left by a killed writer is removed by the next write of the
same output. A full disk (or quota) stops the write with one line naming the output, the previous
content untouched.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
from pathlib import Path

from attnreid.errors import InputError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    Works for files and directories; on failure the temporary is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        _remove(stale)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as err:
        if err.errno in NO_SPACE:
            raise InputError(f"{path}: cannot write it: {os.strerror(err.errno).lower()} (left as it was)") from None
        raise
    finally:
        _remove(tmp)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
