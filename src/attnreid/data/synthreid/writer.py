"""Atomic output: files go to `<out_dir>.tmp-<pid>`, which replaces out_dir only once complete.

Layout (Market-1501 plus annotations):
  bounding_box_train/ bounding_box_test/ query/ [gt_bbox/] [partial_query/]   *.jpg
  annotations/masks/<split dir>/<stem>.png   mode "1" person mask, same size as the image
  annotations/keypoints.csv                  path, then <kp>_x, <kp>_y, <kp>_v for 17 COCO keypoints
  manifest.json                              config, counts, file-list and content sha256
Nothing in it depends on time, paths or order of writing: identical configs give identical bytes
(given the same numpy and Pillow versions, which encode the JPEG/PNG bytes).
"""
from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from types import TracebackType

import numpy as np
from PIL import Image

from attnreid.data.synthreid.body import KEYPOINTS

MASK_DIR, KEYPOINTS_CSV, MANIFEST = "annotations/masks", "annotations/keypoints.csv", "manifest.json"


def keypoints_header() -> list[str]:
    return ["path"] + [f"{k}_{c}" for k in KEYPOINTS for c in "xyv"]


class DatasetWriter:
    """Context manager: `add` images, then `commit(manifest)`; an exception removes the tmp dir."""

    def __init__(self, out_dir: str | Path, jpeg_quality: int):
        self.out = Path(out_dir)
        self.tmp = self.out.with_name(f"{self.out.name}.tmp-{os.getpid()}")
        self.quality = jpeg_quality
        self.digests: dict[str, str] = {}
        self.keypoint_rows: dict[str, str] = {}
        self._dirs: set[Path] = set()

    def __enter__(self) -> DatasetWriter:
        for stale in self.out.parent.glob(f"{glob.escape(self.out.name)}.tmp-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _write(self, rel: str, data: bytes) -> None:
        path = self.tmp / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        path.write_bytes(data)
        self.digests[rel] = hashlib.sha256(data).hexdigest()

    def add(self, rel: str, image: Image.Image, mask: Image.Image, keypoints: np.ndarray) -> None:
        """Write `rel` (e.g. query/0001_c1s1_000151_00.jpg), its mask PNG and its keypoint row."""
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=self.quality)
        self._write(rel, buf.getvalue())
        buf = io.BytesIO()
        mask.save(buf, "PNG")
        self._write(f"{MASK_DIR}/{rel.rsplit('.', 1)[0]}.png", buf.getvalue())
        cells = (f"{x:.2f},{y:.2f},{v:.0f}" for x, y, v in keypoints.tolist())
        self.keypoint_rows[rel] = ",".join([rel, *cells])

    def commit(self, manifest: dict) -> dict:
        """Write keypoints.csv and manifest.json, then swap the tmp dir into out_dir."""
        lines = [",".join(keypoints_header())] + [self.keypoint_rows[k] for k in sorted(self.keypoint_rows)]
        self._write(KEYPOINTS_CSV, ("\n".join(lines) + "\n").encode())
        paths = sorted(self.digests)
        manifest = {**manifest, "num_files": len(paths) + 1,
                    "files_sha256": hashlib.sha256("\n".join(paths).encode()).hexdigest(),
                    "content_sha256": hashlib.sha256(
                        "".join(f"{p}\t{self.digests[p]}\n" for p in paths).encode()).hexdigest()}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        old = self.out.with_name(f"{self.out.name}.old-{os.getpid()}")
        if self.out.exists():
            os.replace(self.out, old)
        try:
            os.replace(self.tmp, self.out)
        except OSError:
            if old.exists():
                os.replace(old, self.out)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return manifest
