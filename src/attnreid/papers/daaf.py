"""DAAF (Chen, Yang, Shen, Wang, Zhang, Kang, Deng, Yang: Deep Attention Aware Feature Learning for
Person Re-Identification, arXiv 2003.00517): Tables 2-7 and Figs. 5-9. Numbers are transcribed
from the paper's tables (percent).

Methods (params.yaml `methods`): `daaf-trinet-base` / `daaf-bot-base` are the base networks
(models `trinet`, `baseline` as BoT), `daaf-*` the base networks trained with HAB and/or PAB (model
`daaf`), each with its base's recipe. Tables 5 and 7 report differences to TriNet (Table 4's base
network, 65.48 mAP / 82.51 R1); they are stored here as that base plus the difference.
Table 3 is cross-dataset: its cells train on Market-1501 and are tested on Partial-iLIDS and
Partial-REID (`Table.train_on`); its PCB row is method `pcb` (model `pfsa` with six stripes only).
"""
from __future__ import annotations

from attnreid.papers.spec import Arm, Claim, FactTable, Figure, Row, Table, beats

DATASETS = ("market1501", "cuhk03_labeled", "cuhk03_detected", "dukemtmc")
NOTE = ("Inference: the base network alone (HAB and PAB are dropped): TriNet's 128-d embedding or BoT's "
        "BN-neck feature, L2-normalised (BoT's test feature), Euclidean distance. Learning rate 0.001 (section "
        "3.3.1) for the DAAF rows and their base networks alike, each base network's own schedule around it. "
        "Masks and keypoints come from the pseudo_labels stage.")
TRINET_T4 = {"mAP": 65.48, "R1": 82.51}  # Table 4's base network; Tables 5 and 7 are relative to it


def _reported(*values: float | None) -> dict[str, float]:
    """(mAP, R1) per dataset of DATASETS, in order; None where the paper has '-'."""
    keys = [f"{d}/{m}" for d in DATASETS for m in ("mAP", "R1")]
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


def _market(m_ap: float, r1: float) -> dict[str, float]:
    return {"market1501/mAP": round(m_ap, 2), "market1501/R1": round(r1, 2)}


def _over_trinet(d_map: float, d_r1: float) -> dict[str, float]:
    """A Table 5 / 7 difference as an absolute number over Table 4's TriNet."""
    return _market(TRINET_T4["mAP"] + d_map, TRINET_T4["R1"] + d_r1)


_DECONV = {"#channels in": "64", "#channels out": "64", "kernel size": "3x3", "stride": "2"}
TABLE1 = FactTable(
    id="daaf/table1",
    title="DAAF Table 1: the deconvolution and 1x1 convolution layers of HAB and PAB",
    kind="layers",
    method="daaf-trinet",
    columns=("#channels in", "#channels out", "kernel size", "stride"),
    paper={"deconv 1": {**_DECONV, "#channels in": "2048 (HAB) / 341 (PAB)"}, "deconv 2": _DECONV,
           "deconv 3": _DECONV, "deconv 4": _DECONV,
           "1x1 conv": {"#channels in": "64", "#channels out": "1 (HAB) / keypoint groups (PAB)", "kernel size": "1x1",
                        "stride": "1"}},
    caption="Read from the HAB and PAB modules of `daaf-trinet` as this profile builds it (its backbone sets the "
            "input channels: 2048 for ResNet-50; PAB's are floor(C / 6) per channel group); PAB's 1x1 convs list "
            "the keypoints of each group. Each deconvolution is followed by BN and ReLU here (the paper's table "
            "lists the convolutions only).",
)

