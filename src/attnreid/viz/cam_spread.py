"""How spread the class activation maps are, per method and stage (beyond the PFSA paper, which only
shows examples): bars and a table of the normalised CAM entropy and the area above half-maximum
(analysis/cam.py), averaged over test images (query + gallery, junk and distractors left out;
at most MAX_IMAGES, evenly spaced, so the figure stays cheap on a CPU), mean ± std over seeds.
Each image's CAM is for its top-1 class of that stage's classifier. Reads checkpoints and the index.

Also the plumbing of every per-model test-set measure figure (cam_mse): `measure_by_model` with
another measure, then `plot`.
"""
from __future__ import annotations

import numpy as np

from attnreid.analysis.cam import mean_spread
from attnreid.data import index as index_io
from attnreid.data.dataset import ReIDImages
from attnreid.data.transforms import test_transform
from attnreid.engine import runtime
from attnreid.grid import Cell
from attnreid.viz.cam import cell_model
from attnreid.viz.common import plt, save

MAX_IMAGES = 1000
MEASURES = (("entropy", "normalised entropy"), ("area", "area above half-max"))


def test_images(index_csv: str):
    df, _ = index_io.read(index_csv)
    test = df[df.split.isin(["query", "gallery"]) & (df.pid > 0)].reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(test) - 1, min(MAX_IMAGES, len(test))).astype(int))
    return test.iloc[keep].reset_index(drop=True)


def measure_by_model(figure, grid, measure=mean_spread) -> dict[str, dict[int, dict[str, list[float]]]]:
    """{"method (stand-in)": {stage: {name: [value per seed]}}}; `measure(model, data, dev)` gives
    {stage: {name: mean over the images of data}} for one cell."""
    dev = runtime.device("auto")
    out = {}
    for ds in figure.datasets:
        stand_in = grid.stand_in(ds)
        images = test_images(grid.index(stand_in))
        for method in figure.methods:
            per_stage = out.setdefault(f"{method} ({stand_in})", {})
            for seed in grid.params["seeds"]:
                model, t = cell_model(grid, Cell(stand_in, method, seed), dev)
                data = ReIDImages(images, test_transform(t["height"], t["width"], t["normalize"]))
                for stage, vals in measure(model, data, dev).items():
                    for key, val in vals.items():
                        per_stage.setdefault(stage, {}).setdefault(key, []).append(val)
    return out


def _text(vals) -> str:
    if not vals:
        return "–"
    return f"{np.mean(vals):.3f}" + (f" ± {np.std(vals, ddof=1):.3f}" if len(vals) > 1 else "")


def draw(figure, grid, out_png: str) -> None:
    plot(figure, grid, measure_by_model(figure, grid), MEASURES, out_png)


def plot(figure, grid, stats: dict, measures, out_png: str) -> None:
    """Bars (mean ± std over seeds, per stage) and a table of `stats` for each (name, label) of `measures`."""
    stages = sorted({s for per_stage in stats.values() for s in per_stage})
    fig = plt.figure(figsize=(5.5 * len(measures), 6.5))
    layout = fig.add_gridspec(2, len(measures), height_ratios=[3, 2])
    bars = [fig.add_subplot(layout[0, i]) for i in range(len(measures))]
    width = 0.8 / len(stats)
    for ax, (key, label) in zip(bars, measures):
        for i, (name, per_stage) in enumerate(stats.items()):
            xs = [s for s in stages if s in per_stage]
            vals = [per_stage[s][key] for s in xs]
            ax.bar(np.array(xs) + (i - (len(stats) - 1) / 2) * width, [np.mean(v) for v in vals], width,
                   yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals], label=name, capsize=2)
        ax.set_xticks(stages, [f"stage {s}" for s in stages])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, axis="y")
    bars[0].legend(fontsize=7)
    bottom = fig.add_subplot(layout[1, :])
    bottom.axis("off")
    table = bottom.table(
        cellText=[[_text(per_stage.get(s, {}).get(key, [])) for s in stages for key, _ in measures]
                  for per_stage in stats.values()],
        rowLabels=list(stats), colLabels=[f"S{s} {key}" for s in stages for key, _ in measures],
        loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    fig.suptitle(f"{figure.title}\n(mean ± std over seeds {grid.params['seeds']}; up to {MAX_IMAGES} test images)",
                 fontsize=9)
    save(fig, out_png)
