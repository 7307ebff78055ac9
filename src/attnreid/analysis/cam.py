"""Class activation maps (Zhou et al. 2016) of any model that offers them, and how spread they are.

A model opts in with `cam(x, target=None) -> {stage: (raw CAMs [N, h, w], classes [N])}`, one entry
per stage it has a classifier at; `target` None means each image's top-1 class of that stage's
classifier (see models/pfsa.py). Here a raw CAM is upsampled bilinearly to the input size and
min-max normalised to [0, 1] per image.

Spread (a number for the PFSA paper's qualitative claim that SA spreads attention), per image:
- entropy: Shannon entropy of the normalised CAM taken as a distribution over pixels, divided by
  log(#pixels): 1 = uniform, 0 = one pixel;
- area: the fraction of pixels at or above half the maximum (0.5 after normalisation).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

EPS = 1e-12


@torch.no_grad()
def normalised_cams(model, x: torch.Tensor, target: torch.Tensor | None = None) -> dict:
    """{stage: (CAMs [N, H, W] at the input size in [0, 1], classes [N])}."""
    out = {}
    for stage, (raw, cls) in model.cam(x, target).items():
        up = F.interpolate(raw[:, None].float(), size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        lo, hi = up.amin((1, 2), keepdim=True), up.amax((1, 2), keepdim=True)
        out[stage] = ((up - lo) / (hi - lo).clamp_min(EPS), cls)
    return out


def spread(cams: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image normalised entropy and half-maximum area of [N, H, W] CAMs in [0, 1]."""
    flat = cams.flatten(1)
    p = flat / flat.sum(1, keepdim=True).clamp_min(EPS)
    entropy = -(p * p.clamp_min(EPS).log()).sum(1) / math.log(flat.shape[1])
    return {"entropy": entropy, "area": (flat >= 0.5).float().mean(1)}


@torch.no_grad()
def mean_spread(model, data, dev, batch_size: int = 64) -> dict[int, dict[str, float]]:
    """{stage: {measure: mean over the images of `data`}}; each image's CAM is for its top-1 class
    of that stage's classifier (test identities have no class of their own)."""
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    sums, n = {}, 0
    for batch in loader:
        x = batch["img"].to(dev)
        n += len(x)
        for stage, (cams, _) in normalised_cams(model, x).items():
            acc = sums.setdefault(stage, {"entropy": 0.0, "area": 0.0})
            for key, val in spread(cams).items():
                acc[key] += float(val.sum())
    return {s: {k: v / max(n, 1) for k, v in acc.items()} for s, acc in sorted(sums.items())}
