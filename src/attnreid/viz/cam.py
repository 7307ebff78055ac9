"""Class activation maps of the figure's methods side by side, on training images, each for its class.

Rows: NUM_IMAGES training images (first image of identities spread evenly over the training set,
first seed) of each dataset of the figure; columns: the image, then for each method the CAM of
every stage all the figure's methods have a classifier at (analysis/cam.py: any model with a
`cam` method). Training images are used so that every CAM is for the image's own class.

Also the plumbing of every CAM figure (cam_pairs, cam_spread): a cell's model, image batches, and
an image with its CAM overlaid. Reads checkpoints and the index only.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from attnreid.analysis.cam import normalised_cams
from attnreid.data import index as index_io
from attnreid.data.dataset import ReIDImages
from attnreid.data.transforms import test_transform
from attnreid.engine import runtime
from attnreid.engine.extract import load_model
from attnreid.errors import InputError
from attnreid.grid import Cell
from attnreid.viz.common import plt, save

NUM_IMAGES = 4


NEEDS = {"cam": "class activation maps", "attention_grids": "attention grids"}


def cell_model(grid, cell: Cell, dev, needs: str = "cam"):
    """The trained model of a cell (eval mode) and its train config; one without the method a figure
    draws (`needs`, a key of NEEDS) is refused."""
    model, ckpt = load_model(grid.checkpoint(cell), grid.config_digest(cell), dev)
    if not hasattr(model, needs):
        raise InputError(f"{cell.id}: model '{ckpt['config']['model']}' has no {NEEDS[needs]} (no `{needs}`)")
    return model, ckpt["config"]["train"]


def load_batch(paths, train_cfg: dict, dev) -> torch.Tensor:
    tf = test_transform(train_cfg["height"], train_cfg["width"], train_cfg["normalize"])
    return torch.stack([tf(Image.open(p).convert("RGB")) for p in paths]).to(dev)


def show(ax, path, train_cfg: dict, cam=None, title: str = "") -> None:
    """The image at the model's input size, with a CAM in [0, 1] ([H, W]) overlaid when given."""
    img = Image.open(path).convert("RGB").resize((train_cfg["width"], train_cfg["height"]), Image.BICUBIC)
    ax.imshow(img)
    if cam is not None:
        ax.imshow(np.asarray(cam.cpu()), cmap="jet", alpha=0.5, vmin=0, vmax=1)
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def _training_picks(index_csv: str):
    """Paths and class labels of the first image of NUM_IMAGES identities spread over the training set."""
    df, _ = index_io.read(index_csv)
    train = index_io.split(df, "train")
    labels = ReIDImages(train, None, relabel=True).pids.numpy()  # the classes training used
    classes = np.unique(labels)
    chosen = classes[np.linspace(0, len(classes) - 1, min(NUM_IMAGES, len(classes))).astype(int)]
    rows = [int(np.flatnonzero(labels == c)[0]) for c in chosen]
    return [train.abspath[i] for i in rows], torch.as_tensor(labels[rows])


def draw(figure, grid, out_png: str) -> None:
    dev = runtime.device("auto")
    seed = grid.params["seeds"][0]
    rows = []  # (label, path, [(column title, train cfg, cam)])
    for ds in figure.datasets:
        stand_in = grid.stand_in(ds)
        paths, labels = _training_picks(grid.index(stand_in))
        per_method = []
        for method in figure.methods:
            model, t = cell_model(grid, Cell(stand_in, method, seed), dev)
            per_method.append((method, t, normalised_cams(model, load_batch(paths, t, dev), labels.to(dev))))
        stages = sorted(set.intersection(*(set(cams) for _, _, cams in per_method)))
        for i, path in enumerate(paths):
            rows.append((f"{stand_in}\nclass {int(labels[i])}", path,
                         [(f"{m}\nstage {s}", t, cams[s][0][i]) for m, t, cams in per_method for s in stages]))
    overlay_grid(rows, figure.title, out_png)


def overlay_grid(rows, title: str, out_png: str, col_width: float = 1.25) -> None:
    """One row per image: the image, then its maps overlaid. `rows`: (row label, image path,
    [(column title, train config, map [H, W] in [0, 1])]), the same columns in every row."""
    ncols = 1 + len(rows[0][2])
    fig, axes = plt.subplots(len(rows), ncols, figsize=(col_width * ncols, 2.4 * len(rows) + 0.4), squeeze=False)
    for r, (ax_row, (label, path, panels)) in enumerate(zip(axes, rows)):
        show(ax_row[0], path, panels[0][1], title="image" if r == 0 else "")
        ax_row[0].set_ylabel(label, fontsize=7)
        for ax, (col, t, heat) in zip(ax_row[1:], panels):
            show(ax, path, t, heat, col if r == 0 else "")
    fig.suptitle(title, fontsize=9)
    save(fig, out_png)
