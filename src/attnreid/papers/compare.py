"""One base, every attention (issue 20): the four papers' attention mechanisms on one network, recipe and
data — BoT (params.yaml `compare-base`, its recipe named there) — with their costs. Beyond the papers:
no paper reports these numbers, so the table has none; each mechanism is applied as its paper applies
it to its own base (src/attnreid/models/compare.py says how each was adapted to BoT).

Methods: `compare-base` (BoT), `compare-pfsa-sa`, `compare-camg-sc`, `compare-sag-d4`, `compare-daaf`.
"""
from __future__ import annotations

from attnreid.papers.spec import Figure, PairedTable, Row

DATASETS = ("market1501", "dukemtmc")
BASE = "compare-base"
ROWS = (
    ("BoT (the base)", BASE),
    ("+ PFSA: SA on stage 4, deep supervision with SA", "compare-pfsa-sa"),
    ("+ CAM-guided: S*C, CAM loss", "compare-camg-sc"),
    ("+ SAG at D4, x2 high-resolution branch", "compare-sag-d4"),
    ("+ DAAF: HAB + PAB (training only)", "compare-daaf"),
)

TABLES = (
    PairedTable(
        id="compare/table1",
        title="One base, every attention: the four papers' mechanisms on BoT, with their costs",
        datasets=DATASETS,
        metrics=("R1", "mAP", "mINP"),
        rows=tuple(Row(label, method) for label, method in ROWS),
        base=BASE,
        caption="Every model: ResNet-50 with last stride 1, BN neck, CE (label smoothing) + batch-hard triplet + "
                "center loss, BoT's recipe and augmentation (params.yaml `compare-base`); each paper's mechanism "
                "inserted where that paper inserts it. Test feature: the BN-neck output, L2-normalised, Euclidean "
                "distance, no re-ranking. DAAF's branches are dropped at test time.",
    ),
)

FIGURES = (
    Figure("compare/fig1", "Accuracy against inference cost: each mechanism on BoT (error bars: std over seeds)",
           "cost_accuracy", tuple(method for _, method in ROWS), DATASETS,
           caption="x: inference GFLOPs per image at the recipe's input size (torch.utils.flop_counter); y: mAP, "
                   "mean ± std over seeds. DAAF's training-only branches cost nothing at test time."),
)
