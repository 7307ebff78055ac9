"""Pairwise distances between feature rows, computed in row chunks with torch (any device).

Metrics follow torchreid's ``compute_distance_matrix``, which the classic re-ranking code expects:
``"euclidean"`` is the *squared* Euclidean distance ``‖x‖² + ‖y‖² − 2·x·y`` (monotone in the true
L2 distance, so rankings, CMC and mAP are the same) and ``"cosine"`` is ``1 − cos(x, y)``; both are
clamped at 0 against rounding.
"""
from __future__ import annotations

import numpy as np
import torch

METRICS = ("euclidean", "cosine")


def as_tensor(x, name: str, ndim: int = 2) -> torch.Tensor:
    """A numpy array or tensor as a floating tensor (no copy where possible); ValueError on a wrong
    number of dimensions or on NaN (a NaN sum, then slices of ~16M elements, to bound memory)."""
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.to(torch.float32)
    step = max(1, (1 << 24) // max(1, t[:1].numel()))
    if t.sum().isnan() and any(t[s:s + step].isnan().any() for s in range(0, len(t), step)):
        raise ValueError(f"{name} contains NaN")
    return t


def like_input(t: torch.Tensor, template):
    """``t`` as the type of ``template``: a numpy array for numpy input, else the tensor."""
    return t if isinstance(template, torch.Tensor) else t.cpu().numpy()


def prepare(x: torch.Tensor, metric: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What a block needs per row: (x, ‖x‖²) for euclidean, (x/‖x‖, None) for cosine."""
    if metric == "euclidean":
        return x, (x * x).sum(1)
    if metric == "cosine":
        return torch.nn.functional.normalize(x, dim=1), None
    raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


def block(x: tuple, y: tuple, out: torch.Tensor | None = None) -> torch.Tensor:
    """Distance block between prepared rows ``x`` and ``y`` (see :func:`prepare`), into ``out`` if given."""
    (xf, xn), (yf, yn) = x, y
    d = torch.matmul(xf, yf.T, out=out)
    if xn is None:
        d.neg_().add_(1)
    else:
        d.mul_(-2).add_(xn[:, None]).add_(yn[None, :])
    return d.clamp_min_(0)


def paired(x: tuple, y: tuple) -> torch.Tensor:
    """Distance between row k of prepared ``x`` and row k of prepared ``y``, same formula as :func:`block`."""
    (xf, xn), (yf, yn) = x, y
    prod = (xf * yf).sum(1)
    d = 1 - prod if xn is None else -2 * prod + xn + yn
    return d.clamp_min_(0)


def pairwise_distance(x, y, metric: str = "euclidean", chunk: int = 4096):
    """Distance matrix [len(x), len(y)] between feature rows, ``chunk`` rows of ``x`` at a time.

    Numpy in, numpy out; tensors in, a tensor out on their device. Dtype follows the input.
    """
    xt, yt = as_tensor(x, "x"), as_tensor(y, "y")
    if xt.shape[1] != yt.shape[1]:
        raise ValueError(f"y must have the width of x ({xt.shape[1]}), got {yt.shape[1]}")
    dtype = torch.promote_types(xt.dtype, yt.dtype)
    yp = prepare(yt.to(dtype), metric)
    out = torch.empty(len(xt), len(yt), dtype=dtype, device=yt.device)
    for s in range(0, len(xt), chunk):
        block(prepare(xt[s:s + chunk].to(dtype), metric), yp, out=out[s:s + chunk])
    return like_input(out, x)
