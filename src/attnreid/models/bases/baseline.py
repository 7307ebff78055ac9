"""The baseline of every paper: ResNet stages 1-4, GAP, an optional BN neck, a linear classifier.

Loss: cross-entropy with label smoothing (train.label_smoothing), plus the batch-hard triplet loss
on the pooled feature (before the neck, as in BoT) when `triplet_margin` is set (needs a P x K
sampler). `center_loss: w` adds BoT's center loss, w * mean over the batch of ||f - c_y||^2 on
the pooled feature f (one learned center c per training identity, initialised N(0, 1) as BoT's).
Chosen: the centers train with the model's optimiser at the new layers' rate; BoT updates them with
a separate SGD at lr 0.5. Inference embedding: the BN neck output when `neck: bnneck`, else the
pooled feature, L2-normalised when `normalize_embedding` (BoT's test feature). With `neck: bnneck`,
last stride 1, `triplet_margin: 0.3`, `center_loss: 5e-4` and `normalize_embedding: true` this is
BoT (Luo et al. 2019).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnreid.models import register
from attnreid.models.args import model_args
from attnreid.models.bases.backbone import ResNetStages
from attnreid.models.heads.classifier import bn_neck, linear_classifier
from attnreid.models.losses import batch_hard_triplet

DEFAULTS = {"neck": "bnneck", "triplet_margin": None, "center_loss": 0.0, "normalize_embedding": False}


class Baseline(nn.Module):
    def __init__(self, backbone: ResNetStages, num_classes: int, neck: str, label_smoothing: float,
                 triplet_margin: float | None = None, center_loss: float = 0.0, normalize_embedding: bool = False):
        super().__init__()
        if neck not in ("bnneck", "none"):
            raise ValueError(f"neck must be bnneck or none, got {neck}")
        self.backbone = backbone
        dim = backbone.channels[-1]
        self.neck = bn_neck(dim) if neck == "bnneck" else nn.Identity()
        self.classifier = linear_classifier(dim, num_classes, bias=False)
        self.label_smoothing = label_smoothing
        self.triplet_margin = triplet_margin
        self.center_loss, self.normalize_embedding = center_loss, normalize_embedding
        self.centers = nn.Parameter(torch.randn(num_classes, dim)) if center_loss else None

    def forward(self, x):
        return self.head(self.backbone(x))

    def head(self, f4):
        """Outputs from the stage-4 map (DAAF runs the backbone itself and calls this)."""
        feat = F.adaptive_avg_pool2d(f4, 1).flatten(1)
        emb = self.neck(feat)
        if not self.training:
            return F.normalize(emb, dim=1) if self.normalize_embedding else emb
        return {"feat": feat, "logits": self.classifier(emb)}

    def losses(self, out: dict, batch: dict) -> dict:
        terms = {"ce": F.cross_entropy(out["logits"], batch["pid"], label_smoothing=self.label_smoothing)}
        if self.triplet_margin is not None:
            terms["triplet"] = batch_hard_triplet(out["feat"], batch["pid"], self.triplet_margin)
        if self.centers is not None:
            terms["center"] = self.center_loss * (out["feat"] - self.centers[batch["pid"]]).pow(2).sum(1).mean()
        return terms


@register("baseline")
def build(cell_cfg: dict, num_classes: int) -> Baseline:
    args = model_args(cell_cfg, DEFAULTS)
    t = cell_cfg["train"]
    backbone = ResNetStages(t["backbone"], t["last_stride"], t["pretrained"])
    return Baseline(backbone, num_classes, args["neck"], t["label_smoothing"], args["triplet_margin"],
                    args["center_loss"], args["normalize_embedding"])
