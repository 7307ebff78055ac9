"""CMC curves (mean over seeds) of each method on each dataset of the figure, plain and re-ranked."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attnreid.grid import Cell
from attnreid.papers.spec import DATASET_TITLES
from attnreid.viz.common import plt, save


def draw(figure, grid, out_png: str) -> None:
    fig, axes = plt.subplots(1, len(figure.datasets), figsize=(4.5 * len(figure.datasets), 3.6), squeeze=False)
    for ax, ds in zip(axes[0], figure.datasets):
        stand_in = grid.stand_in(ds)
        for method in figure.methods:
            runs = [json.loads(Path(grid.metrics(Cell(stand_in, method, s))).read_text()) for s in grid.params["seeds"]]
            for key, style in (("plain", "-"), ("rerank", "--")):
                curves = np.array([(r if key == "plain" else r["rerank"])["cmc"] for r in runs]) * 100
                ranks = np.arange(1, curves.shape[1] + 1)
                ax.plot(ranks, curves.mean(0), style, label=f"{method}{' + re-rank' if key == 'rerank' else ''}")
        ax.set_xscale("log")
        ax.set_xlabel("rank")
        ax.set_ylabel("matching rate (%)")
        ax.set_title(f"{DATASET_TITLES.get(ds, ds)} ({stand_in})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(figure.title)
    save(fig, out_png)
