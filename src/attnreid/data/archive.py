"""Extract a dataset archive (.zip, .tar, .tar.gz/.tgz) into its root, all or nothing.

Members are read in full while extracting (zip CRCs are checked), so a truncated or corrupt
archive stops with one line naming it and leaves no root behind. A single top-level folder (as
in Market-1501-v15.09.15.zip) is stripped: its content becomes the root.
"""
from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

from attnreid.atomic import atomic_path
from attnreid.errors import InputError


def extract(archive: str | Path, root: str | Path) -> Path:
    archive, root = Path(archive), Path(root)
    with atomic_path(root) as tmp:
        tmp.mkdir()
        try:
            _unpack(archive, tmp)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
            raise InputError(f"{archive}: truncated or corrupt archive ({err})") from None
        entries = list(tmp.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            inner = tmp.with_name(tmp.name + "-inner")
            os.replace(entries[0], inner)
            tmp.rmdir()
            os.replace(inner, tmp)
    return root


def _unpack(archive: Path, dest: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():  # extract() reads each member fully: a bad CRC raises
                zf.extract(member, dest)
    elif archive.name.endswith((".tar", ".tar.gz", ".tgz")):
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    else:
        raise InputError(f"{archive}: not a .zip, .tar or .tar.gz archive")
