"""python -m attnreid.data.synthreid.preview DIR OUT.png: a contact sheet of a generated dataset.

For a few test identities (those seen by the most cameras) one image per camera c1..cN, each
followed by a row with the ground-truth mask tinted green and the COCO keypoints (green v=2,
orange v=1) joined by the COCO skeleton; images are shown at 2x.
"""
from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from attnreid.data.synthreid.body import KEYPOINTS
from attnreid.data.synthreid.check import NAME
from attnreid.data.synthreid.writer import KEYPOINTS_CSV, MASK_DIR

SKELETON = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
            (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
ZOOM, IDENTITIES = 2, 5


def _load(path: Path, mode: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert(mode)


def _overlay(root: Path, rel: str, kps: np.ndarray) -> Image.Image:
    img = _load(root / rel, "RGB")
    mask = _load(root / MASK_DIR / (rel.rsplit(".", 1)[0] + ".png"), "L")
    arr = np.asarray(img, np.float32)
    on = np.asarray(mask)[..., None] > 0
    arr = np.where(on, 0.5 * arr + 0.5 * np.array([0, 255, 0], np.float32), 0.5 * arr)
    out = Image.fromarray(arr.astype(np.uint8)).resize((img.width * ZOOM, img.height * ZOOM), Image.NEAREST)
    draw = ImageDraw.Draw(out)
    for a, b in SKELETON:
        if kps[a, 2] > 0 and kps[b, 2] > 0:
            draw.line((*(kps[a, :2] * ZOOM), *(kps[b, :2] * ZOOM)), fill=(255, 255, 255), width=1)
    for x, y, v in kps:
        if v > 0:
            draw.ellipse((x * ZOOM - 2, y * ZOOM - 2, x * ZOOM + 2, y * ZOOM + 2),
                         fill=(0, 255, 0) if v == 2 else (255, 150, 0))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    root, out = Path(argv[0]), Path(argv[1])
    with open(root / KEYPOINTS_CSV, newline="") as f:
        rows = {r["path"]: np.array([[float(r[f"{k}_{c}"]) for c in "xyv"] for k in KEYPOINTS]) for r in csv.DictReader(f)}
    shots: dict[int, dict[int, str]] = defaultdict(dict)
    for split in ("query", "bounding_box_test"):
        for path in sorted((root / split).iterdir()):
            m = NAME.match(path.name)
            if m and int(m.group(1)) > 0:
                shots[int(m.group(1))].setdefault(int(m.group(2)), f"{split}/{path.name}")
    chosen = sorted(shots, key=lambda p: (-len(shots[p]), p))[:IDENTITIES]
    cams = sorted({c for p in chosen for c in shots[p]})
    w, h = _load(root / next(iter(shots[chosen[0]].values())), "RGB").size
    sheet = Image.new("RGB", (len(cams) * (w * ZOOM + 4), len(chosen) * 2 * (h * ZOOM + 4)), (255, 255, 255))
    for r, pid in enumerate(chosen):
        for c, cam in enumerate(cams):
            if cam not in shots[pid]:
                continue
            rel = shots[pid][cam]
            x, y = c * (w * ZOOM + 4), 2 * r * (h * ZOOM + 4)
            sheet.paste(_load(root / rel, "RGB").resize((w * ZOOM, h * ZOOM), Image.NEAREST), (x, y))
            sheet.paste(_overlay(root, rel, rows[rel]), (x, y + h * ZOOM + 4))
    sheet.save(out)
    print(f"{out}: identities {chosen} x cameras {cams}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
