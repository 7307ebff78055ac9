"""The claims ledger: which of the papers' comparative claims (papers.CLAIMS) this profile's runs support.

Each comparison (better arm vs worse arm, one dataset, one metric) is scored by the difference
better - worse per seed, paired by seed (both arms' cells share the seed); reproduced effect = mean
± std (ddof 1) of those differences, with a two-sided 95% t-interval over the seeds. Verdict of a
comparison: supported when the interval lies above zero (the paper's side), contradicted when it
lies below, inconclusive when it spans zero or fewer than 2 seeds have both arms. A claim is
supported when every comparison is, contradicted when any is, inconclusive otherwise. A claim
whose cells this profile does not build is listed as not built. Each verdict line names what the
numbers rest on (synthetic stand-ins, backbones trained from scratch), so a CPU check is never
read as a reproduction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from attnreid import papers
from attnreid.atomic import write_text
from attnreid.errors import InputError
from attnreid.papers.spec import DATASET_TITLES, Arm, Claim
from attnreid.report.tables import metric_value

LEVEL = 0.95
SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"

# (arm, paper dataset, metric, seed) -> percentage, or None when that run has no such number
Values = Callable[[Arm, str, str, int], "float | None"]


@dataclass(frozen=True)
class Effect:
    n: int
    mean: float | None
    std: float | None
    lo: float | None
    hi: float | None
    verdict: str


def paired_effect(better: list[float | None], worse: list[float | None]) -> Effect:
    """better - worse over the seeds where both exist; mean, std, 95% t-interval and the verdict."""
    d = np.array([b - w for b, w in zip(better, worse, strict=True) if b is not None and w is not None], float)
    if len(d) == 0:
        return Effect(0, None, None, None, None, INCONCLUSIVE)
    mean = float(d.mean())
    if len(d) < 2:
        return Effect(1, mean, None, None, None, INCONCLUSIVE)
    std = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(d) - 1)) * std / np.sqrt(len(d))
    lo, hi = mean - half, mean + half
    verdict = SUPPORTED if lo > 0 else CONTRADICTED if hi < 0 else INCONCLUSIVE
    return Effect(len(d), mean, std, lo, hi, verdict)


def claim_verdict(verdicts: list[str]) -> str:
    if verdicts and all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return CONTRADICTED if CONTRADICTED in verdicts else INCONCLUSIVE


def reported(claim: Claim, arm: Arm, dataset: str, metric: str) -> float | None:
    """The paper's number for an arm: the first row of the claim's tables with its (method, rerank, query)."""
    for tid in claim.tables:
        for row in papers.table(tid).rows:
            if (row.method, row.rerank, row.query) == (arm.method, arm.rerank, arm.query):
                val = row.reported.get(f"{dataset}/{metric}")
                if val is not None:
                    return val
    return None


def comparisons(claim: Claim):
    """(comparison, dataset, metric) of a claim, in order."""
    return [(c, d, m) for c in claim.comparisons for d in c.datasets for m in c.metrics]


def score(claim: Claim, values: Values, seeds: list[int]) -> tuple[list[dict], str]:
    """One record per (comparison, dataset, metric) and the claim's verdict."""
    recs = []
    for comp, ds, metric in comparisons(claim):
        eff = paired_effect([values(comp.better, ds, metric, s) for s in seeds],
                            [values(comp.worse, ds, metric, s) for s in seeds])
        pb, pw = reported(claim, comp.better, ds, metric), reported(claim, comp.worse, ds, metric)
        recs.append({"claim": claim.id, "better": str(comp.better), "worse": str(comp.worse), "dataset": ds,
                     "metric": metric, "paper_effect": None if pb is None or pw is None else round(pb - pw, 2),
                     "n_seeds": eff.n, "mean": eff.mean, "std": eff.std, "ci_lo": eff.lo, "ci_hi": eff.hi,
                     "verdict": eff.verdict})
    return recs, claim_verdict([r["verdict"] for r in recs])


# -- reading a profile's runs --------------------------------------------------------------------
def claim_tests(grid, claim: Claim) -> set:
    """Every (cell, test dataset) a claim reads, mapped as its first table maps cells."""
    table = papers.table(claim.tables[0])
    return {grid.table_test(table, ds, arm.method, s) for comp, ds, _ in comparisons(claim)
            for arm in (comp.better, comp.worse) for s in grid.params["seeds"]}


def built_tests(grid) -> set:
    """The (cell, test dataset) pairs this profile's tables evaluate."""
    return {p for t in grid.params["tables"] for p in grid.table_tests(t)}


def evaluable(grid) -> list[Claim]:
    """The claims whose every cell this profile trains and evaluates (no claim adds a cell)."""
    built, out = built_tests(grid), []
    for c in papers.CLAIMS.values():
        try:
            if claim_tests(grid, c) <= built:
                out.append(c)
        except InputError:  # a dataset with no stand-in in this profile
            pass
    return out


def metrics_files(grid) -> list[str]:
    return sorted({grid.metrics(*p) for c in evaluable(grid) for p in claim_tests(grid, c)})


