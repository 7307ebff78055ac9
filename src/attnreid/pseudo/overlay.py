"""overlay.png: a grid of images of one dataset with one backend's masks and keypoints drawn.

Chosen: up to 24 images evenly spaced through the index, each up-scaled to 256 px high; outside the
mask darkened, COCO limbs drawn between present keypoints (left side orange, right blue, face green), and
each keypoint's dot filled by its confidence. A header names the dataset and the backend.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from attnreid.pseudo import coco
from attnreid.pseudo.store import Labels

CELL_H, COLS, MAX_IMAGES, HEADER = 256, 8, 24, 28
DARKEN = 0.35
SIDE_COLORS = {"left": (255, 150, 0), "right": (40, 140, 255), "face": (60, 220, 60)}


def _color(i: int) -> tuple[int, int, int]:
    name = coco.NAMES[i]
    return SIDE_COLORS["face" if i < 5 else name.split("_")[0]]


def _cell(image: Image.Image, mask: np.ndarray, kps: np.ndarray) -> Image.Image:
    s = CELL_H / image.height
    rgb = np.asarray(image.convert("RGB"), np.float32)
    rgb[~mask] *= DARKEN
    cell = Image.fromarray(rgb.astype(np.uint8)).resize((round(image.width * s), CELL_H), Image.NEAREST)
    draw = ImageDraw.Draw(cell)
    have = kps[:, 2] > 0
    xy = kps[:, :2] * s
    for a, b in coco.SKELETON:
        if have[a] and have[b]:
            draw.line([tuple(xy[a]), tuple(xy[b])], fill=_color(b), width=3)
    for i in np.flatnonzero(have):
        x, y = xy[i]
        fill = tuple(int(v * kps[i, 2] + 255 * (1 - kps[i, 2])) for v in _color(i))
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=fill, outline=(0, 0, 0))
    return cell


def card(title: str, out_png: str | Path) -> None:
    """An overlay without images: only the header line (a backend that could not run says why)."""
    grid = Image.new("RGB", (COLS * CELL_H // 2, 2 * HEADER), (255, 255, 255))
    ImageDraw.Draw(grid).text((6, 8), title, fill=(160, 0, 0))
    grid.save(out_png)


def draw(labels: Labels, root: str | Path, title: str, out_png: str | Path) -> None:
    """Write the overlay grid of `labels` (image paths relative to `root`) to out_png."""
    n = len(labels.paths)
    rows = np.unique(np.linspace(0, n - 1, min(n, MAX_IMAGES)).round().astype(int)) if n else []
    cells = []
    for i in rows:
        with Image.open(Path(root) / labels.paths[i]) as im:
            cells.append(_cell(im, labels.masks[i], labels.keypoints[i]))
    cw = max((c.width for c in cells), default=CELL_H // 2)
    ncols = max(1, min(COLS, len(cells)))
    grid = Image.new("RGB", (ncols * cw, HEADER + -(-len(cells) // ncols) * CELL_H), (255, 255, 255))
    ImageDraw.Draw(grid).text((6, 8), title, fill=(0, 0, 0))
    for j, c in enumerate(cells):
        grid.paste(c, ((j % ncols) * cw, HEADER + (j // ncols) * CELL_H))
    grid.save(out_png)
