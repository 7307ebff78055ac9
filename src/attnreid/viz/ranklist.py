"""Rank lists: a few queries and their top-10 gallery images (green frame: true match, red: wrong).

Drawn from the first seed's features; queries are chosen evenly over the query set.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from attnreid.data import index as index_io
from attnreid.engine.evaluate import load_features
from attnreid.eval.distance import pairwise_distance
from attnreid.grid import Cell
from attnreid.viz.common import plt, save

NUM_QUERIES = 4
TOP = 10


def draw(figure, grid, out_png: str) -> None:
    rows = []
    for ds in figure.datasets:
        stand_in = grid.stand_in(ds)
        _, meta = index_io.read(grid.index(stand_in))
        for method in figure.methods:
            f = load_features(grid.features(Cell(stand_in, method, grid.params["seeds"][0])))
            dist = pairwise_distance(f["query_feat"], f["gallery_feat"], grid.params["eval"]["metric"])
            for qi in np.linspace(0, len(dist) - 1, NUM_QUERIES).astype(int):
                keep = ~((f["gallery_pid"] == f["query_pid"][qi]) & (f["gallery_camid"] == f["query_camid"][qi]))
                order = [j for j in np.argsort(dist[qi]) if keep[j]][:TOP]
                hits = [f["gallery_pid"][j] == f["query_pid"][qi] for j in order]
                rows.append((f"{method}\n{stand_in}", Path(meta["root"]) / f["query_path"][qi],
                             [Path(meta["root"]) / f["gallery_path"][j] for j in order], hits))
    fig, axes = plt.subplots(len(rows), TOP + 1, figsize=(1.0 * (TOP + 1), 2.1 * len(rows)), squeeze=False)
    for ax_row, (label, q, gallery, hits) in zip(axes, rows):
        ax_row[0].imshow(Image.open(q).convert("RGB"))
        ax_row[0].set_title("query", fontsize=8)
        ax_row[0].set_ylabel(label, fontsize=7)
        for k, (ax, g, hit) in enumerate(zip(ax_row[1:], gallery, hits)):
            ax.imshow(Image.open(g).convert("RGB"))
            ax.set_title(str(k + 1), fontsize=8)
            for side in ax.spines.values():
                side.set_edgecolor("green" if hit else "red")
                side.set_linewidth(3)
        for ax in ax_row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(figure.title)
    save(fig, out_png)
