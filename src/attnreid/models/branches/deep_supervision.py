"""PFSA's deep-supervision branches (Wang et al., section 3.1): on each of stages 1-3, [SA] -> GAP ->
a linear classifier -> cross-entropy l_si; no dropout; training only (the paper drops them at
inference). With SA they are the paper's SA2 layers (models/attention/pfsa.py). Used by models/pfsa.py
and models/compare.py.
"""
from __future__ import annotations

import torch
from torch import nn

from attnreid.models.attention.pfsa import attend
from attnreid.models.heads.classifier import linear_classifier

STAGES = 3  # stages 1-3; stage 4 has the network's own head


def classifiers(channels: list[int], num_classes: int, on: bool = True) -> nn.ModuleList:
    """One classifier per stage 1-3 (`channels`: the backbone's four), none when not `on`."""
    return nn.ModuleList([linear_classifier(c, num_classes) for c in channels[:STAGES]] if on else [])


def logits(classifiers: nn.ModuleList, maps: list[torch.Tensor], sa: bool) -> list[torch.Tensor]:
    """Each branch's logits from its stage's map (`maps`: stages 1-4), with SA when `sa`."""
    return [cls(attend(f, sa).mean((2, 3))) for cls, f in zip(classifiers, maps[:STAGES])]
