"""TriNet (Hermans, Beyer, Leibe 2017, "In Defense of the Triplet Loss"): ResNet stages 1-4, global
average pooling, then two fully-connected layers (2048 -> 1024 with BN and ReLU -> 128); the 128-d
output is the embedding, trained with the batch-hard triplet loss on P x K batches only (no
classifier). TriNet prefers the soft-margin form: `triplet_margin: null` (default) gives it, a
number the hinge with that margin. The DAAF paper's base network (section 3.3.1).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from attnreid.models import register
from attnreid.models.args import model_args
from attnreid.models.bases.backbone import ResNetStages
from attnreid.models.losses import batch_hard_triplet

DEFAULTS = {"hidden_dim": 1024, "embedding_dim": 128, "triplet_margin": None}


class TriNet(nn.Module):
    def __init__(self, backbone: ResNetStages, hidden_dim: int, embedding_dim: int, triplet_margin: float | None):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Sequential(nn.Linear(backbone.channels[-1], hidden_dim), nn.BatchNorm1d(hidden_dim),
                                nn.ReLU(inplace=True), nn.Linear(hidden_dim, embedding_dim))
        self.triplet_margin = triplet_margin

    def head(self, f4):
        """Outputs from the stage-4 map: the embedding in eval mode, {"feat"} in training mode."""
        emb = self.fc(F.adaptive_avg_pool2d(f4, 1).flatten(1))
        return {"feat": emb} if self.training else emb

    def forward(self, x):
        return self.head(self.backbone(x))

    def losses(self, out: dict, batch: dict) -> dict:
        return {"triplet": batch_hard_triplet(out["feat"], batch["pid"], self.triplet_margin)}


@register("trinet")
def build(cell_cfg: dict, num_classes: int) -> TriNet:
    args = model_args(cell_cfg, DEFAULTS)
    t = cell_cfg["train"]
    backbone = ResNetStages(t["backbone"], t["last_stride"], t["pretrained"])
    return TriNet(backbone, args["hidden_dim"], args["embedding_dim"], args["triplet_margin"])
