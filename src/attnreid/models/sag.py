"""SAG: Self Attention Grid for person re-identification; `depths` gives every model of Table 1. Built
from the shared parts: the ResNet stages (bases/backbone.py), the SAG modules and the two-branch
forward (attention/sag.py) and a linear classifier (heads/classifier.py).

What the paper says (section 3, 4.3, 4.6) and what is chosen where it is silent:
- Two branches share one ResNet (`model.backbone`, one parameter set): the low-resolution branch
  sees the input I2 (train.height x train.width, 160x64 in the paper), the high-resolution branch
  I1 = I2 up-sampled x2 (320x128), with per-branch BN statistics (models/attention/sag.py says how
  and why, with the SAG module, its max filter and scaling, Eq. 7 and the merge).
- A SAG module after each residual stage i of `depths` (attention depth D_i): at 160x64 the grid is
  D1 40x16, D2 20x8, D3 10x4, D4 5x2.
- Eq. 7 at the depths in `l2_norm`: the paper finds it helps at D1-D3 and hurts at D4, so the default
  is [1, 2, 3].
- `merge` (the paper is silent): `replace` (default), the attended map replaces the low branch's map
  and flows on to the next stage and, after the last stage, to the classifier; `add`, it is added.
- Classifier: GAP of the low branch's stage-4 map -> one fully-connected layer (with bias) over
  the training identities, cross-entropy (train.label_smoothing; 0 in the paper's recipe).
  Inference embedding: the pooled feature. `depths: []` is the baseline (the low branch alone).
- The SAG convs and BNs are new layers: they train at the classifier's rate, the backbone at
  train.pretrained_lr_mult x that rate (0.01 / 0.1 in the paper's recipe).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnreid.errors import InputError
from attnreid.models import register
from attnreid.models.args import model_args
from attnreid.models.attention.sag import SAGModule, high_branch_batchnorms, two_branch_forward
from attnreid.models.bases.backbone import ResNetStages
from attnreid.models.heads.classifier import linear_classifier

DEPTHS = (1, 2, 3, 4)
MERGES = ("replace", "add")
DEFAULTS = {"depths": [4], "l2_norm": [1, 2, 3], "merge": "replace"}


class SAG(nn.Module):
    def __init__(self, backbone: ResNetStages, num_classes: int, *, depths: list[int], l2_norm: list[int],
                 merge: str, label_smoothing: float):
        super().__init__()
        self.backbone = backbone
        self.depths, self.l2_norm, self.merge = sorted(depths), set(l2_norm), merge
        self.label_smoothing = label_smoothing
        self.sag = nn.ModuleDict({str(d): SAGModule(backbone.channels[d - 1]) for d in self.depths})
        self._high_bns = high_branch_batchnorms(backbone, self.depths)
        self.classifier = linear_classifier(backbone.channels[-1], num_classes)

    def _forward_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """The low branch's final map and the grid G of each depth."""
        return two_branch_forward(self.backbone, self.sag, self._high_bns, self.depths, self.l2_norm, self.merge, x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled low-branch feature (the inference embedding), in the module's current mode."""
        return self._forward_maps(x)[0].mean((2, 3))

    def forward(self, x):
        feat = self.embed(x)
        if not self.training:
            return feat
        return {"logits": self.classifier(feat)}

    def losses(self, out: dict, batch: dict) -> dict:
        return {"ce": F.cross_entropy(out["logits"], batch["pid"], label_smoothing=self.label_smoothing)}

    @torch.no_grad()
    def attention_grids(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """{depth: G [N, h, w]} (Fig. 4); each sums to 1 per image."""
        return {d: g[:, 0] for d, g in self._forward_maps(x)[1].items()}


@register("sag")
def build(cell_cfg: dict, num_classes: int) -> SAG:
    args = model_args(cell_cfg, DEFAULTS)
    where = f"params.yaml: methods.{cell_cfg['method']}.args"
    for key in ("depths", "l2_norm"):
        if not set(args[key]) <= set(DEPTHS) or len(set(args[key])) != len(args[key]):
            raise InputError(f"{where}.{key}: distinct depths among {list(DEPTHS)}")
    if args["merge"] not in MERGES:
        raise InputError(f"{where}.merge: one of {list(MERGES)}")
    t = cell_cfg["train"]
    backbone = ResNetStages(t["backbone"], t["last_stride"], t["pretrained"])
    return SAG(backbone, num_classes, depths=args["depths"], l2_norm=args["l2_norm"], merge=args["merge"],
               label_smoothing=t["label_smoothing"])
