"""DAAF's two training-only branches (Chen et al., arXiv 2003.00517, section 3, Table 1) and their targets.

Decoder (Table 1): four 3x3 stride-2 deconvolutions C -> 64 -> 64 -> 64 -> 64, then a 1x1 conv.
The paper lists no normalisation or activation; chosen, as in the deconvolution head it cites
([29], Simple Baselines): BN + ReLU after each deconvolution, none after the 1x1 conv (a linear
regression output). padding 1 + output_padding 1 make each deconvolution double the size exactly,
so the decoder returns stride/16 of the input (the input size behind a last-stride-1 backbone, half
of it behind stride 2); the prediction is then resized bilinearly to the input size, where the
paper computes its losses ("output feature maps with the size of input image").

HAB: stage-1 map -> an encoder with the structure of the rest of the backbone (a copy of stages
2-4, so it starts from the same weights; chosen: it is a new branch and gets the head learning
rate) -> decoder -> 1 channel, regressed onto the binary person mask.

PAB: the stage-4 map split along channels into M groups of floor(C/M) channels (the C mod M left
over are unused; 2048/6: 341, 2 unused; ResNet-18 512/6: 85, 2 unused), each group through the
decoder (one module shared by all groups, or one per group for Table 7), then an independent 1x1
conv per group to that group's targets: the Gaussian heatmaps of its keypoints (`keypoints`), or
the input image with only its own horizontal stripe visible (`stripes`, Fig. 3(b), 3 channels).

Losses (Eqs. 2 and 4), taken literally: the squared L2 norm of the difference summed over the
pixels of an image, averaged over the N images (L_h) or over the N x K target channels (L_p). A
missing keypoint has no target: its channel contributes nothing (the N x K denominator is kept).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from attnreid.pseudo import coco

_I = {n: i for i, n in enumerate(coco.NAMES)}
_PAIRED = {"eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"}


def _group(*parts: str) -> tuple[int, ...]:
    """COCO indices of body parts; a paired part names both its left and right keypoints."""
    return tuple(_I[n] for part in parts for n in ((f"left_{part}", f"right_{part}") if part in _PAIRED else (part,)))

_HEAD = ("nose", "eye", "ear")

# Keypoint groupings of Table 6 / Fig. 4 (the figure is not legible in the paper's text, so they are
# defined here from the body layout, top to bottom; each group holds both sides of a paired joint,
# so a horizontal flip only swaps channels within a group). Keys: the number of groups.
GROUPINGS: dict[int, tuple[tuple[int, ...], ...]] = {
    1: (tuple(range(coco.K)),),                                        # "all"
    4: (_group(*_HEAD), _group("shoulder", "hip"),                     # head, torso,
        _group("elbow", "wrist"), _group("knee", "ankle")),            # arms, legs
    6: (_group(*_HEAD), _group("shoulder"), _group("elbow", "wrist"),  # head, shoulders, arms,
        _group("hip"), _group("knee"), _group("ankle")),               # hips, knees, feet (the paper's default)
    7: (_group(*_HEAD), _group("shoulder"), _group("elbow"), _group("wrist"),
        _group("hip"), _group("knee"), _group("ankle")),
    17: tuple((k,) for k in range(coco.K)),                            # "each"
}
PAB_TARGETS = ("keypoints", "stripes", "none")


def gaussian_heatmaps(keypoints: torch.Tensor, height: int, width: int, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps [N, K, H, W] peaking at 1 on each keypoint (x, y in input pixels), and which are
    present [N, K] (confidence > 0 and finite coordinates); a missing keypoint's map is all zero."""
    xy, conf = keypoints[..., :2], keypoints[..., 2]
    present = (conf > 0) & torch.isfinite(xy).all(-1)
    xy = torch.where(present[..., None], xy, torch.zeros_like(xy))
    ys = torch.arange(height, device=keypoints.device, dtype=keypoints.dtype)
    xs = torch.arange(width, device=keypoints.device, dtype=keypoints.dtype)
    dy = (ys[None, None, :] - xy[..., 1:2]) ** 2  # [N, K, H]
    dx = (xs[None, None, :] - xy[..., 0:1]) ** 2  # [N, K, W]
    maps = torch.exp(-(dy[..., :, None] + dx[..., None, :]) / (2 * sigma ** 2))
    return maps * present[..., None, None], present


