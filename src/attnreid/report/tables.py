"""Render a declared table: reproduced mean ± std over seeds beside the paper's number and the delta.

Writes <table>.md, .csv (long form, one line per row x dataset x metric) and .tex. Numbers are
percentages. Paper numbers come only from the table declaration; reproduced ones only from runs.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from attnreid.atomic import write_text
from attnreid.papers.spec import DATASET_TITLES, FactTable, PairedTable, Table


def metric_value(metrics: dict, name: str, rerank: bool, query: str) -> float | None:
    """A percentage; None when the run has no multi-query result (an index without gt_bbox images)."""
    if query == "multi":
        metrics = metrics.get("multi_query")
        if metrics is None:
            return None
    return 100.0 * (metrics["rerank"] if rerank else metrics)[name]


def long_form(table: Table, grid) -> pd.DataFrame:
    """One record per (row, dataset, metric): mean/std/n over seeds, paper number, delta."""
    recs = []
    for row in table.rows:
        for ds in table.datasets:
            stand_in = grid.stand_in(ds)
            for m in table.metrics:
                vals = []
                if row.method:
                    for seed in grid.params["seeds"]:
                        path = grid.metrics(*grid.table_test(table, ds, row.method, seed))
                        val = metric_value(json.loads(Path(path).read_text()), m, row.rerank, row.query)
                        vals += [] if val is None else [val]
                paper = row.reported.get(f"{ds}/{m}")
                mean = float(np.mean(vals)) if vals else None
                recs.append({"row": row.label, "method": row.method or "", "rerank": row.rerank, "query": row.query,
                             "dataset": ds,
                             "stand_in": stand_in, "metric": m, "mean": mean,
                             "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else None, "n_seeds": len(vals),
                             "paper": paper, "delta": (mean - paper) if mean is not None and paper is not None else None})
    return pd.DataFrame(recs)


def _cell_text(r) -> str:
    parts = ["n/a"] if r["method"] and not r["n_seeds"] else []  # a run without this protocol
    if r["mean"] is not None and not pd.isna(r["mean"]):
        parts.append(f"{r['mean']:.1f}" + (f" ± {r['std']:.1f}" if r["std"] is not None and not pd.isna(r["std"]) else ""))
    if r["paper"] is not None and not pd.isna(r["paper"]):
        parts.append(f"paper {r['paper']:.1f}")
        if r["delta"] is not None and not pd.isna(r["delta"]):
            parts.append(f"Δ {r['delta']:+.1f}")
    return " / ".join(parts) if parts else "–"


def _headers(table: Table) -> list[str]:
    return [f"{DATASET_TITLES.get(d, d)} {m}" for d in table.datasets for m in table.metrics]


def _grid_rows(table: Table, df: pd.DataFrame) -> list[list[str]]:
    rows = []
    for row in table.rows:
        sub = df[df.row == row.label]
        rows.append([row.label] + [_cell_text(r) for _, r in sub.iterrows()])
    return rows


def stand_in_note(table: Table, grid) -> str:
    pairs = [(d, grid.stand_in(d)) for d in ((table.train_on,) if table.train_on else ()) + table.datasets]
    synthetic = [f"{DATASET_TITLES.get(d, d)} → {s} (synthreid)" for d, s in pairs if grid.is_synthetic(s)]
    if not synthetic:
        return ""
    return "Synthetic stand-ins replace the paper's datasets: " + "; ".join(synthetic) + "."


def _methods_where(grid, methods: list[str], pred) -> list[str]:
    return [m for m in methods if pred(m)]


def recipe_note(table: Table, grid) -> str:
    """What the test features are (mirror-averaged or not) and how each model was selected, per method."""
    methods = table.methods()
    if not methods:
        return ""
    flipped = _methods_where(grid, methods, lambda m: grid.eval_config(m)["flip"])
    if not flipped:
        notes = ["Test features: each image alone (no averaging with its mirror image), as in the papers."]
    else:
        notes = ["Test features: averaged with the mirror image for " + ", ".join(f"`{m}`" for m in flipped) +
                 (("; the image alone for the others.") if len(flipped) < len(methods) else ".")]
    cell = lambda m: grid.cell_config(grid.table_test(table, table.datasets[0], m, grid.params["seeds"][0])[0])  # noqa: E731
    selected = _methods_where(grid, methods, lambda m: cell(m)["train"]["validation"]["ids"] > 0)
    if selected:
        v = cell(selected[0])["train"]["validation"]
        notes.append(f"Model selection: the epoch with the best {v['metric']} on {100 * v['ids']:.0f}% of the "
                     "training identities, held out of training, for " + ", ".join(f"`{m}`" for m in selected) +
                     "; the last epoch otherwise.")
    return " ".join(notes)


def render(table: Table | FactTable, grid, out_md: str) -> None:
    if isinstance(table, FactTable):
        from attnreid.report import facts

        return facts.render(table, grid, out_md)
    if isinstance(table, PairedTable):
        from attnreid.report import compare

        return compare.render(table, grid, out_md)
    df = long_form(table, grid)
    seeds = grid.params["seeds"]
    notes = [table.caption, f"Reproduced: mean ± std over seeds {seeds} (profile `{grid.profile}`); "
             "'paper': the number the paper reports; Δ = reproduced − paper. Percentages.",
             recipe_note(table, grid), stand_in_note(table, grid)]
    if table.train_on:
        source = DATASET_TITLES.get(table.train_on, table.train_on)
        notes.insert(1, f"Cross-dataset: every model is trained on {source} ({grid.stand_in(table.train_on)}) and "
                        "tested on each column's dataset.")
    notes = [n for n in notes if n]
    headers = ["Method"] + _headers(table)
    body = _grid_rows(table, df)
    md = [f"# {table.title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(r) + " |" for r in body]
    md += [""] + notes
    base = Path(out_md)
    write_text(base.with_suffix(".md"), "\n".join(md) + "\n")
    write_text(base.with_suffix(".csv"), df.to_csv(index=False))
    esc = lambda s: s.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("_", r"\_").replace("%", r"\%")  # noqa: E731
    tex = [r"\begin{table}", r"\centering", f"\\caption{{{esc(table.title)}. {esc(' '.join(notes))}}}",
           r"\begin{tabular}{l" + "c" * (len(headers) - 1) + "}", r"\hline",
           " & ".join(esc(h) for h in headers) + r" \\", r"\hline"]
    tex += [" & ".join(esc(c) for c in r) + r" \\" for r in body]
    tex += [r"\hline", r"\end{tabular}", r"\end{table}"]
    write_text(base.with_suffix(".tex"), "\n".join(tex) + "\n")
