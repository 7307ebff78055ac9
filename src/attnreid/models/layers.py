"""Reusable parameter-free layers.

Parameter-free spatial attention (PFSA paper, section 3.2, Eq. 1): for a map f (C x H x W),
A(i, j) = sum_k f_k(i, j); p = softmax of A over all H*W positions; F_k(i, j) = f_k(i, j) p(i, j).
No trainable parameter; no temperature (the paper has none).
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
