"""PFSA (Wang, Fan, Wang, Jiao, Schiele: Parameter-Free Spatial Attention Network for Person
Re-Identification): Tables 1-3, Figs. 1, 5, 6, and a CAM-spread measure of the paper's claim that SA
spreads attention. Numbers are transcribed from the paper's tables (percent).

Methods (params.yaml `methods`, model `pfsa`): `pfsa-full` is the paper's model (P + DS + SA2,
random erasing); `pfsa-full-nosa` the same without SA; `pfsa-t2-*` the Table 2 ablation (no random
erasing). All match the stage-4 stripe features (`embedding: stripes`).
"""
from __future__ import annotations

from attnreid.papers.spec import Arm, Claim, Figure, Row, Table, beats

DATASETS = ("market1501", "dukemtmc", "cuhk03_labeled", "cuhk03_detected")
EMBEDDING_NOTE = ("Inference feature: the six stage-4 stripe averages concatenated (model arg `embedding: stripes`), "
                  "Euclidean distance.")


def _reported(*values: float | None) -> dict[str, float]:
    """(R1, mAP) per dataset of DATASETS, in order; None where the paper has '-'."""
    keys = [f"{d}/{m}" for d in DATASETS for m in ("R1", "mAP")]
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


TABLE1 = Table(
    id="pfsa/table1",
    title="PFSA Table 1: comparison with the state of the art (random erasing, re-ranking)",
    datasets=DATASETS,
    metrics=("R1", "mAP"),
    rows=(
        Row("SVD-net [39]", reported=_reported(89.1, 83.9, 84.0, 78.3, None, None, 41.5, 37.6)),
        Row("OIM loss [30]", reported=_reported(82.1, 60.9, 68.1, 47.4, None, None, None, None)),
        Row("DPFL [3]", reported=_reported(88.9, 73.1, 79.2, 60.6, 43.0, 40.5, 40.7, 37.0)),
        Row("PAN [37]", reported=_reported(82.2, 63.3, 71.6, 51.6, 36.9, 35.0, 36.3, 34.0)),
        Row("FMN [4]", reported=_reported(87.9, 80.6, 79.5, 72.8, 46.0, 47.5, 47.5, 48.5)),
        Row("HPM [8]", reported=_reported(94.2, 82.7, 86.6, 74.3, None, None, 63.9, 57.5)),
        Row("PCB+RPP [25]", reported=_reported(93.8, 81.6, 83.3, 69.2, None, None, 63.7, 57.5)),
        Row("HA-CNN [12]", reported=_reported(91.2, 75.7, 80.5, 63.8, 44.4, 41.0, 41.7, 38.6)),
        Row("Mancs [27]", reported=_reported(93.1, 82.3, 84.9, 71.8, 69.0, 63.9, 65.5, 60.5)),
        Row("DaRe(R)+RE+RR [29]", reported=_reported(90.8, 85.9, 84.4, 79.6, 72.9, 73.7, 69.8, 71.2)),
        Row("Ours (P + DS + SA2, RE, re-ranking)", "pfsa-full", rerank=True,
            reported=_reported(94.7, 91.7, 89.0, 85.9, 74.9, 76.5, 69.7, 72.2)),
    ),
    caption="Other methods' rows are the numbers the PFSA paper reports (not reproduced). 'Ours' is trained with "
            "random erasing and evaluated with k-reciprocal re-ranking (eval.rerank). " + EMBEDDING_NOTE,
)

TABLE2 = Table(
    id="pfsa/table2",
    title="PFSA Table 2: ablation on Market-1501 (no random erasing, no re-ranking)",
    datasets=("market1501",),
    metrics=("R1", "mAP"),
    rows=(
        Row("Backbone (SA1 no)", "pfsa-t2-backbone", reported={"market1501/R1": 84.8, "market1501/mAP": 67.0}),
        Row("Backbone (SA1 yes)", "pfsa-t2-backbone-sa1", reported={"market1501/R1": 87.4, "market1501/mAP": 68.1}),
        Row("Backbone + DS (SA1 no, SA2 no)", "pfsa-t2-ds",
            reported={"market1501/R1": 86.2, "market1501/mAP": 68.3}),
        Row("Backbone + DS (SA1 no, SA2 yes)", "pfsa-t2-ds-sa2",
            reported={"market1501/R1": 86.6, "market1501/mAP": 68.8}),
        Row("Backbone + DS (SA1 yes, SA2 yes)", "pfsa-t2-ds-sa1-sa2",
            reported={"market1501/R1": 87.1, "market1501/mAP": 69.4}),
        Row("Backbone + P + DS (SA1 no, SA2 no)", "pfsa-t2-p-ds",
            reported={"market1501/R1": 91.7, "market1501/mAP": 77.0}),
        Row("Backbone + P + DS (SA1 no, SA2 yes)", "pfsa-t2-p-ds-sa2",
            reported={"market1501/R1": 92.4, "market1501/mAP": 78.2}),
        Row("Backbone + P + DS (SA1 yes, SA2 yes)", "pfsa-t2-p-ds-sa1-sa2",
            reported={"market1501/R1": 92.6, "market1501/mAP": 78.3}),
    ),
    caption="Backbone: ResNet-50 + one 2048->256 conv + classifier; DS: deep supervision on stages 1-3; "
            "P: six part classifiers; SA1: SA on the stage-4 map; SA2: SA in the DS branches. "
            "Trained without random erasing. " + EMBEDDING_NOTE,
)