TABLE2 = Table(
    id="daaf/table2",
    title="DAAF Table 2: comparison with the state of the art (* re-ranking)",
    datasets=DATASETS,
    metrics=("mAP", "R1"),
    rows=(
        Row("HA-CNN [14]", reported=_reported(75.70, 91.20, 41.00, 44.40, 38.60, 41.70, 63.80, 80.50)),
        Row("Mancs [25]", reported=_reported(82.30, 93.10, 63.90, 69.00, 60.50, 65.50, 71.80, 84.90)),
        Row("AACN [27]", reported=_reported(66.87, 85.90, None, None, None, None, 59.25, 76.84)),
        Row("PDC [20]", reported=_reported(63.41, 84.14, None, None, None, None, None, None)),
        Row("PCB [22]", reported=_reported(81.06, 93.80, 57.50, 63.70, None, None, 69.20, 83.30)),
        Row("MGCAM [19]", reported=_reported(74.33, 83.79, 50.21, 50.14, 46.87, 46.71, None, None)),
        Row("SPReID [12]", reported=_reported(83.36, 93.68, None, None, None, None, 73.34, 85.95)),
        Row("TriNet [10]", "daaf-trinet-base", reported=_reported(69.14, 84.92, 54.45, 55.86, 51.98, 52.64, 58.18, 75.36)),
        Row("DAAF-TriNet", "daaf-trinet", reported=_reported(72.63, 87.17, 55.01, 60.34, 54.48, 58.71, 60.12, 77.29)),
        Row("BoT [15]", "daaf-bot-base", reported=_reported(85.90, 94.50, 60.90, 63.30, 58.00, 59.10, 76.40, 86.40)),
        Row("DAAF-BoT", "daaf-bot", reported=_reported(87.90, 95.10, 67.60, 69.00, 63.10, 64.90, 77.90, 87.90)),
        Row("BoT*", "daaf-bot-base", rerank=True,
            reported=_reported(94.20, 95.40, 77.10, 74.40, 73.40, 70.40, 89.10, 90.30)),
        Row("DAAF-BoT*", "daaf-bot", rerank=True,
            reported=_reported(95.00, 96.40, 82.00, 78.70, 77.30, 73.90, 89.60, 91.70)),
    ),
    caption="Other methods' rows are the numbers the DAAF paper reports (not reproduced). * : k-reciprocal "
            "re-ranking (eval.rerank). DAAF = HAB + PAB (keypoints, 6 groups, shared decoder), "
            "lambda_h = lambda_p = 0.003, with the base network's recipe. BoT: triplet + CE + center loss (5e-4; "
            "centers trained by the model's optimiser, not BoT's separate SGD). "
            + NOTE,
)

PARTIAL = ("partial_ilids", "partial_reid")


def _partial(ilids_r1: float, ilids_r3: float, reid_r1: float, reid_r3: float) -> dict[str, float]:
    return {"partial_ilids/R1": ilids_r1, "partial_ilids/R3": ilids_r3,
            "partial_reid/R1": reid_r1, "partial_reid/R3": reid_r3}


TABLE3 = Table(
    id="daaf/table3",
    title="DAAF Table 3: trained on Market-1501, tested on the partial datasets",
    datasets=PARTIAL,
    metrics=("R1", "R3"),
    train_on="market1501",
    rows=(
        Row("PCB [22]", "pcb", reported=_partial(44.50, 61.30, 42.70, 50.30)),
        Row("TriNet", "daaf-trinet-base", reported=_partial(32.77, 56.30, 43.00, 50.00)),
        Row("DAAF-TriNet", "daaf-trinet", reported=_partial(45.38, 64.71, 47.00, 53.33)),
        Row("BoT", "daaf-bot-base", reported=_partial(51.30, 63.90, 57.30, 65.30)),
        Row("DAAF-BoT", "daaf-bot", reported=_partial(53.80, 72.30, 60.70, 68.70)),
    ),
    caption="The same Market-1501 models as Table 2, each also tested on the partial sets: partial probes against "
            "whole-body gallery images (a probe's own camera excluded, which on the real sets, probes camera 1 and "
            "gallery camera 2, excludes nothing), single query, all gallery images. PCB: six horizontal stripes of "
            "the stage-4 map, one classifier each, the six stripe features concatenated at test time "
            "(PCB's recipe, params.yaml `pcb`). " + NOTE,
)

