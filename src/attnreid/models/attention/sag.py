"""SAG's self attention grid and its two-branch forward ("Self Attention Grid (SAG) for person
re-identification", section 3).

What the paper says and what is chosen where it is silent:
- Two branches share one ResNet (one parameter set): the low-resolution branch sees the input I2, the
  high-resolution branch I1 = I2 up-sampled x2 bilinearly. Chosen (the paper is silent): each BatchNorm of
  the shared backbone keeps its weights shared but its running statistics per branch
  (`BranchBatchNorm2d`). One set of statistics for both would mix the x2 high branch with the low
  branch, whose activations after Eq. 7 are orders of magnitude smaller; in eval mode the low branch
  would then be normalised with the wrong statistics and its features collapse (the cosine between
  an image's eval- and train-mode features fell to 0.45-0.68 for D1,2 ... D1,2,3,4; tested).
- A SAG module after residual stage i (attention depth D_i): on the low branch's map f2, 1x1 conv -> BN
  -> ReLU -> softmax over all h*w positions = the one-channel grid G (sums to 1 per image); at 160x64,
  D1 40x16, D2 20x8, D3 10x4, D4 5x2 (the sizes follow the input).
- The high branch's map f1 of the same stage is down-sampled by a max filter over non-overlapping 2x2
  regions (`max_filter`; at an odd size the last region is the 1-wide remainder, which keeps it the size
  of f2 at any input) and multiplied by G, broadcast over the channels (Eq. 6). Chosen: the product is
  scaled by h*w (`attend`), so the GAP of the attended map is the G-weighted sum of f1 (the paper's
  "weighted arithmetic mean" summary vector) and a uniform grid gives f1 itself; the constant is
  otherwise absorbed by the next stage's BN and cancels under Eq. 7.
- Eq. 7 (L2 normalisation of the attended map, eps 1e-12), at the depths the network asks for. Chosen:
  the norm is over the whole attended map of an image (C x h x w); per position over channels would
  cancel G.
- Where the attended map goes (the paper is silent): `merge: replace` - it replaces the low branch's map
  and flows on to the next stage; the high branch goes on unattended (up to the deepest SAG only).
  `merge: add` - it is added to the low branch's map (a residual reading of "combine them with the
  output feature maps").

Used by models/sag.py (the paper's network) and models/compare.py (BoT + SAG at D4).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnreid.models.bases.backbone import ResNetStages

UPSAMPLE = 2  # I1 = I2 up-sampled x2 (Eq. 1); the 2x2 max filter undoes it


def max_filter(f1: torch.Tensor) -> torch.Tensor:
    """Max over non-overlapping 2x2 regions ([N, C, H, W] -> [N, C, ceil(H/2), ceil(W/2)])."""
    return F.max_pool2d(f1, kernel_size=2, stride=2, ceil_mode=True)


def attend(f1: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """h*w * maxfilter(f1) * G, G [N, 1, h, w] broadcast over the channels (Eq. 6, scaled)."""
    h, w = grid.shape[-2:]
    return max_filter(f1) * grid * (h * w)


def l2_normalise(v: torch.Tensor) -> torch.Tensor:
    """Eq. 7 over each image's whole map: v / max(||v||_2, 1e-12)."""
    return F.normalize(v.flatten(1), dim=1, eps=1e-12).view_as(v)


class BranchBatchNorm2d(nn.BatchNorm2d):
    """A BatchNorm2d whose weight and bias are shared by the two branches and whose running statistics
    are per branch: `running_*` (the state_dict names of a plain BatchNorm2d) for the low branch,
    `high_running_*` for the high one, used while `high` is set. Both start from the wrapped BN's."""

    def __init__(self, bn: nn.BatchNorm2d):
        super().__init__(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        self.load_state_dict(bn.state_dict())
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(f"high_{name}", getattr(bn, name).detach().clone())
        self.high = False

    def _swap(self) -> None:
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            low, high = getattr(self, name), getattr(self, f"high_{name}")
            setattr(self, name, high)
            setattr(self, f"high_{name}", low)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.high:
            return super().forward(x)
        self._swap()  # the high statistics under the names BatchNorm2d.forward reads and updates in place
        try:
            return super().forward(x)
        finally:
            self._swap()


def split_batchnorm_statistics(module: nn.Module) -> list[BranchBatchNorm2d]:
    """Replace every BatchNorm2d under `module` by a BranchBatchNorm2d (same weights and statistics); the list of them."""
    out = []
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            child = BranchBatchNorm2d(child)
            setattr(module, name, child)
            out.append(child)
        else:
            out += split_batchnorm_statistics(child)
    return out


class SAGModule(nn.Module):
    """f2 -> G: 1x1 conv (C -> 1) -> BN -> ReLU -> softmax over all positions; [N, 1, h, w], sums to 1."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, f2: torch.Tensor) -> torch.Tensor:
        e = F.relu(self.bn(self.conv(f2)))
        return torch.softmax(e.flatten(1), dim=1).view_as(e)


def high_branch_batchnorms(backbone: ResNetStages, depths: list[int]) -> dict[int, list[BranchBatchNorm2d]]:
    """The BNs the high branch runs through (stem = 0 and stages up to the deepest SAG), their statistics
    split per branch (`split_batchnorm_statistics`); {} without a SAG."""
    deepest = max(depths, default=0)
    stages = (backbone.stem, backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4)[:deepest + 1]
    return {i: split_batchnorm_statistics(m) for i, m in enumerate(stages)} if deepest else {}


def _high(high_bns: dict, stage: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`module` (stage 0: the stem) on the high branch's map, with the high branch's BN statistics."""
    for bn in high_bns[stage]:
        bn.high = True
    try:
        return module(x)
    finally:
        for bn in high_bns[stage]:
            bn.high = False


def two_branch_forward(backbone: ResNetStages, sag: nn.ModuleDict, high_bns: dict, depths: list[int],
                       l2_norm: set[int], merge: str, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """The low branch's stage-4 map with a SAG (`sag[str(d)]`) after each stage d of `depths` (sorted), and
    the grid G of each depth."""
    b = backbone
    deepest = depths[-1] if depths else 0
    f2 = b.stem(x)
    f1 = _high(high_bns, 0, b.stem, F.interpolate(x, scale_factor=UPSAMPLE, mode="bilinear",
                                                  align_corners=False)) if deepest else None
    grids = {}
    for d, layer in enumerate((b.layer1, b.layer2, b.layer3, b.layer4), start=1):
        f2 = layer(f2)
        if d > deepest:
            continue
        f1 = _high(high_bns, d, layer, f1)
        if d in depths:
            grids[d] = sag[str(d)](f2)
            v = attend(f1, grids[d])
            if d in l2_norm:
                v = l2_normalise(v)
            f2 = v if merge == "replace" else f2 + v
    return f2, grids
