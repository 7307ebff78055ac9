"""CAM-guided (Li, Zhang, Coleman, Shi: A CAM-guided Parameter-free Attention Network for Person
Re-Identification): Tables I and II, Figs. 2 and 3, and the test-set MSE between CAM and spatial
attention (beyond the paper). Numbers are transcribed from the paper's tables (percent).

Methods (params.yaml `methods`, model `camguided`): `camg-baseline` (no attention), `camg-s`,
`camg-c`, `camg-s-c`, `camg-c-s`, `camg-sxc` (S*C, the paper's model), one recipe (section III-B).
"""
from __future__ import annotations

from attnreid.papers.spec import Arm, Claim, Figure, Row, Table, beats

DATASETS = ("market1501", "dukemtmc", "msmt17")
ARRANGEMENTS = (("Baseline", "camg-baseline"), ("S", "camg-s"), ("C", "camg-c"), ("S-C", "camg-s-c"),
                ("C-S", "camg-c-s"), ("S*C", "camg-sxc"))
EMBEDDING_NOTE = "Inference feature: the pooled BN-neck output, Euclidean distance."


def _reported(*values: float | None) -> dict[str, float]:
    """(R1, mAP) per dataset of DATASETS, in order; None where the paper has '-'."""
    keys = [f"{d}/{m}" for d in DATASETS for m in ("R1", "mAP")]
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


TABLE1_REPORTED = {
    "camg-baseline": _reported(93.2, 82.6, 88.1, 75.3, 76.1, 51.2),
    "camg-s": _reported(94.2, 84.2, 89.2, 77.5, 77.5, 52.6),
    "camg-c": _reported(94.4, 84.3, 89.0, 77.7, 78.0, 53.0),
    "camg-s-c": _reported(94.0, 84.5, 89.0, 77.1, 78.3, 52.7),
    "camg-c-s": _reported(93.9, 84.7, 88.8, 77.4, 78.5, 52.7),
    "camg-sxc": _reported(94.7, 85.1, 89.9, 78.8, 79.3, 53.7),
}

TABLE1 = Table(
    id="camguided/table1",
    title="CAM-guided Table I: ablation of the attention arrangements (no re-ranking)",
    datasets=DATASETS,
    metrics=("R1", "mAP"),
    rows=tuple(Row(label, method, reported=TABLE1_REPORTED[method]) for label, method in ARRANGEMENTS),
    caption="Baseline: ResNet-50 (last stride 1), BN neck, 1x1-conv classifier before GAP; S: spatial attention "
            "X A_s; C: channel attention X A_c; S-C / C-S: in sequence; S*C: in parallel, multiplied. Every "
            "model with attention is trained with the CAM-supervised attention loss (lambda 0.01). " + EMBEDDING_NOTE,
)

TABLE2 = Table(
    id="camguided/table2",
    title="CAM-guided Table II: comparison with the state of the art",
    datasets=DATASETS,
    metrics=("R1", "mAP"),
    rows=(
        Row("HA-CNN [1]", reported=_reported(91.2, 75.7, 80.5, 63.8, None, None)),
        Row("CASN [2]", reported=_reported(94.4, 82.8, 87.7, 73.7, None, None)),
        Row("AANet [3]", reported=_reported(93.9, 83.4, 87.7, 74.3, None, None)),
        Row("IANet [23]", reported=_reported(94.4, 83.1, 87.1, 73.4, 75.5, 46.8)),
        Row("PCB+RPP [24]", reported=_reported(93.8, 81.6, 83.3, 69.2, 68.2, 40.4)),
        Row("VPM [25]", reported=_reported(93.0, 80.8, 83.6, 72.6, None, None)),
        Row("Li et al. [26]", reported=_reported(90.2, 82.7, 81.0, 78.0, None, None)),
        Row("ResNet50+CE-SAN [8]", reported=_reported(94.1, 84.1, 84.8, 74.2, 77.3, 55.0)),
        Row("PFFN [27]", reported=_reported(95.1, 84.6, 88.9, 78.7, 72.9, 48.2)),
        Row("Ours (S*C)", "camg-sxc", reported=TABLE1_REPORTED["camg-sxc"]),
        Row("Wang et al. [12] (PFSA, re-ranking)", reported=_reported(94.7, 91.7, 89.0, 85.9, None, None)),
        Row("Ours (S*C) + re-rank", "camg-sxc", rerank=True, reported=_reported(95.1, 92.7, 90.1, 86.4, None, None)),
    ),
    caption="Other methods' rows are the numbers the CAM-guided paper reports (not reproduced). Re-ranking is "
            "k-reciprocal (eval.rerank); the paper reports it on Market-1501 and DukeMTMC-reID only, so the "
            "re-ranked MSMT17 entry has no paper number. " + EMBEDDING_NOTE,
)

TABLES = (TABLE1, TABLE2)

FIG_METHODS = ("camg-baseline", "camg-s", "camg-c", "camg-sxc")

FIGURES = (
    Figure("camguided/fig2", "CAM-guided Fig. 2: CAM of Baseline, +S, +C, +S*C", "cam", FIG_METHODS, ("market1501",),
           caption="The 1x1 classifier's score map (stage 4) of each image's own class, on the same training images."),
    Figure("camguided/fig3", "CAM-guided Fig. 3: rank lists of Baseline, +S, +C, +S*C (top 10; red: error)",
           "ranklist", FIG_METHODS, ("market1501",),
           caption="The same queries for every model; same-camera images of the query's identity are left out."),
    Figure("camguided/cam_mse", "MSE between CAM and spatial attention A_s (test set; beyond the paper)", "cam_mse",
           tuple(method for _, method in ARRANGEMENTS), ("market1501",),
           caption="Eq. (5) per test image (CAM of the top-1 class, min-max normalised; A_s of the stage-4 map; both "
                   "up-sampled to the input size), averaged; the Baseline is trained without the attention loss."),
)

RM = ("R1", "mAP")
ATTENTION = tuple(method for _, method in ARRANGEMENTS[1:])
CLAIMS = (
    Claim("camguided/attention-helps", "Every attention arrangement beats the Baseline on all three datasets",
          "Section IV-C1: 'compared with the baseline model, the performance of the model that incorporates the "
          "attention mechanism is improved in all cases.'", ("camguided/table1",),
          tuple(c for m in ATTENTION for c in beats(m, "camg-baseline", DATASETS, RM))),
    Claim("camguided/sxc-best", "S*C is the best arrangement: it beats the Baseline, S, C, S-C and C-S on all three "
          "datasets", "Section IV-C1: 'a parallel arrangement gives a better result than all the above methods.'",
          ("camguided/table1",), beats("camg-sxc", [m for _, m in ARRANGEMENTS[:-1]], DATASETS, RM)),
    Claim("camguided/rerank", "Re-ranking improves S*C (Market-1501, DukeMTMC-reID)",
          "Table II: 'Ours (S*C)' against 'Ours (S*C) + re-rank'.", ("camguided/table2",),
          beats(Arm("camg-sxc", rerank=True), "camg-sxc", DATASETS[:2], RM)),
)
