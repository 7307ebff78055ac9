"""DAAF: Deep Attention Aware Feature learning (Chen et al., arXiv 2003.00517): a re-ID base network
trained with two extra branches that are dropped at inference (models/branches/daaf.py).

- Base network (`base`, a registered model with a `head(stage-4 map)` method, its own args in
  `base_args`): `trinet` (TriNet) or `baseline` with `neck: bnneck, triplet_margin: 0.3,
  center_loss: 5e-4, normalize_embedding: true` and the recipe's last stride 1 (BoT). Its loss is L_r.
- HAB (`hab: true`) regresses the pseudo-label person mask from the stage-1 map; PAB (`pab`) the
  Gaussian heatmaps of the keypoint groups (`keypoints`), or the image's horizontal stripes
  (`stripes`, Table 5), from the stage-4 channel groups of `grouping` (a key of GROUPINGS: 1 is PAB
  without grouping, 6 the paper's default); `shared_decoder: false` gives one decoder per group
  (Table 7). `stripes` uses as many stripes as `grouping` has groups.
- L = L_r + lambda_h L_h + lambda_p L_p, lambda_h = lambda_p = 0.003 (section 3.3.1).
- Heatmap sigma: the paper cites CPN's Gaussians without a size; chosen `sigma` = 1/32 of the input
  height (8 px at 256 x 128, CPN's 2 px on a 4x smaller heatmap).
- Inference: the base network alone (`inference_model()`; eval mode returns its embedding), so
  the re-ID network's size and speed are unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

from attnreid import models
from attnreid.errors import InputError
from attnreid.models import register
from attnreid.models.args import model_args
from attnreid.models.branches.daaf import (GROUPINGS, PAB_TARGETS, HolisticBranch, PartialBranch, gaussian_heatmaps,
                                           stripe_targets, sum_squared_error)

DEFAULTS = {
    "base": "trinet",
    "base_args": {},
    "hab": True,
    "pab": "keypoints",
    "grouping": 6,
    "shared_decoder": True,
    "lambda_h": 0.003,
    "lambda_p": 0.003,
    "sigma": 0.03125,
    "decoder_width": 64,
}
RGB = 3


class DAAF(nn.Module):
    def __init__(self, base: nn.Module, *, hab: bool, pab: str, grouping: tuple[tuple[int, ...], ...],
                 shared_decoder: bool, lambda_h: float, lambda_p: float, sigma: float, decoder_width: int):
        super().__init__()
        self.base = base
        channels = base.backbone.channels
        self.hab = HolisticBranch(base.backbone, decoder_width) if hab else None
        self.pab_target = pab
        self.grouping = grouping
        # output channel c of PAB predicts keypoint `order[c]` (groups concatenated)
        self.register_buffer("order", torch.tensor([k for g in grouping for k in g]), persistent=False)
        outputs = [len(g) for g in grouping] if pab == "keypoints" else [RGB] * len(grouping)
        self.pab = PartialBranch(channels[-1], outputs, shared_decoder, decoder_width) if pab != "none" else None
        self.lambda_h, self.lambda_p, self.sigma = lambda_h, lambda_p, sigma

    @property
    def backbone(self):
        """The base network's (pretrained) backbone, for the optimiser's learning-rate groups."""
        return self.base.backbone

    def inference_model(self) -> nn.Module:
        """The network used at test time: the base network, without HAB and PAB."""
        return self.base

    def forward(self, x):
        if not self.training:
            return self.base(x)
        maps = self.base.backbone.forward_stages(x)
        return {**self.base.head(maps[-1]), **self._branches(maps, tuple(x.shape[2:]))}

    def _branches(self, maps: list, size: tuple[int, int]) -> dict:
        out = {}
        if self.hab is not None:
            out["hab"] = self.hab(maps[0], size)
        if self.pab is not None:
            out["pab"] = self.pab(maps[-1], size)
        return out

    def branches(self, x: torch.Tensor) -> dict:
        """HAB's mask [N, 1, H, W] and PAB's maps [N, C, H, W] in the current mode: the paper's Figs. 7
        and 8 keep the branches at inference for a look at their outputs."""
        return self._branches(self.base.backbone.forward_stages(x), tuple(x.shape[2:]))

    def pab_targets(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """PAB's targets [N, channels, H, W] in its output order, and the per-channel weight (keypoints)."""
        img = batch["img"]
        if self.pab_target == "stripes":
            return stripe_targets(img, len(self.grouping)), None
        h, w = img.shape[2:]
        maps, present = gaussian_heatmaps(batch["keypoints"].to(img.dtype), h, w, self.sigma * h)
        return maps[:, self.order], present[:, self.order].to(img.dtype)

    def losses(self, out: dict, batch: dict) -> dict:
        terms = self.base.losses(out, batch)
        if self.hab is not None:
            mask = batch["mask"].to(out["hab"].dtype)[:, None]
            terms["hab"] = self.lambda_h * sum_squared_error(out["hab"], mask)
        if self.pab is not None:
            target, weight = self.pab_targets(batch)
            terms["pab"] = self.lambda_p * sum_squared_error(out["pab"], target, weight)
        return terms


def _args(cell_cfg: dict) -> dict:
    return model_args(cell_cfg, DEFAULTS)


def needs_pseudo_labels(cell_cfg: dict) -> bool:
    """HAB needs the masks, keypoint PAB the keypoints; stripe PAB alone needs neither."""
    args = _args(cell_cfg)
    return args["hab"] or args["pab"] == "keypoints"


@register("daaf", pseudo_labels=needs_pseudo_labels)
def build(cell_cfg: dict, num_classes: int) -> DAAF:
    args = _args(cell_cfg)
    where = f"params.yaml: methods.{cell_cfg['method']}.args"
    if args["grouping"] not in GROUPINGS:
        raise InputError(f"{where}.grouping: one of {sorted(GROUPINGS)}")
    if args["pab"] not in PAB_TARGETS:
        raise InputError(f"{where}.pab: one of {list(PAB_TARGETS)}")
    if args["base"] == "daaf":
        raise InputError(f"{where}.base: a base network, not daaf")
    base = models.build({**cell_cfg, "model": args["base"], "args": args["base_args"]}, num_classes)
    if not hasattr(base, "head"):
        raise InputError(f"{where}.base: model '{args['base']}' has no head(stage-4 map) to share its backbone")
    return DAAF(base, hab=args["hab"], pab=args["pab"], grouping=GROUPINGS[args["grouping"]],
                shared_decoder=args["shared_decoder"], lambda_h=args["lambda_h"], lambda_p=args["lambda_p"],
                sigma=args["sigma"], decoder_width=args["decoder_width"])
