"""Decode once: every image of an index, resized to one input size, in one uint8 array.

`work/<profile>/cache/<dataset>/<H>x<W>.npy` holds uint8 [N, H, W, 3], one row per index row
(index.csv order); `<H>x<W>.json` beside it names each row's path and its original (height,
width), which the keypoints and masks of DAAF's pseudo-labels are scaled from. The resize is
PIL's bicubic, as torchvision's `Resize` does on a PIL image, so training, validation and
extraction see the very pixels the per-image path made every epoch. The stage is shared by every
cell of that dataset and size; a corrupt image stops it with one line naming the file, and
nothing is left (the array is written to a temporary and renamed; the json goes last).
Readers memory-map the array. Without a cache file (tests, figures) the same decode runs in memory.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from attnreid.atomic import atomic_path
from attnreid.data import index as index_io
from attnreid.errors import InputError


def paths(cache_dir: str | Path, dataset: str, height: int, width: int) -> tuple[str, str]:
    """The (array, rows json) files of a dataset's cache at one input size."""
    base = Path(cache_dir) / dataset / f"{height}x{width}"
    return str(base.with_suffix(".npy")), str(base.with_suffix(".json"))


def decode(path: str, height: int, width: int) -> tuple[np.ndarray, tuple[int, int]]:
    """One image as uint8 [H, W, 3] resized bicubic, and its original (height, width)."""
    try:
        with Image.open(path) as im:
            img = im.convert("RGB")
    except OSError:
        raise InputError(f"{path}: unreadable or corrupt image") from None
    size = (img.height, img.width)
    if size != (height, width):
        img = img.resize((width, height), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8), size


def _fill(out: np.ndarray, files: list[str], height: int, width: int, threads: int) -> np.ndarray:
    """Decode `files` into `out` (rows in order) with `threads` threads (PIL releases the GIL);
    returns the original sizes [N, 2]."""
    sizes = np.zeros((len(files), 2), np.int32)

    def one(i: int) -> None:
        out[i], sizes[i] = decode(files[i], height, width)

    with ThreadPoolExecutor(max(1, threads)) as pool:
        for _ in pool.map(one, range(len(files))):
            pass
    return sizes


def build(index_csv: str | Path, height: int, width: int, out_npy: str | Path, threads: int = 1) -> None:
    """Write the cache of an index at (height, width): the array, then the json (atomically each)."""
    df, _ = index_io.read(index_csv)
    out_npy = Path(out_npy)
    with atomic_path(out_npy) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(df), height, width, 3))
        sizes = _fill(arr, df.abspath.tolist(), height, width, threads)
        arr.flush()
        del arr
    rows = {"height": height, "width": width, "paths": df.path.tolist(), "sizes": sizes.tolist()}
    with atomic_path(out_npy.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(rows))


@dataclass
class Images:
    """Decoded images of an index: `array` uint8 [N, H, W, 3] (memory-mapped when read from a
    cache file), their index `paths` and original `sizes` [N, 2] (height, width)."""

    array: np.ndarray
    paths: list[str]
    sizes: np.ndarray

    def rows(self, paths) -> np.ndarray:
        """Row numbers of the given index paths."""
        where = {p: i for i, p in enumerate(self.paths)}
        try:
            return np.array([where[p] for p in paths], dtype=np.int64)
        except KeyError as err:
            raise InputError(f"image cache: no row for {err.args[0]} (stale cache: rerun the cache stage)") from None


def load(index_csv: str | Path, height: int, width: int, cache_npy: str | Path | None = None,
         threads: int = 1) -> Images:
    """The index's images at (height, width): memory-mapped from `cache_npy` (checked against the
    index), or decoded in memory when it is None."""
    df, _ = index_io.read(index_csv)
    if cache_npy is None:
        arr = np.empty((len(df), height, width, 3), np.uint8)
        return Images(arr, df.path.tolist(), _fill(arr, df.abspath.tolist(), height, width, threads))
    npy = Path(cache_npy)
    meta_file = npy.with_suffix(".json")
    for f in (npy, meta_file):
        if not f.is_file():
            raise InputError(f"{f}: image cache not found (run the cache stage)")
    meta = json.loads(meta_file.read_text())
    arr = np.load(npy, mmap_mode="r")
    if arr.shape != (len(meta["paths"]), height, width, 3) or (meta["height"], meta["width"]) != (height, width):
        raise InputError(f"{npy}: holds {arr.shape}, expected {len(meta['paths'])} images at {height}x{width}")
    if meta["paths"] != df.path.tolist():
        raise InputError(f"{npy}: its rows are not those of {index_csv} (stale cache: rerun the cache stage)")
    return Images(arr, meta["paths"], np.asarray(meta["sizes"], np.int32).reshape(-1, 2))
