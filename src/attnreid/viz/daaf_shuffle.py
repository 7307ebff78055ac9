"""DAAF Fig. 9 (set-up of Fig. 10): the 1x1-conv shuffle in PAB.

For one query image (the first daaf_masks pick of the first figure dataset, first method, first
seed): row i is feature group i's decoded maps, column j the output of group j's 1x1 conv on them
(maximum over that conv's keypoints, min-max normalised per panel); the diagonal is the trained
pairing. Only a PAB with one shared decoder and equal-width groups is shuffled, as in the paper.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from attnreid.engine import runtime
from attnreid.errors import InputError
from attnreid.grid import Cell
from attnreid.viz.cam import load_batch, show
from attnreid.viz.common import save
from attnreid.viz.daaf_masks import daaf_model, grid_axes, query_paths


def shuffle_matrix(model, x: torch.Tensor) -> torch.Tensor:
    """[groups, groups, H, W] for the first image of x: head j applied to group i's decoded maps."""
    decoded = model.pab.decode(model.base.backbone(x[:1]))
    rows = [torch.stack([head(d)[0].amax(0) for head in model.pab.heads]) for d in decoded]
    maps = F.interpolate(torch.stack(rows), size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)
    lo, hi = maps.amin((2, 3), keepdim=True), maps.amax((2, 3), keepdim=True)
    return (maps - lo) / (hi - lo).clamp_min(1e-12)


def draw(figure, grid, out_png: str) -> None:
    dev = runtime.device("auto")
    cell = Cell(grid.stand_in(figure.datasets[0]), figure.methods[0], grid.params["seeds"][0])
    model, t = daaf_model(grid, cell, "pab", dev)
    if len(model.pab.decoders) != 1:
        raise InputError(f"{cell.id}: the shuffle needs PAB's shared decoder (shared_decoder: true)")
    paths = query_paths(grid, cell.dataset)
    with torch.no_grad():
        maps = shuffle_matrix(model, load_batch(paths[:1], t, dev)).cpu()
    n = maps.shape[0]
    fig, axes = grid_axes(n, n)
    for i in range(n):
        for j in range(n):
            show(axes[i][j], paths[0], t, maps[i, j], f"1x1 conv {j + 1}" if i == 0 else "")
        axes[i][0].set_ylabel(f"features {i + 1}", fontsize=7)
    fig.suptitle(figure.title, fontsize=9)
    save(fig, out_png)