def _basis(grid, claim: Claim, read: Callable[[str], dict]) -> str:
    """What a claim's numbers rest on: synthetic stand-ins, from-scratch backbones, budget."""
    table = papers.table(claim.tables[0])
    tests = sorted(claim_tests(grid, claim), key=lambda p: (p[0], p[1] or ""))
    data = sorted({(d, grid.stand_in(d)) for comp, d, _ in comparisons(claim)}
                  | ({(table.train_on, grid.stand_in(table.train_on))} if table.train_on else set()))
    synthetic = [f"{DATASET_TITLES.get(d, d)} → {s}" for d, s in data if grid.is_synthetic(s)]
    scratch = sorted({c.method for c, test in tests if read(grid.metrics(c, test))["train"].get("pretrained") == "none"})
    t = grid.cell_config(tests[0][0])["train"]
    parts = []
    if synthetic:
        parts.append("synthetic stand-ins (" + "; ".join(synthetic) + ")")
    if scratch:
        parts.append(f"{t['backbone']} trained from scratch, no ImageNet weights ({', '.join(scratch)})")
    budget = f"{t['backbone']}, {t['height']}×{t['width']}, {t['epochs']} epochs"
    if not parts:
        return f"on the real datasets with ImageNet weights ({budget})"
    return "on " + " and ".join(parts) + f"; {budget}: a CPU check of the pipeline, not a reproduction"


def _fmt(v, spec=".1f", sign=True) -> str:
    return "–" if v is None or pd.isna(v) else format(v, ("+" if sign else "") + spec)


def render(grid, out_md: str) -> None:
    """results/claims.md and .csv: every claim, its comparisons and verdict for this profile's runs."""
    cache: dict[str, dict] = {}

    def read(path: str) -> dict:
        if path not in cache:
            cache[path] = json.loads(Path(path).read_text())
        return cache[path]

    def values(claim: Claim) -> Values:
        table = papers.table(claim.tables[0])

        def value(arm: Arm, ds: str, metric: str, seed: int) -> float | None:
            return metric_value(read(grid.metrics(*grid.table_test(table, ds, arm.method, seed))), metric,
                           arm.rerank, arm.query)
        return value

    seeds = grid.params["seeds"]
    built = {c.id for c in evaluable(grid)}
    md = [f"# Claims ledger — profile `{grid.profile}`", "",
          f"Each paper's comparative claims against this profile's runs (seeds {seeds}). Effect = better − worse "
          "in percentage points, paired by seed: mean ± std over seeds and the 95% t-interval. A comparison is "
          "supported when its interval lies above zero (the paper's side), contradicted when below, inconclusive "
          "when it spans zero or fewer than 2 seeds ran; a claim is supported when every comparison is, "
          "contradicted when any is. 'paper': the effect the paper's own numbers show.", ""]
    recs, summary, missing = [], [], []
    for claim in papers.CLAIMS.values():
        if claim.id not in built:
            missing.append(claim.id)
            continue
        rows, verdict = score(claim, values(claim), seeds)
        recs += [{**r, "claim_verdict": verdict} for r in rows]
        summary.append((claim.id, verdict))
        md += [f"## `{claim.id}`: {claim.statement}", "", f"Source: {claim.source}", "",
               f"**Verdict: {verdict}** — {_basis(grid, claim, read)}.", "",
               "| better | worse | dataset (stand-in) | metric | paper | reproduced (mean ± std) | 95% interval | n | verdict |",
               "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            std = f" ± {r['std']:.1f}" if r["std"] is not None else ""
            ci = f"[{_fmt(r['ci_lo'])}, {_fmt(r['ci_hi'])}]" if r["ci_lo"] is not None else "–"
            md.append(f"| {r['better']} | {r['worse']} | {DATASET_TITLES.get(r['dataset'], r['dataset'])} "
                      f"({grid.stand_in(r['dataset'])}) | {r['metric']} | {_fmt(r['paper_effect'], '.2f')} | "
                      f"{_fmt(r['mean'])}{std} | {ci} | {r['n_seeds']} | {r['verdict']} |")
        md.append("")
    counts = {v: sum(1 for _, x in summary if x == v) for v in (SUPPORTED, CONTRADICTED, INCONCLUSIVE)}
    head = [f"Of the {len(summary)} claims this profile's runs can test: " +
            ", ".join(f"{n} {v}" for v, n in counts.items()) + "."]
    if missing:
        head.append(f"Not built in this profile (their cells are not trained here): {', '.join(f'`{m}`' for m in missing)}.")
    md[4:4] = head + [""]
    base = Path(out_md)
    write_text(base.with_suffix(".md"), "\n".join(md) + "\n")
    cols = ["claim", "claim_verdict", "better", "worse", "dataset", "metric", "paper_effect", "n_seeds", "mean", "std",
            "ci_lo", "ci_hi", "verdict"]
    write_text(base.with_suffix(".csv"), pd.DataFrame(recs, columns=cols).to_csv(index=False))