def stripe_targets(img: torch.Tensor, parts: int) -> torch.Tensor:
    """[N, parts * C, H, W]: for each of `parts` equal horizontal stripes, the image with only that stripe
    visible (zero, the normalised mean colour, elsewhere); stripe p covers rows [pH/parts, (p+1)H/parts)."""
    h = img.shape[2]
    rows = torch.arange(h, device=img.device)
    which = rows * parts // h  # stripe of each row
    keep = (which[None, :] == torch.arange(parts, device=img.device)[:, None]).to(img.dtype)  # [parts, H]
    return (img[:, None] * keep[None, :, None, :, None]).flatten(1, 2)


def sum_squared_error(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eqs. 2 / 4: per channel the squared error summed over pixels, averaged over N x channels;
    `weight` [N, K] (0 or 1) drops channels without a target."""
    per_channel = ((pred - target) ** 2).sum((2, 3))
    if weight is not None:
        per_channel = per_channel * weight
    return per_channel.mean()


class Decoder(nn.Sequential):
    """Table 1's four 3x3 stride-2 deconvolutions (each + BN + ReLU): in_channels -> width x 4, x16 in size."""

    def __init__(self, in_channels: int, width: int = 64, layers: int = 4):
        mods = []
        for i in range(layers):
            mods += [nn.ConvTranspose2d(in_channels if i == 0 else width, width, 3, stride=2, padding=1,
                                        output_padding=1, bias=False),
                     nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        super().__init__(*mods)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return x if tuple(x.shape[2:]) == tuple(size) else F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class HolisticBranch(nn.Module):
    """HAB: stage-1 map -> copy of stages 2-4 -> decoder -> 1x1 conv -> mask logits [N, 1, H, W]."""

    def __init__(self, backbone, width: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(*(copy.deepcopy(getattr(backbone, f"layer{i}")) for i in (2, 3, 4)))
        self.decoder = Decoder(backbone.channels[-1], width)
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, f1: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return _resize(self.head(self.decoder(self.encoder(f1))), size)


class PartialBranch(nn.Module):
    """PAB: the stage-4 channels in `len(outputs)` groups; group g -> decoder -> its 1x1 conv -> outputs[g] maps."""

    def __init__(self, in_channels: int, outputs: list[int], shared: bool = True, width: int = 64):
        super().__init__()
        self.groups = len(outputs)
        self.group_channels = in_channels // self.groups
        if self.group_channels < 1:
            raise ValueError(f"{in_channels} channels cannot make {self.groups} groups")
        n_dec = 1 if shared else self.groups
        self.decoders = nn.ModuleList(Decoder(self.group_channels, width) for _ in range(n_dec))
        self.heads = nn.ModuleList(nn.Conv2d(width, k, 1) for k in outputs)

    def split(self, f4: torch.Tensor) -> list[torch.Tensor]:
        """The M channel groups of the stage-4 map (the left-over channels dropped)."""
        c = self.group_channels
        return [f4[:, g * c:(g + 1) * c] for g in range(self.groups)]

    def decode(self, f4: torch.Tensor) -> list[torch.Tensor]:
        """Each group through its decoder (the shared one: all groups in one batch)."""
        parts = self.split(f4)
        if len(self.decoders) == 1:
            n = f4.shape[0]
            return list(self.decoders[0](torch.cat(parts)).split(n))
        return [dec(p) for dec, p in zip(self.decoders, parts)]

    def forward(self, f4: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """[N, sum(outputs), H, W], group by group, each group through its own 1x1 conv."""
        return _resize(torch.cat([head(d) for head, d in zip(self.heads, self.decode(f4))], 1), size)
