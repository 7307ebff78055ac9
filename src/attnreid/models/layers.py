"""Reusable parameter-free layers.

Parameter-free spatial attention (PFSA paper, section 3.2, Eq. 1): for a map f (C x H x W),
A(i, j) = sum_k f_k(i, j); p = softmax of A over all H*W positions; F_k(i, j) = f_k(i, j) p(i, j).
No trainable parameter; no temperature (the paper has none).

CAM-guided attention (Li et al., section II-B/C, Eqs. 1-4): a spatial map A_s from channel-wise
average and max pooling with min-max normalisation, and channel weights A_c from the angle between
each channel and A_s. Both parameter-free; the arrangements live in models/camguided.py.
"""
from __future__ import annotations

import math

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
    of f, so uniform attention changes nothing; shared by models/pfsa.py and models/compare.py."""
    return SpatialAttention()(f) * (f.shape[2] * f.shape[3])


MINMAX_EPS = 1e-12
COS_CLAMP = 1 - 1e-6  # arccos has an infinite slope at +-1
COS_EPS = 1e-8  # an all-zero channel has cosine 0


def minmax(f: torch.Tensor) -> torch.Tensor:
    """N(f) = (f - min f) / (max f - min f) per sample (over every dim but the first), Eq. (2).
    Where N is undefined, a constant map (max - min <= MINMAX_EPS), it gives 1 everywhere: uniform
    attention, which leaves the features unchanged (the paper is silent)."""
    flat = f.flatten(1)
    lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    span = hi - lo
    out = torch.where(span > MINMAX_EPS, (flat - lo) / span.clamp_min(MINMAX_EPS), torch.ones_like(flat))
    return out.view_as(f)


def cam_spatial_attention(x: torch.Tensor) -> torch.Tensor:
    """A_s = N[N(Avg_c x) + N(Max_c x)] (Eq. 1), [N, 1, H, W] in [0, 1]; no parameters."""
    return minmax(minmax(x.mean(1, keepdim=True)) + minmax(x.amax(1, keepdim=True)))


def cam_channel_attention(x: torch.Tensor, a_s: torch.Tensor | None = None) -> torch.Tensor:
    """A_c,i = exp(-theta_i^2 / (2 pi^2)), theta_i = arccos cos(x_i, A_s) over the H*W positions
    (Eqs. 3-4: a Gaussian with mu = 0, sigma = pi), [N, C, 1, 1]; no parameters. `a_s` defaults to
    A_s(x). An all-zero channel has cosine 0 (theta = pi/2)."""
    if a_s is None:
        a_s = cam_spatial_attention(x)
    # [N, C, HW] x [N, HW, 1]: a batched product, 3-4x faster on a CPU than a broadcast F.cosine_similarity
    xs, a = x.flatten(2), a_s.flatten(2)
    cos = (xs @ a.transpose(1, 2))[..., 0] / (xs.norm(dim=2) * a.norm(dim=2)).clamp_min(COS_EPS)
    theta = torch.acos(cos.clamp(-COS_CLAMP, COS_CLAMP))
    return torch.exp(-theta ** 2 / (2 * math.pi ** 2))[..., None, None]
