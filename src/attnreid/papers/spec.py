"""A paper's tables and figures as data: rows (method configs), columns (dataset, metric), reported numbers.

Datasets are named by the paper dataset (market1501, dukemtmc, ...); the profile's `stand_ins`
maps each to the data that stands for it. Methods are keys of params.yaml `methods`; a row with
no method is another paper's row, shown with its reported numbers only.
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
class Figure:
    """A figure drawn by `viz.<kind>` from the cells of `methods` x `datasets`."""

    id: str
    title: str
    kind: str
    methods: tuple[str, ...]
    datasets: tuple[str, ...]
    caption: str = ""
