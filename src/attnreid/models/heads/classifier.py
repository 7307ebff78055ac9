"""Identity classifiers and BoT's BN neck, shared by the networks' heads.

- `linear_classifier`: a linear layer over the training identities, weights N(0, 0.001^2) and a zero
  bias (the init of BoT's and PCB's code; none of the four papers names one). Bias-free
  for BoT (models/bases/baseline.py), with a bias for PFSA's part, main and deep-supervision classifiers
  and SAG's classifier.
- `bn_neck`: BoT's BN neck (Luo et al. 2019), a BatchNorm whose bias is frozen: BatchNorm1d on the pooled
  feature (the Baseline), BatchNorm2d on the map (CAM-guided, whose classifier works on the map).
"""
from __future__ import annotations

from torch import nn


def linear_classifier(dim: int, num_classes: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(dim, num_classes, bias=bias)
    nn.init.normal_(layer.weight, std=0.001)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


def bn_neck(dim: int, spatial: bool = False) -> nn.BatchNorm1d | nn.BatchNorm2d:
    bn = nn.BatchNorm2d(dim) if spatial else nn.BatchNorm1d(dim)
    bn.bias.requires_grad_(False)
    return bn
