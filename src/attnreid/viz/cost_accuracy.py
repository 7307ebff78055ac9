"""Accuracy against inference cost (papers/compare.py): one point per method, per dataset a panel; x the
inference GFLOPs per image (report/compare.py `model_costs`), y mAP mean over seeds with ± std error bars."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attnreid.grid import Cell
from attnreid.papers.spec import DATASET_TITLES
from attnreid.report.compare import model_costs
from attnreid.viz.common import plt, save

METRIC = "mAP"


def draw(figure, grid, out_png: str) -> None:
    seeds = grid.params["seeds"]
    fig, axes = plt.subplots(1, len(figure.datasets), figsize=(5.2 * len(figure.datasets), 4.2), squeeze=False)
    for ax, ds in zip(axes[0], figure.datasets):
        stand_in = grid.stand_in(ds)
        for i, method in enumerate(figure.methods):
            gflops = model_costs(grid, method, ds)["inference_flops"] / 1e9
            vals = np.array([100.0 * json.loads(Path(grid.metrics(Cell(stand_in, method, s))).read_text())[METRIC]
                             for s in seeds])
            err = vals.std(ddof=1) if len(vals) > 1 else None
            ax.errorbar([gflops], [vals.mean()], yerr=err, color=f"C{i}", marker="o", capsize=3, label=method)
            ax.annotate(method, (gflops, vals.mean()), textcoords="offset points", xytext=(4, 4 + 8 * (i % 2)),
                        fontsize=7)
        ax.set_xlabel("inference GFLOPs per image")
        ax.set_ylabel(f"{METRIC} (%)")
        ax.set_title(f"{DATASET_TITLES.get(ds, ds)} ({stand_in})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(figure.title + f" — seeds {seeds}", fontsize=9)
    save(fig, out_png)
