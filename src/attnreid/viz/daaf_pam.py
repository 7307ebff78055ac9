"""DAAF Fig. 6: partial attention maps (Eq. 8, analysis/gradcam.py) of PAB's channel groups.

Per figure method (a DAAF model with PAB; others are refused), rows: the query images of daaf_masks.query_paths
(per figure dataset, first seed); columns: the image, then one map per channel group: x_n = the
average pooling of stage-4 channel n, S_i = the channels PAB's split gives group i (the C mod M left
over belong to no group), A = the conv1 map of daaf_ham, in eval mode, min-max normalised per image.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from attnreid.viz.cam import overlay_grid
from attnreid.viz.daaf_ham import cell_images, conv1_maps
from attnreid.viz.daaf_masks import daaf_model


def pab_groups(model) -> list[list[int]]:
    """The stage-4 channel indices of each PAB group, as PAB's own split takes them."""
    channels = torch.arange(model.backbone.channels[-1])[None, :, None, None]
    return [part.flatten().tolist() for part in model.pab.split(channels)]


def pooled_stage4(model, img: torch.Tensor) -> torch.Tensor:
    """[N, C]: the average pooling of each stage-4 channel."""
    return F.adaptive_avg_pool2d(model.backbone(img), 1).flatten(1)


def _pab_model(grid, cell, dev):
    return daaf_model(grid, cell, "pab", dev)


def draw(figure, grid, out_png: str) -> None:
    rows = []  # (row label, path, [(column title, train cfg, PAM)])
    for stand_in, method, model, t, paths, img in cell_images(figure, grid, _pab_model):
        groups = pab_groups(model)
        pam = conv1_maps(model.backbone, img, functools.partial(pooled_stage4, model), groups)
        rows += [(f"{stand_in}\n{method}", path, [(f"group {g + 1}", t, pam[i, g]) for g in range(len(groups))])
                 for i, path in enumerate(paths)]
    overlay_grid(rows, figure.title, out_png)