TABLE4 = Table(
    id="daaf/table4",
    title="DAAF Table 4: HAB and PAB on TriNet (Market-1501)",
    datasets=("market1501",),
    metrics=("mAP", "R1"),
    rows=(
        Row("Base network (TriNet)", "daaf-trinet-base", reported=_market(TRINET_T4["mAP"], TRINET_T4["R1"])),
        Row("+ HAB", "daaf-trinet-hab", reported=_market(68.26, 83.70)),
        Row("+ PAB", "daaf-trinet-pab", reported=_market(69.31, 84.41)),
        Row("+ HAB + PAB", "daaf-trinet", reported=_market(70.40, 85.87)),
    ),
    caption="The paper's base network here (65.48 / 82.51) differs from its Table 2 TriNet (69.14 / 84.92). " + NOTE,
)

TABLE5 = Table(
    id="daaf/table5",
    title="DAAF Table 5: channel grouping in PAB (TriNet, no HAB, Market-1501)",
    datasets=("market1501",),
    metrics=("mAP", "R1"),
    rows=(
        Row("Base network (TriNet)", "daaf-trinet-base", reported=_market(TRINET_T4["mAP"], TRINET_T4["R1"])),
        Row("keypoints, without grouping", "daaf-trinet-pab-nogroup", reported=_over_trinet(0.92, 0.03)),
        Row("part images, with grouping", "daaf-trinet-pab-stripes", reported=_over_trinet(2.74, 1.66)),
        Row("keypoints, with grouping", "daaf-trinet-pab", reported=_over_trinet(3.83, 1.90)),
    ),
    caption="The paper reports differences to TriNet (65.48 / 82.51); shown as TriNet + difference. Without "
            "grouping: all stage-4 channels into one decoder predicting the 17 keypoints; part images: 6 channel "
            "groups each predict the image with only its horizontal stripe visible. " + NOTE,
)

TABLE6 = Table(
    id="daaf/table6",
    title="DAAF Table 6: keypoint grouping schemes (TriNet + PAB, Market-1501)",
    datasets=("market1501",),
    metrics=("mAP", "R1"),
    rows=(
        Row("1 group (all)", "daaf-trinet-pab-nogroup", reported=_market(66.40, 82.54)),
        Row("4 groups", "daaf-trinet-pab-g4", reported=_market(69.31, 84.41)),
        Row("6 groups", "daaf-trinet-pab", reported=_market(70.40, 85.87)),
        Row("7 groups", "daaf-trinet-pab-g7", reported=_market(70.04, 85.72)),
        Row("17 groups (each)", "daaf-trinet-pab-g17", reported=_market(69.82, 85.12)),
    ),
    caption="The paper's own rows are inconsistent: its 6-group row (70.40 / 85.87) equals Table 4's HAB + PAB "
            "model and its 4-group row (69.31 / 84.41) Table 4's PAB-only model (6 groups), while section 4.3.2 "
            "studies PAB alone. Every reproduced row here is PAB alone (no HAB), compared cell by cell with the "
            "paper's printed number: 1 group `daaf-trinet-pab-nogroup`, 4 `-pab-g4`, 6 `daaf-trinet-pab` (the same "
            "cells as Table 4's '+ PAB' row, whose paper number is 69.31 / 84.41), 7 `-pab-g7`, 17 `-pab-g17`. The "
            "paper's Fig. 4 groupings are not legible in its text; they are defined from the body layout in "
            "models/branches/daaf.py GROUPINGS (4: head, torso, arms, legs; 6: head, shoulders, arms, hips, knees, "
            "ankles; 7: head, shoulders, elbows, wrists, hips, knees, ankles). " + NOTE,
)

TABLE7 = Table(
    id="daaf/table7",
    title="DAAF Table 7: shared against independent PAB decoders (TriNet, no HAB, Market-1501)",
    datasets=("market1501",),
    metrics=("mAP", "R1"),
    rows=(
        Row("keypoints, same decoder", "daaf-trinet-pab", reported=_over_trinet(3.83, 1.90)),
        Row("keypoints, independent decoders", "daaf-trinet-pab-indep", reported=_over_trinet(1.35, -0.03)),
        Row("part images, same decoder", "daaf-trinet-pab-stripes", reported=_over_trinet(2.74, 1.66)),
        Row("part images, independent decoders", "daaf-trinet-pab-stripes-indep", reported=_over_trinet(1.33, 0.77)),
    ),
    caption="The paper reports differences to TriNet (65.48 / 82.51); shown as TriNet + difference. 6 channel "
            "groups; independent: one decoder per group. " + NOTE,
)

