"""Loss terms shared by several papers' models.

Batch-hard triplet loss (Hermans, Beyer, Leibe 2017, "In Defense of the Triplet Loss"): for each
anchor of a P x K batch, the farthest positive and the nearest negative under Euclidean distance;
hinge max(0, margin + d_ap - d_an) averaged over anchors (`margin: None` gives the soft-margin
form log(1 + exp(d_ap - d_an)) that paper prefers). Used by TriNet, BoT (margin 0.3) and the
CAM-guided network.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def euclidean(x: torch.Tensor) -> torch.Tensor:
    """Pairwise Euclidean distances [N, N], with a floor so the gradient at 0 stays finite."""
    sq = (x * x).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2 * x @ x.t()
    return d2.clamp_min(1e-12).sqrt()


def batch_hard_triplet(feat: torch.Tensor, pids: torch.Tensor, margin: float | None = 0.3) -> torch.Tensor:
    """Mean over anchors of the hardest-positive/hardest-negative triplet loss; anchors without a
    positive or a negative in the batch are left out (0 when none is left). Computed without a
    host sync (no data-dependent branch or shape): such an anchor's term is zeroed, and the sum is
    divided by the number of the others."""
    d = euclidean(feat)
    same = pids[:, None] == pids[None, :]
    eye = torch.eye(len(pids), dtype=torch.bool, device=feat.device)
    pos, neg = same & ~eye, ~same
    valid = pos.any(1) & neg.any(1)
    d_ap = d.masked_fill(~pos, float("-inf")).amax(1)
    d_an = d.masked_fill(~neg, float("inf")).amin(1)
    gap = d_ap - d_an  # -inf for an anchor without a positive or a negative
    per = F.softplus(gap) if margin is None else F.relu(margin + gap)
    return per.masked_fill(~valid, 0.0).sum() / valid.sum().clamp_min(1)
