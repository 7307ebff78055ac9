"""The spine's own targets: the baseline of every paper (ResNet + GAP + BN neck + classifier).

No paper reports this exact configuration, so the table carries no reported numbers.
"""
from __future__ import annotations

from attnreid.papers.spec import Figure, Row, Table

TABLES = (
    Table(
        id="baseline/table1",
        title="Baseline: ResNet + GAP + BN neck, cross-entropy",
        datasets=("market1501",),
        metrics=("R1", "R5", "R10", "mAP", "mINP"),
        rows=(
            Row("GAP, no BN neck", "baseline-gap"),
            Row("GAP + BN neck", "baseline"),
            Row("GAP + BN neck + re-ranking", "baseline", rerank=True),
        ),
        caption="Single-query protocol; re-ranking is k-reciprocal (Zhong et al. 2017) with eval.rerank.",
    ),
)

FIGURES = (
    Figure("baseline/cmc", "CMC curves of the baselines (dashed: re-ranked)", "cmc", ("baseline-gap", "baseline"),
           ("market1501",)),
    Figure("baseline/ranklist", "Rank lists of the baseline (top 10; green: true match)", "ranklist",
           ("baseline",), ("market1501",)),
)