TABLES = (TABLE1, TABLE2, TABLE3, TABLE4, TABLE5, TABLE6, TABLE7)

FIGURES = (
    Figure("daaf/fig1", "DAAF Fig. 1: holistic and partial attention maps of DAAF-TriNet (test images)",
           "daaf_attention", ("daaf-trinet",), ("market1501",),
           caption="One model, HAB + PAB: per image its holistic attention map (Eq. 7 on the inference embedding, "
                   "as Fig. 5) and the partial attention map of each PAB channel group (Eq. 8, as Fig. 6); Grad-CAM "
                   "on the conv1 output, eval mode, min-max normalised per image."),
    Figure("daaf/fig5", "DAAF Fig. 5: holistic attention maps, TriNet without and with holistic attention "
           "learning (HAB) (test images)", "daaf_ham", ("daaf-trinet-base", "daaf-trinet-hab"), ("market1501",),
           caption="TriNet against TriNet + HAB (`daaf-trinet-hab`, no PAB), as the paper's Fig. 5 compares. Eq. 7: L_HAM = (1/N) sum_n (1/K) sum_k |dx_n/dA_k * A_k|, x = the inference network's "
                   "embedding (eval mode), A = the output of ResNet's conv1 layer (before bn1 and ReLU); "
                   "upsampled bilinearly to the input size, min-max normalised per image."),
    Figure("daaf/fig6", "DAAF Fig. 6: partial attention maps of PAB's channel groups (test images)", "daaf_pam",
           ("daaf-trinet",), ("market1501",),
           caption="Eq. 8: per PAB channel group S_i, the mean over n in S_i of (1/K) sum_k |dx_n/dA_k * A_k|, "
                   "x_n = the average pooling of stage-4 channel n, A = the conv1 output as in Fig. 5 (eval mode); "
                   "min-max normalised per image."),
    Figure("daaf/fig7", "DAAF Fig. 7: HAB's predicted masks beside the pseudo-label masks (test images)",
           "daaf_masks", ("daaf-trinet",), ("market1501",),
           caption="Columns: test image, the pseudo-label mask the branch was trained on (same backend), HAB's "
                   "output (the branch kept at inference for this figure only)."),
    Figure("daaf/fig8", "DAAF Fig. 8: PAB's keypoint heatmaps (test images)", "daaf_heatmaps",
           ("daaf-trinet",), ("market1501",),
           caption="Per test image: the image with its pseudo-label keypoints, then each channel group's heatmaps "
                   "(maximum over the group's keypoints)."),
    Figure("daaf/fig9", "DAAF Fig. 9: 1x1-conv shuffle in PAB (row: feature group, column: 1x1 conv)",
           "daaf_shuffle", ("daaf-trinet",), ("market1501",),
           caption="Group i's decoded features through group j's 1x1 conv (maximum over its keypoints), one test "
                   "image; the diagonal is the trained pairing. Outputs that change along a row and not down a "
                   "column would mean the 1x1 convs, not the feature groups, carry the body parts."),
)

