"""Render a PairedTable (papers/compare.py): methods against a base on the same data and seeds, with costs.

Accuracy: per row and dataset x metric, mean ± std over seeds, and the difference row − base paired by
seed with its two-sided 95% t-interval (report/claims.py `paired_effect`; no interval below 2 seeds).
Costs, beside, from the same runs and models:
- parameters of the whole training model and of the network used at test time (engine/cost.py), each
  with what it adds to the base's; inference GFLOPs per image at the recipe's input size. The model
  is rebuilt from the cell's config (weights do not change these counts);
- training img/s and peak training memory, from each run's meta: the ratio to the base's run of the
  same dataset and seed, averaged over the table's (dataset, seed) pairs. A run without a number
  (trained before it was recorded) or measured on another kind of device than the base's shows n/a.

Writes <table>.md, .csv (long form: one line per row x dataset x metric, and per row x cost) and .tex.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from attnreid import models
from attnreid.atomic import write_text
from attnreid.engine.cost import model_cost
from attnreid.grid import Cell
from attnreid.papers.spec import DATASET_TITLES, PairedTable
from attnreid.report.claims import LEVEL, paired_effect
from attnreid.report.tables import metric_value, recipe_note, stand_in_note

MEMORY_KINDS = {"cuda_max_allocated": "peak CUDA memory allocated", "cpu_max_rss": "the process's peak resident memory (CPU)"}


def _read(path: str) -> dict:
    return json.loads(Path(path).read_text())


def _metrics(grid, table: PairedTable, ds: str, method: str, seed: int) -> dict:
    return _read(grid.metrics(*grid.table_test(table, ds, method, seed)))


def model_costs(grid, method: str, paper_dataset: str) -> dict:
    """engine/cost.py's counts for `method`'s model as its cell on `paper_dataset` (first seed) builds it;
    pretrained weights are not loaded (they change no count)."""
    cell = Cell(grid.stand_in(paper_dataset), method, grid.params["seeds"][0])
    cfg = grid.cell_config(cell)
    cfg["train"] = {**cfg["train"], "pretrained": "none"}
    num_classes = _read(grid.metrics(cell))["train"]["num_classes"]
    torch.manual_seed(0)
    return model_cost(models.build(cfg, num_classes), cfg["train"]["height"], cfg["train"]["width"])


def _run_value(meta: dict, key: str) -> tuple[float | None, str | None]:
    """(value, device kind) of a run's `imgs_per_s` or `peak_memory`."""
    if key == "peak_memory":
        peak = meta.get("peak_memory")
        return (peak["mb"], peak["kind"]) if peak else (None, None)
    return meta.get(key), meta.get("device", "").split(":")[0]


def run_ratios(grid, table: PairedTable, method: str, key: str) -> tuple[list[float], list[float]]:
    """(the method's own values, its ratios to the base's) over the (dataset, seed) pairs where both exist."""
    own, ratios = [], []
    for ds in table.datasets:
        for seed in grid.params["seeds"]:
            (v, kind), (b, base_kind) = (_run_value(_metrics(grid, table, ds, m, seed)["train"], key)
                                         for m in (method, table.base))
            if v is not None and b and kind == base_kind:
                own.append(v)
                ratios.append(v / b)
    return own, ratios


