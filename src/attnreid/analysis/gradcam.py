"""Gradient-weighted activation maps of embedding components (DAAF, arXiv 2003.00517, section 4.2.3).

The paper, for a vector x = [x_1..x_N] and a feature map A of K channels:
  Eq. 5-6: L^n = (1/K) sum_k Abs(F^n_k * A_k), F^n_k = dx_n / dA_k (element-wise product);
  Eq. 7:   L_HAM = (1/N) sum_n L^n (x: the final embedding, A: the ResNet conv1 map; Fig. 5);
  Eq. 8:   L_PAM^i = (1/|S_i|) sum_{n in S_i} L^n (x_n: the average pooling of stage-4 channel n,
           S_i: the channels of the i-th group; Fig. 6).
Here `a` and `x` are tensors of one autograd graph, `a` [B, K, h, w] (the caller chooses which map
and hooks it) and `x` [B, N]. The model must be in eval mode so that the images of a batch are
independent: the gradient of sum_b x[b, n] with respect to a[b] is then dx[b, n]/da[b]. Chosen: the
gradients of `chunk` components at a time in one batched backward pass (torch.autograd.grad with
is_grads_batched=True), so N = 2048 costs N / chunk passes and memory for one chunk only; groups
are averaged as their chunks arrive. For display, `normalise` upsamples bilinearly to the input
size and min-max normalises each map of each image to [0, 1] (the paper does not say how it scales).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

CHUNK = 64
EPS = 1e-12


def _chunks(a: torch.Tensor, x: torch.Tensor, components: Sequence[int], chunk: int) -> Iterator[torch.Tensor]:
    """L^n [B, m, h, w] of `components`, `chunk` (m) at a time, in order (Eqs. 5-6)."""
    a_values = a.detach()
    for start in range(0, len(components), chunk):
        part = torch.as_tensor(components[start:start + chunk], device=x.device)
        seeds = torch.zeros(len(part), *x.shape, dtype=x.dtype, device=x.device)
        seeds[torch.arange(len(part)), :, part] = 1  # seed j: d(sum_b x[b, part[j]])
        grads, = torch.autograd.grad(x, a, seeds, retain_graph=True, is_grads_batched=True)  # [m, B, K, h, w]
        yield (grads * a_values).abs().mean(2).transpose(0, 1)


def component_maps(a: torch.Tensor, x: torch.Tensor, components: Sequence[int], chunk: int = CHUNK) -> torch.Tensor:
    """L^n for each of `components` (indices into x's last dimension): [B, len(components), h, w]."""
    return torch.cat(list(_chunks(a, x, components, chunk)), 1)


def attention_maps(a: torch.Tensor, x: torch.Tensor, groups: Sequence[Sequence[int]] | None = None,
                   chunk: int = CHUNK) -> torch.Tensor:
    """[B, G, h, w]: per group of components, the mean of their L^n (Eq. 8); `groups` None is one
    group of all N components, the holistic map (Eq. 7)."""
    groups = [range(x.shape[1])] if groups is None else groups
    members = [n for g in groups for n in g]
    owner = torch.tensor([i for i, g in enumerate(groups) for _ in g], device=a.device)
    sums = a.new_zeros(a.shape[0], len(groups), *a.shape[2:])
    for start, maps in zip(range(0, len(members), chunk), _chunks(a, x, members, chunk)):
        sums.index_add_(1, owner[start:start + chunk], maps)
    return sums / torch.tensor([len(g) for g in groups], dtype=a.dtype, device=a.device)[:, None, None]


def normalise(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[B, G, h, w] maps upsampled bilinearly to `size`, each min-max normalised to [0, 1]."""
    up = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    lo, hi = up.amin((2, 3), keepdim=True), up.amax((2, 3), keepdim=True)
    return (up - lo) / (hi - lo).clamp_min(EPS)