TABLE3 = Table(
    id="pfsa/table3",
    title="PFSA Table 3: the full architecture with and without SA (random erasing, no re-ranking)",
    datasets=DATASETS,
    metrics=("R1", "mAP"),
    rows=(
        Row("+SA", "pfsa-full", reported=_reported(93.3, 81.7, 84.3, 72.1, 64.3, 61.4, 58.9, 57.5)),
        Row("-SA", "pfsa-full-nosa", reported=_reported(92.5, 79.6, 83.4, 70.3, 61.9, 60.3, 57.8, 55.8)),
    ),
    caption="The architecture of section 3.1 (P + DS, SA2 on or off; SA1 off). " + EMBEDDING_NOTE,
)

TABLES = (TABLE1, TABLE2, TABLE3)

FIGURES = (
    Figure("pfsa/fig1", "PFSA Fig. 1: CAM on training images, GAP with SA (SA1) and plain GAP", "cam",
           ("pfsa-t2-backbone-sa1", "pfsa-t2-backbone"), ("market1501",),
           caption="Stage-4 CAM of the ablation's Backbone with and without SA before GAP, for the image's class."),
    Figure("pfsa/fig5", "PFSA Fig. 5: CAM of stages 1-4 with and without SA", "cam",
           ("pfsa-full", "pfsa-full-nosa"), ("market1501",),
           caption="Stages 1-3: the deep-supervision classifiers; stage 4: the main classifier. Training images, "
                   "each for its own class."),
    Figure("pfsa/fig5_spread", "CAM spread with and without SA (test set; beyond the paper)", "cam_spread",
           ("pfsa-full", "pfsa-full-nosa", "pfsa-t2-backbone-sa1", "pfsa-t2-backbone"), ("market1501",),
           caption="Normalised entropy and area above half-maximum of the min-max normalised CAM, averaged over "
                   "test images (top-1 class per branch); higher = attention more spread."),
    Figure("pfsa/fig6", "PFSA Fig. 6: query, same-camera (a) and cross-camera (b) test images; stage-2 CAM",
           "cam_pairs", ("pfsa-full", "pfsa-full-nosa"), ("market1501",),
           caption="Rows: images, CAM with SA, CAM without SA; red frame: the model fails to recognise that image "
                   "(an image of another identity is closer to the query)."),
)

RM = ("R1", "mAP")
T2 = ("market1501",)
CLAIMS = (
    Claim("pfsa/sa-full", "+SA beats -SA (the full architecture, P + DS) on all four datasets",
          "Table 3: 'The models with the spatial attention shows a consistent improvement over the ones without it.'",
          ("pfsa/table3",), beats("pfsa-full", "pfsa-full-nosa", DATASETS, RM)),
    Claim("pfsa/sa-ablation", "Adding SA improves every ablation model it is added to (Market-1501)",
          "Section 5.3 / Table 2: 'The models with the spatial attention layers show a consistent improvement to "
          "the ones without it.'", ("pfsa/table2",),
          beats("pfsa-t2-backbone-sa1", "pfsa-t2-backbone", T2, RM) + beats("pfsa-t2-ds-sa2", "pfsa-t2-ds", T2, RM)
          + beats("pfsa-t2-ds-sa1-sa2", "pfsa-t2-ds-sa2", T2, RM)
          + beats("pfsa-t2-p-ds-sa2", "pfsa-t2-p-ds", T2, RM)
          + beats("pfsa-t2-p-ds-sa1-sa2", "pfsa-t2-p-ds-sa2", T2, RM)),
    Claim("pfsa/deep-supervision", "Deep supervision improves the backbone (Market-1501)",
          "Table 2: Backbone 84.8 / 67.0 against Backbone + DS 86.2 / 68.3 (R1 / mAP).", ("pfsa/table2",),
          beats("pfsa-t2-ds", "pfsa-t2-backbone", T2, RM)),
    Claim("pfsa/parts", "Part classifiers (P) improve the deeply supervised backbone (Market-1501)",
          "Table 2: Backbone + DS 86.2 / 68.3 against Backbone + P + DS 91.7 / 77.0 (R1 / mAP).", ("pfsa/table2",),
          beats("pfsa-t2-p-ds", "pfsa-t2-ds", T2, RM)),
    Claim("pfsa/rerank", "Re-ranking improves the full model on all four datasets",
          "Section 5.1: 'Re-ranking strategy from [38] is also used to further improve the performance' "
          "(Table 1 against Table 3).", ("pfsa/table3", "pfsa/table1"),
          beats(Arm("pfsa-full", rerank=True), "pfsa-full", DATASETS, RM)),
)