def long_form(table: PairedTable, grid) -> pd.DataFrame:
    seeds = grid.params["seeds"]
    recs = []
    costs = {row.method: model_costs(grid, row.method, table.datasets[0]) for row in table.rows}
    base_cost = costs[table.base]
    for row in table.rows:
        for ds in table.datasets:
            for metric in table.metrics:
                vals = {m: [metric_value(_metrics(grid, table, ds, m, s), metric, row.rerank, row.query) for s in seeds]
                        for m in (row.method, table.base)}
                own = [v for v in vals[row.method] if v is not None]
                eff = paired_effect(vals[row.method], vals[table.base]) if row.method != table.base else None
                recs.append({"row": row.label, "method": row.method, "kind": "metric", "dataset": ds,
                             "stand_in": grid.stand_in(ds), "metric": metric,
                             "mean": float(np.mean(own)) if own else None,
                             "std": float(np.std(own, ddof=1)) if len(own) > 1 else None, "n_seeds": len(own),
                             "diff_mean": eff.mean if eff else None, "diff_std": eff.std if eff else None,
                             "ci_lo": eff.lo if eff else None, "ci_hi": eff.hi if eff else None})
        c = costs[row.method]
        fixed = {"params": c["params"], "added_params": c["params"] - base_cost["params"],
                 "inference_params": c["inference_params"],
                 "added_inference_params": c["inference_params"] - base_cost["inference_params"],
                 "inference_gflops": c["inference_flops"] / 1e9,
                 "inference_flops_rel": c["inference_flops"] / base_cost["inference_flops"]}
        for name, value in fixed.items():
            recs.append({"row": row.label, "method": row.method, "kind": "cost", "metric": name, "mean": value})
        for key, name in (("imgs_per_s", "train_imgs_per_s"), ("peak_memory", "peak_memory_mb")):
            own, ratios = run_ratios(grid, table, row.method, key)
            for metric, vals in ((name, own), (f"{name}_rel", ratios)):
                recs.append({"row": row.label, "method": row.method, "kind": "cost", "metric": metric,
                             "mean": float(np.mean(vals)) if vals else None,
                             "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else None, "n_seeds": len(vals)})
    return pd.DataFrame(recs)


def _num(v, spec: str) -> str:
    return "n/a" if v is None or pd.isna(v) else format(v, spec)


def _accuracy_cell(r, is_base: bool) -> str:
    text = _num(r["mean"], ".1f") + (f" ± {r['std']:.1f}" if not pd.isna(r["std"]) else "")
    if is_base or pd.isna(r["diff_mean"]):
        return text
    ci = f" [{r['ci_lo']:+.1f}, {r['ci_hi']:+.1f}]" if not pd.isna(r["ci_lo"]) else ""
    return f"{text} (Δ {r['diff_mean']:+.1f}{ci})"


def _cost_cells(sub: pd.DataFrame) -> list[str]:
    c = {r["metric"]: r["mean"] for _, r in sub.iterrows()}
    mega = lambda n: _num(None if n is None or pd.isna(n) else n / 1e6, ".2f")  # noqa: E731
    added = lambda n: "n/a" if n is None or pd.isna(n) else f"{n / 1e6:+.3f}"  # noqa: E731
    return [mega(c["params"]), added(c["added_params"]), mega(c["inference_params"]),
            added(c["added_inference_params"]),
            f"{_num(c['inference_gflops'], '.2f')} (×{_num(c['inference_flops_rel'], '.2f')})",
            f"{_num(c['train_imgs_per_s'], '.1f')} (×{_num(c['train_imgs_per_s_rel'], '.2f')})",
            f"{_num(c['peak_memory_mb'], '.0f')} (×{_num(c['peak_memory_mb_rel'], '.2f')})"]


COST_HEADERS = ["Method", "Params (M)", "Added (M)", "Inference params (M)", "Added at inference (M)",
                "Inference GFLOPs/img (× base)", "Train img/s (× base)", "Peak train memory MiB (× base)"]


def _memory_note(grid, table: PairedTable) -> str:
    kinds = {(_metrics(grid, table, ds, row.method, s)["train"].get("peak_memory") or {}).get("kind")
             for row in table.rows for ds in table.datasets for s in grid.params["seeds"]}
    named = sorted(MEMORY_KINDS.get(k, k) for k in kinds if k)
    return ("Peak train memory: " + " and ".join(named) + "." if named else "") + (
        " Runs without a recorded peak show n/a." if None in kinds else "")


def budget_note(table: PairedTable, grid) -> str:
    """What the base's runs were: backbone, input size, epochs, and their weights (from the run meta)."""
    cell = Cell(grid.stand_in(table.datasets[0]), table.base, grid.params["seeds"][0])
    t = grid.cell_config(cell)["train"]
    weights = _read(grid.metrics(cell))["train"].get("pretrained")
    return (f"These runs: {t['backbone']}, {t['height']}×{t['width']}, {t['epochs']} epochs, "
            + ("trained from scratch (no ImageNet weights)." if weights == "none" else f"initial weights {weights}."))


def render(table: PairedTable, grid, out_md: str) -> None:
    df = long_form(table, grid)
    seeds = grid.params["seeds"]
    acc = df[df.kind == "metric"]
    headers = ["Method"] + [f"{DATASET_TITLES.get(d, d)} {m}" for d in table.datasets for m in table.metrics]
    body = [[row.label] + [_accuracy_cell(r, row.method == table.base) for _, r in acc[acc.row == row.label].iterrows()]
            for row in table.rows]
    cost_body = [[row.label] + _cost_cells(df[(df.kind == "cost") & (df.row == row.label)]) for row in table.rows]
    notes = [table.caption,
             f"Accuracy: mean ± std over seeds {seeds} (profile `{grid.profile}`), percentages; Δ: the difference "
             f"to the base paired by seed, with its {100 * LEVEL:.0f}% t-interval over the seeds (none below two "
             "seeds). No paper reports these numbers.",
             "Costs: parameters of the training model and of the test-time network, added to the base's; inference "
             "FLOPs of one image at the recipe's input size (torch.utils.flop_counter); training img/s and peak "
             "memory of the same runs, × base: the ratio to the base's run of the same dataset and seed, averaged. "
             + _memory_note(grid, table),
             budget_note(table, grid), recipe_note(table, grid), stand_in_note(table, grid)]
    notes = [n for n in notes if n]

    def md_table(h, rows):
        return ["| " + " | ".join(h) + " |", "|" + "---|" * len(h)] + ["| " + " | ".join(r) + " |" for r in rows]

    md = [f"# {table.title}", ""] + md_table(headers, body) + ["", "Costs:", ""] + md_table(COST_HEADERS, cost_body)
    md += [""] + notes
    base = Path(out_md)
    write_text(base.with_suffix(".md"), "\n".join(md) + "\n")
    write_text(base.with_suffix(".csv"), df.to_csv(index=False))
    esc = lambda s: (s.replace("±", r"$\pm$").replace("Δ", r"$\Delta$").replace("×", r"$\times$")  # noqa: E731
                     .replace("_", r"\_").replace("%", r"\%"))

    def tex_table(h, rows):
        return ([r"\begin{tabular}{l" + "c" * (len(h) - 1) + "}", r"\hline", " & ".join(esc(x) for x in h) + r" \\",
                 r"\hline"] + [" & ".join(esc(x) for x in r) + r" \\" for r in rows] + [r"\hline", r"\end{tabular}"])

    tex = [r"\begin{table}", r"\centering", f"\\caption{{{esc(table.title)}. {esc(' '.join(notes))}}}"]
    tex += tex_table(headers, body) + [r"\\[1ex]"] + tex_table(COST_HEADERS, cost_body) + [r"\end{table}"]
    write_text(base.with_suffix(".tex"), "\n".join(tex) + "\n")
