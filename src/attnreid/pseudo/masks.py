"""Person masks stored compactly: one bit per pixel, any image size.

masks.npz (np.savez_compressed, no pickles) holds
  bits   uint8 (B,)    np.packbits of each boolean mask flattened row-major, concatenated
  shape  int32 (N, 2)  height, width of each mask (= its image)
  offset int64 (N+1,)  mask i is bits[offset[i]:offset[i+1]]
  path   str   (N,)    the index path of each mask, in keypoints.csv order
An image with no person has an all-zero mask. A Market crop (128x64) takes 1 KiB before
compression. numpy only: the mediapipe worker imports this module too.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


class PackedMasks:
    """N boolean masks, unpacked one at a time (`masks[i]`)."""

    def __init__(self, bits: np.ndarray, shape: np.ndarray, offset: np.ndarray):
        self.bits, self.shape, self.offset = bits, shape, offset

    @classmethod
    def pack(cls, masks: Iterable[np.ndarray]) -> PackedMasks:
        chunks, shapes = [], []
        for m in masks:
            m = np.asarray(m, dtype=bool)
            if m.ndim != 2:
                raise ValueError(f"a mask must be 2-D, got shape {m.shape}")
            chunks.append(np.packbits(m.ravel()))
            shapes.append(m.shape)
        offset = np.zeros(len(chunks) + 1, np.int64)
        offset[1:] = np.cumsum([len(c) for c in chunks])
        bits = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
        return cls(bits, np.array(shapes, np.int32).reshape(-1, 2), offset)

    def __len__(self) -> int:
        return len(self.shape)

    def __getitem__(self, i: int) -> np.ndarray:
        h, w = (int(v) for v in self.shape[i])
        return np.unpackbits(self.bits[self.offset[i]:self.offset[i + 1]], count=h * w).reshape(h, w).astype(bool)

    def area(self) -> np.ndarray:
        """Share of pixels inside the mask, per image."""
        return np.array([self[i].mean() if self.shape[i].prod() else 0.0 for i in range(len(self))])

    def arrays(self) -> dict[str, np.ndarray]:
        return {"bits": self.bits, "shape": self.shape, "offset": self.offset}

    def save(self, path: str | Path, paths: list[str]) -> None:
        if len(paths) != len(self):
            raise ValueError(f"{len(paths)} paths for {len(self)} masks")
        with open(path, "wb") as f:
            np.savez_compressed(f, **self.arrays(), path=np.array(paths, dtype=str))

    @classmethod
    def load(cls, path: str | Path) -> tuple[PackedMasks, list[str]]:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["bits"], z["shape"], z["offset"]), [str(p) for p in z["path"]]