MR = ("mAP", "R1")
M = ("market1501",)
PR = ("R1", "R3")
CLAIMS = (
    Claim("daaf/improves-trinet", "DAAF improves TriNet on every dataset",
          "Section 4.2.1: 'the proposed DAAF effectively improves over TriNet and Bag of Tricks in all cases.'",
          ("daaf/table2",), beats("daaf-trinet", "daaf-trinet-base", DATASETS, MR)),
    Claim("daaf/improves-bot", "DAAF improves BoT on every dataset, with and without re-ranking",
          "Section 4.2.1: 'our DAAF still could bring significant improvements on all these tested datasets'.",
          ("daaf/table2",), beats("daaf-bot", "daaf-bot-base", DATASETS, MR)
          + beats(Arm("daaf-bot", rerank=True), Arm("daaf-bot-base", rerank=True), DATASETS, MR)),
    Claim("daaf/bot-over-trinet", "BoT is the better base network: it beats TriNet on every dataset",
          "Section 4.2.1: 'When using a better base network, DAAF-BoT achieves the state of the art'.",
          ("daaf/table2",), beats("daaf-bot-base", "daaf-trinet-base", DATASETS, MR)),
    Claim("daaf/partial", "DAAF improves both base networks on Partial-iLIDS and Partial-REID (trained on Market-1501)",
          "Section 4.2.2: 'the proposed method is effective for handling the occlusion problem, with improved "
          "performance to the base network, either TriNet or Bag of Tricks.'", ("daaf/table3",),
          beats("daaf-trinet", "daaf-trinet-base", PARTIAL, PR) + beats("daaf-bot", "daaf-bot-base", PARTIAL, PR)),
    Claim("daaf/partial-over-pcb", "DAAF-TriNet beats PCB on both partial datasets",
          "Section 4.2.2: 'It also outperforms other local feature based methods such as PCB, even with a simple "
          "base network like TriNet.'", ("daaf/table3",), beats("daaf-trinet", "pcb", PARTIAL, PR)),
    Claim("daaf/hab-and-pab-help", "HAB alone and PAB alone each improve TriNet (Market-1501)",
          "Table 4: + HAB +2.78 / +1.19, + PAB +3.83 / +1.90 (mAP / R1).", ("daaf/table4",),
          beats("daaf-trinet-hab", "daaf-trinet-base", M, MR) + beats("daaf-trinet-pab", "daaf-trinet-base", M, MR)),
    Claim("daaf/pab-over-hab", "PAB is better than HAB (Market-1501)",
          "Section 4.3.1: 'using PAB individually is better than using HAB.'", ("daaf/table4",),
          beats("daaf-trinet-pab", "daaf-trinet-hab", M, MR)),
    Claim("daaf/hab-plus-pab-best", "HAB + PAB together beat either alone (Market-1501)",
          "Section 4.3.1: 'combining HAB and PAB together achieve the best results in Table 4'.", ("daaf/table4",),
          beats("daaf-trinet", ["daaf-trinet-hab", "daaf-trinet-pab"], M, MR)),
    Claim("daaf/grouping-helps", "Grouping helps: PAB with 6 channel groups beats PAB without grouping (Market-1501)",
          "Section 4.3.2 / Table 5: 'such a method to introduce local attention is not helpful. On the contrary, "
          "with our grouping strategy, the performance is significantly improved.'", ("daaf/table5",),
          beats("daaf-trinet-pab", "daaf-trinet-pab-nogroup", M, MR)),
    Claim("daaf/part-images-help", "Grouped part-image targets improve TriNet, less than grouped keypoints "
          "(Market-1501)", "Section 4.3.2: 'even with such a simple supervision, PAB still works well and improves "
          "the baseline substantially. Compared to using keypoint prediction ..., predicting the partial body image "
          "is inferior'.", ("daaf/table5",),
          beats("daaf-trinet-pab-stripes", "daaf-trinet-base", M, MR)
          + beats("daaf-trinet-pab", "daaf-trinet-pab-stripes", M, MR)),
    Claim("daaf/six-groups-best", "6 keypoint groups are the best grouping (Market-1501)",
          "Section 4.3.2: 'the best performance is achieved when using 6 parts which is closely followed by "
          "utilizing 7 parts.' The paper's Table 6 rows reuse Table 4/5 numbers (see Table 6's caption).",
          ("daaf/table6",), beats("daaf-trinet-pab", ["daaf-trinet-pab-nogroup", "daaf-trinet-pab-g4",
                                                      "daaf-trinet-pab-g7", "daaf-trinet-pab-g17"], M, MR)),
    Claim("daaf/shared-decoder", "A shared PAB decoder beats independent decoders, for keypoints and part images "
          "(Market-1501)", "Section 4.3.3: 'partial attention learning using 6 independent branches performs worse "
          "than using the same one.'", ("daaf/table7",),
          beats("daaf-trinet-pab", "daaf-trinet-pab-indep", M, MR)
          + beats("daaf-trinet-pab-stripes", "daaf-trinet-pab-stripes-indep", M, MR)),
)
