"""DAAF Fig. 7: HAB's predicted person masks beside the pseudo-label masks it was trained on.

Rows: NUM_IMAGES query images (spread evenly over the query split) of each figure dataset, first
seed; columns: the image, its pseudo-label mask (the pseudo_labels stage's folder of that dataset,
the "same mask detector as training"), and for each method HAB's output clipped to [0, 1] (the
branch run in eval mode, kept at inference for this figure only). Also the plumbing of the DAAF
branch figures (daaf_heatmaps, daaf_shuffle): a cell's DAAF model, test picks and their labels.
"""
from __future__ import annotations

import numpy as np
import torch

from attnreid.data import index as index_io
from attnreid.data.batches import pose_targets
from attnreid.data.cache import decode
from attnreid.engine import runtime
from attnreid.engine.extract import load_model
from attnreid.errors import InputError
from attnreid.grid import Cell
from attnreid.pseudo import store as pseudo_store
from attnreid.viz.cam import load_batch, show
from attnreid.viz.common import plt, save

NUM_IMAGES = 4


def daaf_model(grid, cell: Cell, branch: str, dev):
    """The trained DAAF model of a cell (eval mode) and its train config; refused without `branch`."""
    model, ckpt = load_model(grid.checkpoint(cell), grid.config_digest(cell), dev)
    if getattr(model, branch, None) is None:
        raise InputError(f"{cell.id}: model '{ckpt['config']['model']}' has no DAAF {branch.upper()} branch")
    return model, ckpt["config"]["train"]


def query_rows(grid, stand_in: str):
    """The query split of a stand-in and NUM_IMAGES rows of it spread evenly over it."""
    query = index_io.split(index_io.read(grid.index(stand_in))[0], "query")
    return query, np.linspace(0, len(query) - 1, min(NUM_IMAGES, len(query))).astype(int)


def query_paths(grid, stand_in: str) -> list[str]:
    query, rows = query_rows(grid, stand_in)
    return [query.abspath[r] for r in rows]


def query_picks(grid, stand_in: str, train_cfg: dict):
    """Paths of the query_rows images and their pseudo-label masks [n, H, W] and keypoints [n, 17, 3]
    at the model's input size (resized like training, without its random steps)."""
    query, rows = query_rows(grid, stand_in)
    labels = pseudo_store.read(grid.pseudo(stand_in))
    where = {p: i for i, p in enumerate(labels.paths)}
    paths = [query.path[r] for r in rows]
    h, w = train_cfg["height"], train_cfg["width"]
    sizes = np.array([decode(query.abspath[r], h, w)[1] for r in rows], np.int32).reshape(-1, 2)
    masks, kps = pose_targets(labels, [where[p] for p in paths], paths, sizes, h, w)
    return [query.abspath[r] for r in rows], masks.float(), kps


def grid_axes(nrows: int, ncols: int):
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 2.3 * nrows + 0.4), squeeze=False)
    return fig, axes


def draw(figure, grid, out_png: str) -> None:
    dev = runtime.device("auto")
    seed = grid.params["seeds"][0]
    rows = []  # (path, train cfg, [(title, map)])
    for ds in figure.datasets:
        stand_in = grid.stand_in(ds)
        models = [(m, *daaf_model(grid, Cell(stand_in, m, seed), "hab", dev)) for m in figure.methods]
        paths, masks, _ = query_picks(grid, stand_in, models[0][2])
        with torch.no_grad():
            preds = [(m, model.branches(load_batch(paths, t, dev))["hab"][:, 0].clamp(0, 1).cpu())
                     for m, model, t in models]
        for i, path in enumerate(paths):
            rows.append((path, models[0][2], [("pseudo-label mask", masks[i])] + [(f"{m}\nHAB", p[i]) for m, p in preds]))
    fig, axes = grid_axes(len(rows), 1 + len(rows[0][2]))
    for r, (ax_row, (path, t, panels)) in enumerate(zip(axes, rows)):
        show(ax_row[0], path, t, title="image" if r == 0 else "")
        for ax, (title, m) in zip(ax_row[1:], panels):
            show(ax, path, t, m, title if r == 0 else "")
    fig.suptitle(figure.title, fontsize=9)
    save(fig, out_png)
