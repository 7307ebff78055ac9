"""A paper's tables and figures as data: rows (method configs), columns (dataset, metric), reported numbers.

Datasets are named by the paper dataset (market1501, dukemtmc, ...); the profile's `stand_ins`
maps each to the data that stands for it. Methods are keys of params.yaml `methods`; a row with
no method is another paper's row, shown with its reported numbers only.

A paper's comparative claims are data too (`Claim`): the sentence they rest on, the comparisons
(one arm better than another on datasets x metrics) and, through the table rows the arms name, the
effect the paper reports. report/claims.py says which of them the profile's runs support.
"""
from __future__ import annotations

from dataclasses import dataclass, field

METRICS = ("R1", "R3", "R5", "R10", "mAP", "mINP")
DATASET_TITLES = {
    "market1501": "Market-1501",
    "dukemtmc": "DukeMTMC-reID",
    "cuhk03_labeled": "CUHK03-NP labeled",
    "cuhk03_detected": "CUHK03-NP detected",
    "msmt17": "MSMT17",
    "cuhk03_classic": "CUHK03 (classic, detected)",
    "partial_reid": "Partial-REID",
    "partial_ilids": "Partial-iLIDS",
}


@dataclass(frozen=True)
class Row:
    """One table row. `reported` maps "dataset/metric" to the paper's number (percent).
    `query`: "single" (the standard protocol) or "multi" (Market-1501 multi-query, from gt_bbox)."""

    label: str
    method: str | None = None
    rerank: bool = False
    reported: dict[str, float] = field(default_factory=dict)
    query: str = "single"


@dataclass(frozen=True)
class Table:
    id: str  # "<paper>/<table>", also its output path under results/tables/
    title: str
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    rows: tuple[Row, ...]
    caption: str = ""
    train_on: str | None = None  # a paper dataset: train there, test on `datasets` (cross-dataset tables)

    def methods(self) -> list[str]:
        return sorted({r.method for r in self.rows if r.method})


@dataclass(frozen=True)
class PairedTable(Table):
    """Methods against one of them, `base`, on the same cells' seeds: mean ± std, the paired difference
    to the base with its 95% interval (report/claims.py's statistics) and the costs relative to the
    base (report/compare.py). No paper numbers: no paper ran these."""

    base: str = ""


@dataclass(frozen=True)
class FactTable:
    """A table of facts computed beside the paper's, not results of runs: `kind` `dataset_stats`
    (each of `datasets`, from its stand-in's prepared index) or `layers` (the branch layers of the
    model `method` builds under this profile). `paper`: row label -> column -> the paper's entry."""

    id: str
    title: str
    kind: str
    columns: tuple[str, ...]
    paper: dict[str, dict[str, str | int]]
    datasets: tuple[str, ...] = ()
    method: str | None = None
    caption: str = ""
    train_on: str | None = None

    def methods(self) -> list[str]:
        return []  # no cell is trained for it


@dataclass(frozen=True)
class Figure:
    """A figure drawn by `viz.<kind>` from the cells of `methods` x `datasets`."""

    id: str
    title: str
    kind: str
    methods: tuple[str, ...]
    datasets: tuple[str, ...]
    caption: str = ""


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a method's cells, evaluated as a table row is (re-ranked or not,
    single or multi-query). Its reported numbers are those of the row of the claim's tables with
    the same (method, rerank, query)."""

    method: str
    rerank: bool = False
    query: str = "single"

    def __str__(self) -> str:
        return self.method + (" +RR" if self.rerank else "") + (" (multi-query)" if self.query == "multi" else "")


@dataclass(frozen=True)
class Comparison:
    """`better` has the higher value than `worse` on each dataset x metric (percentages, higher is better)."""

    better: Arm
    worse: Arm
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """A comparative claim of a paper's experiments. `source`: the sentence or table it rests on;
    `tables`: the tables whose rows give the paper's numbers (the first also maps a method and
    dataset to its cell, as the table does). It holds when every comparison does."""

    id: str
    statement: str
    source: str
    tables: tuple[str, ...]
    comparisons: tuple[Comparison, ...]


def _arm(a: str | Arm) -> Arm:
    return a if isinstance(a, Arm) else Arm(a)


def beats(better: str | Arm, worse, datasets: tuple[str, ...], metrics: tuple[str, ...]) -> tuple[Comparison, ...]:
    """`better` against each of `worse` (one arm or a sequence), on every dataset x metric."""
    worse = (worse,) if isinstance(worse, (str, Arm)) else tuple(worse)
    return tuple(Comparison(_arm(better), _arm(w), tuple(datasets), tuple(metrics)) for w in worse)


def chain(arms, datasets: tuple[str, ...], metrics: tuple[str, ...]) -> tuple[Comparison, ...]:
    """A ranking, best last: each arm beats the one before it."""
    arms = [_arm(a) for a in arms]
    return tuple(Comparison(b, a, tuple(datasets), tuple(metrics)) for a, b in zip(arms, arms[1:]))
