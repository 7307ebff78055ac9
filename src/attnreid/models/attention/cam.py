"""CAM-guided parameter-free attention (Li, Zhang, Coleman, Shi, section II-B/C, Eqs. 1-5): a spatial
map A_s from channel-wise average and max pooling with min-max normalisation, channel weights A_c
from the angle between each channel and A_s (both without parameters), their arrangements (Table I),
and the attention loss L_a that pulls A_s towards the class activation map of the true identity.
Used by models/camguided.py (the paper's network) and models/compare.py (BoT + S*C).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ARRANGEMENTS = ("none", "s", "c", "s-c", "c-s", "sxc")  # Table I: A_s, A_c, in sequence, S*C
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


def arrange(x: torch.Tensor, attention: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(X under the arrangement `attention` of A_s and A_c, A_s(X), the spatial map L_a supervises)."""
    a_s = cam_spatial_attention(x)
    if attention == "s":
        return x * a_s, a_s
    if attention == "c":
        return x * cam_channel_attention(x, a_s), a_s
    if attention == "s-c":
        y = x * a_s
        return y * cam_channel_attention(y), a_s
    if attention == "c-s":
        y = x * cam_channel_attention(x, a_s)
        return y * cam_spatial_attention(y), a_s
    if attention == "sxc":
        return x * a_s * cam_channel_attention(x, a_s), a_s
    return x, a_s


def _interp_matrix(n: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """[n, size]: row i is 1-D linear up-sampling (align_corners False) of the unit vector e_i."""
    eye = torch.eye(n, dtype=like.dtype, device=like.device)[None]
    return F.interpolate(eye, size=size, mode="linear", align_corners=False)[0]


def upsample(maps: torch.Tensor, size) -> torch.Tensor:
    """[N, h, w] -> [N, H, W], equal to F.interpolate(bilinear, align_corners False), written as two
    matrix products so that its backward is deterministic on CUDA (no atomic adds)."""
    rows, cols = _interp_matrix(maps.shape[1], size[0], maps), _interp_matrix(maps.shape[2], size[1], maps)
    return torch.einsum("nhw,hH,wW->nHW", maps, rows, cols)


def attention_mse(scores: torch.Tensor, a_s: torch.Tensor, target: torch.Tensor, size) -> torch.Tensor:
    """Per-image Eq. (5): mean over the input's H x W of (N(M_t) - A_s)^2, both up-sampled; M_t detached."""
    return cam_mse(scores[torch.arange(len(target), device=scores.device), target], a_s, size)


def cam_mse(m_t: torch.Tensor, a_s: torch.Tensor, size) -> torch.Tensor:
    """Per-image Eq. (5) from the score map of the true class M_t [N, h, w] (detached here) and A_s [N, 1, h, w]."""
    return (upsample(minmax(m_t.detach()), size) - upsample(a_s[:, 0], size)).pow(2).mean((1, 2))
