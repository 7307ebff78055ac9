"""A query with a same-camera (a) and a cross-camera (b) test image of its identity, and their CAMs
under two models: PFSA Fig. 6. Figure methods: (the model with SA, the model without).

Recognised: a test image is recognised for a query when no gallery image of another identity is
closer to it (Euclidean on the cells' features.npz, first seed; junk excluded). Examples: for each
query, (a) is its same-camera image both models rank best and (b) the cross-camera image the
second model ranks worst relative to the first; queries where both recognise (a), only the first
recognises (b), and the gap is largest come first (the paper's picked cases). Failures get a red
frame whether or not the data offers such cases. CAMs are of STAGE, for the class each model
predicts for the query at that stage (what the model looks for of that person in each image).
Reads features, the index and checkpoints.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from attnreid.analysis.cam import normalised_cams
from attnreid.data import index as index_io
from attnreid.engine import runtime
from attnreid.engine.evaluate import load_features
from attnreid.errors import InputError
from attnreid.eval.distance import pairwise_distance
from attnreid.grid import Cell
from attnreid.viz.cam import cell_model, load_batch, show
from attnreid.viz.common import plt, save

NUM_EXAMPLES = 3
STAGE = 2  # "Since the CAM of stage 2 shows a more clear comparison" (section 5.2)
COLUMNS = ("query", "(a) same camera", "(b) other camera")


def impostor_ranks(dist: np.ndarray, q_pid: int, g_pid: np.ndarray) -> np.ndarray:
    """For each gallery image: how many gallery images of another identity (junk excluded) are closer."""
    impostors = np.sort(dist[(g_pid != q_pid) & (g_pid != -1)])
    return np.searchsorted(impostors, dist, side="left")


def choose_examples(f_first: dict, f_second: dict, metric: str, k: int = NUM_EXAMPLES) -> list[tuple]:
    """[(query, (a) gallery index, (b) gallery index, ((first's rank of a, of b), (second's ...)))], best
    first; a rank is impostor_ranks' count (0: recognised)."""
    if not np.array_equal(f_first["gallery_path"], f_second["gallery_path"]):
        raise InputError("cam_pairs: the two cells' features are of different galleries")
    dists = [pairwise_distance(f["query_feat"], f["gallery_feat"], metric) for f in (f_first, f_second)]
    q_pid, q_cam = f_first["query_pid"], f_first["query_camid"]
    g_pid, g_cam = f_first["gallery_pid"], f_first["gallery_camid"]
    found = []
    for qi in range(len(q_pid)):
        same = np.flatnonzero((g_pid == q_pid[qi]) & (g_cam == q_cam[qi]))
        cross = np.flatnonzero((g_pid == q_pid[qi]) & (g_cam != q_cam[qi]))
        if not len(same) or not len(cross):
            continue
        r1, r2 = (impostor_ranks(d[qi], q_pid[qi], g_pid) for d in dists)
        a = same[np.argmin(np.maximum(r1[same], r2[same]))]
        b = cross[np.argmax(r2[cross] - r1[cross])]
        score = (r1[a] == 0 and r2[a] == 0, r1[b] == 0 and r2[b] > 0, int(r2[b] - r1[b]))
        found.append((score, qi, a, b, ((int(r1[a]), int(r1[b])), (int(r2[a]), int(r2[b])))))
    found.sort(key=lambda e: e[0], reverse=True)
    return [(qi, a, b, ranks) for _, qi, a, b, ranks in found[:k]]


def draw(figure, grid, out_png: str) -> None:
    if len(figure.methods) != 2:
        raise InputError(f"figure {figure.id}: cam_pairs needs two methods (with SA, without), got {figure.methods}")
    dev = runtime.device("auto")
    seed = grid.params["seeds"][0]
    stand_in = grid.stand_in(figure.datasets[0])
    _, meta = index_io.read(grid.index(stand_in))
    cells = [Cell(stand_in, m, seed) for m in figure.methods]
    feats = [load_features(grid.features(c)) for c in cells]
    examples = choose_examples(*feats, grid.params["eval"]["metric"])
    if not examples:
        raise InputError(f"figure {figure.id}: no query of {stand_in} has same- and cross-camera test images")
    root = Path(meta["root"])
    models = [cell_model(grid, c, dev) for c in cells]
    fig, axes = plt.subplots(3, 3 * len(examples), figsize=(3.6 * len(examples), 7.2), squeeze=False,
                             gridspec_kw={"wspace": 0.1})
    for col, (qi, a, b, ranks) in enumerate(examples):
        paths = [root / feats[0]["query_path"][qi]] + [root / feats[0]["gallery_path"][j] for j in (a, b)]
        for j, title in enumerate(COLUMNS):
            show(axes[0][3 * col + j], paths[j], models[0][1], title=title)
        for row, (cell, (model, t), (rank_a, rank_b)) in enumerate(zip(cells, models, ranks), start=1):
            x = load_batch(paths, t, dev)
            query_cams = normalised_cams(model, x[:1])
            if STAGE not in query_cams:
                raise InputError(f"{cell.id}: the model has no classifier at stage {STAGE}")
            target = query_cams[STAGE][1].expand(3)
            cams = normalised_cams(model, x, target)[STAGE][0]
            for j, rank in enumerate((None, rank_a, rank_b)):
                ax = axes[row][3 * col + j]
                verdict = "" if rank is None else "recognised" if rank == 0 else f"fails ({rank})"
                show(ax, paths[j], t, cams[j], verdict)
                if rank:
                    for side in ax.spines.values():
                        side.set_edgecolor("red")
                        side.set_linewidth(3)
            if col == 0:
                axes[row][0].set_ylabel(f"{cell.method}\nstage {STAGE}", fontsize=7)
    fig.suptitle(figure.title, fontsize=9)
    save(fig, out_png)
