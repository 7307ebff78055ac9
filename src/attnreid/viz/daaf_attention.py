"""DAAF Fig. 1: the holistic and the partial attention maps of one DAAF model, side by side.

Per figure method (a DAAF model with PAB; others are refused) and query image of
daaf_masks.query_paths (per figure dataset, first seed): the image, its holistic attention map
(Eq. 7 on the inference network's embedding, as daaf_ham) and one partial attention map per PAB
channel group (Eq. 8, as daaf_pam); eval mode, min-max normalised per image.
"""
from __future__ import annotations

import functools

from attnreid.viz.cam import overlay_grid
from attnreid.viz.daaf_ham import cell_images, conv1_maps
from attnreid.viz.daaf_masks import daaf_model
from attnreid.viz.daaf_pam import pab_groups, pooled_stage4


def draw(figure, grid, out_png: str) -> None:
    rows = []  # (row label, path, [(column title, train cfg, map)])
    for stand_in, method, model, t, paths, img in cell_images(figure, grid, lambda g, c, d: daaf_model(g, c, "pab", d)):
        net = model.inference_model()
        ham = conv1_maps(net.backbone, img, net)[:, 0]
        groups = pab_groups(model)
        pam = conv1_maps(model.backbone, img, functools.partial(pooled_stage4, model), groups)
        rows += [(f"{stand_in}\n{method}", path,
                  [("holistic (HAM)", t, ham[i])] + [(f"partial, group {g + 1}", t, pam[i, g]) for g in range(len(groups))])
                 for i, path in enumerate(paths)]
    overlay_grid(rows, figure.title, out_png)
