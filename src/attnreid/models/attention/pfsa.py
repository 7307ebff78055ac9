"""PFSA's parameter-free spatial attention (Wang et al., section 3.2, Eq. 1): for a map f (C x H x W),
A(i, j) = sum_k f_k(i, j); p = softmax of A over all H*W positions; F_k(i, j) = f_k(i, j) p(i, j).
No trainable parameter; no temperature (the paper has none). Used by models/pfsa.py (SA1 on the
stage-4 map, SA2 in the deep-supervision branches) and models/compare.py.
"""
from __future__ import annotations

import torch
from torch import nn


def spatial_attention_weights(f: torch.Tensor) -> torch.Tensor:
    """p of Eq. (1): softmax over the H*W positions of the channel sum A; shape [N, 1, H, W], sums to 1."""
    n, _, h, w = f.shape
    return torch.softmax(f.sum(1).flatten(1), dim=1).view(n, 1, h, w)


class SpatialAttention(nn.Module):
    """F = f * p (Eq. 1); the paper's SA layer, with zero parameters."""

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f * spatial_attention_weights(f)


def sa_for_pooling(f: torch.Tensor) -> torch.Tensor:
    """H*W * SA(f): average pooling of it gives G_k = sum_ij F_k(i, j) (PFSA Eq. 6), the p-weighted mean
    of f, so uniform attention changes nothing."""
    return SpatialAttention()(f) * (f.shape[2] * f.shape[3])


def attend(f: torch.Tensor, on: bool) -> torch.Tensor:
    """The map a branch pools: sa_for_pooling(f) with SA (`on`), else f itself."""
    return sa_for_pooling(f) if on else f
