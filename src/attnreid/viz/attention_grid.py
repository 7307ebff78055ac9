"""Attention grids over input images (SAG Fig. 4), from any model with
`attention_grids(x) -> {depth: G [N, h, w]}` (models/sag.py).

Rows: the first query image of NUM_IMAGES identities spread evenly over the query set of each
dataset of the figure (first seed); columns: the image, then for each method every depth it has a
grid at. G is shown as blocks (nearest up-sampling to the input size), scaled per image to its
maximum. Reads checkpoints and the index only.
"""
from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from attnreid.data import index as index_io
from attnreid.engine import runtime
from attnreid.grid import Cell
from attnreid.viz.cam import cell_model, load_batch, overlay_grid

NUM_IMAGES = 4


def _query_picks(index_csv: str) -> list[str]:
    query = index_io.split(index_io.read(index_csv)[0], "query")
    pids = query.pid.to_numpy()
    ids = np.unique(pids)
    chosen = ids[np.linspace(0, len(ids) - 1, min(NUM_IMAGES, len(ids))).astype(int)]
    return [query.abspath[int(np.flatnonzero(pids == p)[0])] for p in chosen]


def blocks(g, size: tuple[int, int]):
    """Grids [N, h, w] as blocks at `size`, scaled to [0, 1] per image."""
    up = F.interpolate(g[:, None], size=size, mode="nearest")[:, 0]
    return up / up.amax((1, 2), keepdim=True)


def draw(figure, grid, out_png: str) -> None:
    dev = runtime.device("auto")
    seed = grid.params["seeds"][0]
    rows = []  # (label, path, [(column title, train cfg, grid)])
    for ds in figure.datasets:
        stand_in = grid.stand_in(ds)
        paths = _query_picks(grid.index(stand_in))
        panels = [[] for _ in paths]
        for method in figure.methods:
            model, t = cell_model(grid, Cell(stand_in, method, seed), dev, needs="attention_grids")
            x = load_batch(paths, t, dev)
            for depth, g in sorted(model.attention_grids(x).items()):
                up = blocks(g, x.shape[-2:])
                for i in range(len(paths)):
                    panels[i].append((f"{method}\nD{depth} ({g.shape[1]}x{g.shape[2]})", t, up[i]))
        rows += [(stand_in, path, p) for path, p in zip(paths, panels)]
    overlay_grid(rows, figure.title, out_png, col_width=1.3)
