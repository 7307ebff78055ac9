"""Metrics along a figure's methods (in its order, the x axis), one line per dataset: reproduced
mean ± std over seeds (solid, from the per-cell metrics JSON) beside the paper's numbers (dashed)
where a declared table reports them for that method (single query, no re-ranking)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attnreid import papers
from attnreid.grid import Cell
from attnreid.papers.spec import DATASET_TITLES
from attnreid.viz.common import plt, save

METRICS = ("R1", "mAP")


def paper_value(method: str, dataset: str, metric: str) -> float | None:
    """The paper's number for a method's plain single-query row, from the first table reporting it."""
    key = f"{dataset}/{metric}"
    for table in (t for t in papers.TABLES.values() if isinstance(t, papers.Table)):
        for row in table.rows:
            if row.method == method and not row.rerank and row.query == "single" and key in row.reported:
                return row.reported[key]
    return None


def draw(figure, grid, out_png: str) -> None:
    x = np.arange(len(figure.methods))
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.8 * len(METRICS), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], METRICS):
        for i, ds in enumerate(figure.datasets):
            stand_in, name = grid.stand_in(ds), DATASET_TITLES.get(ds, ds)
            vals = np.array([[100.0 * json.loads(Path(grid.metrics(Cell(stand_in, m, s))).read_text())[metric]
                              for s in grid.params["seeds"]] for m in figure.methods])
            err = vals.std(1, ddof=1) if vals.shape[1] > 1 else None
            ax.errorbar(x, vals.mean(1), yerr=err, color=f"C{i}", marker="o", capsize=3, label=f"{name} ({stand_in})")
            paper = [paper_value(m, ds, metric) for m in figure.methods]
            if any(p is not None for p in paper):
                ax.plot(x, [np.nan if p is None else p for p in paper], "--", color=f"C{i}", marker="x",
                        label=f"{name}, paper")
        ax.set_xticks(x, figure.methods, fontsize=8)
        ax.set_ylabel(f"{metric} (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(figure.title, fontsize=9)
    save(fig, out_png)
