"""DAAF Fig. 5: holistic attention maps (Eq. 7, analysis/gradcam.py) of the figure's methods.

Rows: the query images of daaf_masks.query_paths (per figure dataset, first seed); columns: the image, then per
method its HAM: x = the inference network's embedding (DAAF's `inference_model()`, the base network;
any other model itself) in eval mode, A = the output of the backbone's conv1 layer (chosen: the
convolution itself, before bn1 and ReLU: the paper names the "ResNet conv1 feature map" and takes
Abs of signed values in Eq. 5), upsampled to the input size and min-max normalised per image.
Also the plumbing of the Grad-CAM figures (daaf_pam): the cells' images and the conv1 maps.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from attnreid.analysis.gradcam import attention_maps, normalise
from attnreid.engine import runtime
from attnreid.engine.extract import load_model
from attnreid.grid import Cell
from attnreid.viz.cam import load_batch, overlay_grid
from attnreid.viz.daaf_masks import query_paths


def conv1_maps(backbone, img: torch.Tensor, outputs: Callable[[torch.Tensor], torch.Tensor],
               groups=None) -> torch.Tensor:
    """[N, G, H, W] in [0, 1]: attention_maps of `outputs(img)` [N, components] on the conv1 map of
    `backbone` (a ResNetStages), per group of components (None: all), at the input size."""
    seen = []
    hook = backbone.stem[0].register_forward_hook(lambda module, args, out: seen.append(out))
    try:
        with torch.enable_grad():
            x = outputs(img.detach().requires_grad_())
    finally:
        hook.remove()
    return normalise(attention_maps(seen[0], x, groups), tuple(img.shape[2:])).detach().cpu()


def cell_images(figure, grid, load) -> Iterator[tuple]:
    """Per figure dataset and method (first seed): (stand-in, method, model, train config, query-pick
    paths, their image batch); `load(grid, cell, dev)` gives a cell's model (eval mode) and train config."""
    dev = runtime.device("auto")
    seed = grid.params["seeds"][0]
    for ds in figure.datasets:
        stand_in = grid.stand_in(ds)
        paths = query_paths(grid, stand_in)
        for method in figure.methods:
            model, t = load(grid, Cell(stand_in, method, seed), dev)
            yield stand_in, method, model, t, paths, load_batch(paths, t, dev)


def _inference_model(grid, cell: Cell, dev):
    model, ckpt = load_model(grid.checkpoint(cell), grid.config_digest(cell), dev)
    net = model.inference_model() if hasattr(model, "inference_model") else model
    return net, ckpt["config"]["train"]


def draw(figure, grid, out_png: str) -> None:
    rows = {}  # (stand-in, path) -> (row label, path, [(column title, train cfg, HAM)])
    for stand_in, method, net, t, paths, img in cell_images(figure, grid, _inference_model):
        ham = conv1_maps(net.backbone, img, net)[:, 0]
        for i, path in enumerate(paths):
            rows.setdefault((stand_in, path), (stand_in, path, []))[2].append((f"{method}\nHAM", t, ham[i]))
    overlay_grid(list(rows.values()), figure.title, out_png)
