"""DAAF Fig. 8: PAB's keypoint heatmaps on test images.

Rows: the query picks of daaf_masks (per figure dataset and method, first seed); columns: the
image with its pseudo-label keypoints, then one panel per channel group: the maximum over the
group's keypoint heatmaps, clipped to [0, 1] (PAB run in eval mode).
"""
from __future__ import annotations

import torch

from attnreid.engine import runtime
from attnreid.errors import InputError
from attnreid.grid import Cell
from attnreid.viz.cam import load_batch, show
from attnreid.viz.common import save
from attnreid.viz.daaf_masks import daaf_model, grid_axes, query_picks


def group_maps(model, x: torch.Tensor) -> torch.Tensor:
    """[N, groups, H, W]: per channel group, the maximum of its PAB outputs."""
    out = model.branches(x)["pab"]
    sizes = [head.out_channels for head in model.pab.heads]
    return torch.stack([chunk.amax(1) for chunk in out.split(sizes, 1)], 1)


def draw(figure, grid, out_png: str) -> None:
    dev = runtime.device("auto")
    seed = grid.params["seeds"][0]
    rows = []  # (label, path, train cfg, keypoints, group maps)
    for ds in figure.datasets:
        stand_in = grid.stand_in(ds)
        for method in figure.methods:
            model, t = daaf_model(grid, Cell(stand_in, method, seed), "pab", dev)
            if model.pab_target != "keypoints":
                raise InputError(f"{stand_in}/{method}: PAB predicts {model.pab_target}, not keypoints")
            paths, _, kps = query_picks(grid, stand_in, t)
            with torch.no_grad():
                maps = group_maps(model, load_batch(paths, t, dev)).clamp(0, 1).cpu()
            rows += [(f"{method}", path, t, kps[i], maps[i]) for i, path in enumerate(paths)]
    fig, axes = grid_axes(len(rows), 1 + rows[0][4].shape[0])
    for r, (ax_row, (label, path, t, kps, maps)) in enumerate(zip(axes, rows)):
        show(ax_row[0], path, t, title="image + pseudo-label keypoints" if r == 0 else "")
        present = kps[:, 2] > 0
        ax_row[0].scatter(kps[present, 0], kps[present, 1], s=4, c="lime")
        ax_row[0].set_ylabel(label, fontsize=7)
        for g, ax in enumerate(ax_row[1:]):
            show(ax, path, t, maps[g], f"group {g + 1}" if r == 0 else "")
    fig.suptitle(figure.title, fontsize=9)
    save(fig, out_png)
