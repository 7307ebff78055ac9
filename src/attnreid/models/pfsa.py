"""PFSA: Parameter-Free Spatial Attention network (Wang, Fan, Wang, Jiao, Schiele), one class whose
flags give every model of the paper's Tables 2 and 3. Built from the shared parts: the ResNet stages
(bases/backbone.py), the SA layer (attention/pfsa.py), the deep-supervision branches
(branches/deep_supervision.py) and linear classifiers (heads/classifier.py); its own head is PCB's
stripes -> reduction -> part classifiers.

What the paper says (section 3.1, 4, 5.3) and what is chosen where it is silent:
- Backbone: ResNet stages 1-4 (`model.backbone`, pretrained). PCB's setting ("similar to [25]")
  is the stage-4 map with last stride 1; that is a train recipe key (`train.last_stride`).
- P (part classifiers, after PCB): the stage-4 map is split into `parts` = m horizontal stripes,
  each average-pooled, reduced by one shared 1x1 conv 2048 -> `reduced_dim` (256), then m
  independent linear classifiers (cross-entropy l_p) with dropout before them. The reduced part
  features averaged are the main feature -> classifier l_F (dropout before it too: the paper
  drops out before the classifiers and exempts only the DS branches). `parts: 1` is the
  ablation's "Backbone" ("the blue part of Fig. 3": ResNet + one 2048 -> 256 conv + classifier):
  its one classifier is both the part and the main one, so there is no separate l_F and its loss
  is weighted as a part loss.
- Reduction: the paper writes a bare 1x1 conv but trains "similar to [25]", and PCB
  implementations follow that conv with BN (some also with a ReLU). `reduce_bn: true` (default):
  conv + BN, no ReLU. Without the BN the heads diverge (NaN within a few epochs) at the paper's
  lr 0.1 on un-pretrained backbones; without a ReLU the stage-4 CAM stays an exact affine readout
  in eval. `reduce_bn: false` is the bare conv.
- DS (`deep_supervision`): on stages 1-3, [SA] -> GAP -> linear classifier -> l_si, no dropout
  (training only).
- SA2 (`sa2`): the SA layer in the DS branches (the full model's SA). SA1 (`sa1`): the SA layer on
  the stage-4 map before its (stripe) pooling, used only in the ablation.
- Pooling after SA: the paper's G_k = sum_ij F_k(i, j) (Eq. 6), the p-weighted mean of f. It is
  implemented as average pooling of H*W*SA(f), so uniform attention changes nothing and a stripe
  pooled from the SA1 map keeps its share of the attention mass (x m).
- Loss: L = (1 - lambda) sum_p l_p + lambda (sum_i l_si + l_F), lambda = 0.2 (plain cross-entropy
  unless train.label_smoothing says otherwise).
- Dropout: 0.47 on Market-1501, 0.5 elsewhere: `dropout` maps a params.yaml `datasets` name to the
  rate, `default` for the others (a dict given in params replaces this one wholly).
- Inference (`embedding`): the paper drops every branch and classifier and matches "the feature
  vectors obtained from stage 4" by Euclidean distance. `stripes` (default): the m stripe averages
  of the stage-4 map concatenated (m x 2048; the pooled 2048-d map when m = 1), PCB's g, the
  better of its two test features; `pooled`: the whole stage-4 map pooled (2048); `reduced`: the m
  reduced part features concatenated (m x 256).

Class activation maps (section 3.3, Eqs. 5 and 7): `cam(x, target)` gives, for stages 1-3 (with
DS), the DS branch classifier's weights over that stage's (attended) map, and for stage 4 the main
classifier composed with the reduction (an affine map of the pooled stage-4 feature in eval mode:
exact when the stripes tile the map evenly, as at 384x128).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnreid.errors import InputError
from attnreid.models import register
from attnreid.models.args import model_args
from attnreid.models.attention.pfsa import attend
from attnreid.models.bases.backbone import ResNetStages
from attnreid.models.branches import deep_supervision as ds
from attnreid.models.heads.classifier import linear_classifier

EMBEDDINGS = ("stripes", "pooled", "reduced")
DEFAULTS = {
    "parts": 6,
    "deep_supervision": True,
    "sa1": False,
    "sa2": True,
    "lambda": 0.2,
    "reduced_dim": 256,
    "reduce_bn": True,
    "dropout": {"default": 0.5, "market1501": 0.47},
    "embedding": "stripes",
}


class PFSA(nn.Module):
    def __init__(self, backbone: ResNetStages, num_classes: int, *, parts: int, deep_supervision: bool, sa1: bool,
                 sa2: bool, lam: float, reduced_dim: int, reduce_bn: bool, dropout: float, embedding: str,
                 label_smoothing: float):
        super().__init__()
        self.backbone = backbone
        channels = backbone.channels
        self.parts, self.sa1, self.sa2, self.lam = parts, sa1, sa2, lam
        self.embedding, self.label_smoothing = embedding, label_smoothing
        self.ds_classifiers = ds.classifiers(channels, num_classes, deep_supervision)
        self.reduce_conv = nn.Conv2d(channels[3], reduced_dim, 1, bias=not reduce_bn)
        self.reduce_bn = nn.BatchNorm2d(reduced_dim) if reduce_bn else nn.Identity()
        self.part_classifiers = nn.ModuleList(linear_classifier(reduced_dim, num_classes) for _ in range(parts))
        self.classifier = linear_classifier(reduced_dim, num_classes) if parts > 1 else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        maps = self.backbone.forward_stages(x)
        f4 = attend(maps[3], self.sa1)
        if not self.training and self.embedding == "pooled":
            return f4.mean((2, 3))
        stripes = F.adaptive_avg_pool2d(f4, (self.parts, 1))  # [N, C, m, 1]
        if not self.training and self.embedding == "stripes":
            return stripes.flatten(1)
        reduced = self.reduce_bn(self.reduce_conv(stripes)).flatten(2)  # [N, D, m]
        if not self.training:
            return reduced.flatten(1)
        out = {"part_logits": [cls(self.dropout(reduced[:, :, i])) for i, cls in enumerate(self.part_classifiers)],
               "ds_logits": ds.logits(self.ds_classifiers, maps, self.sa2)}
        if self.classifier is not None:
            out["logits"] = self.classifier(self.dropout(reduced.mean(2)))
        return out

    def losses(self, out: dict, batch: dict) -> dict:
        """(1 - lambda) sum_p l_p + lambda (sum_i l_si + l_F), as separate weighted terms."""
        def ce(logits):
            return F.cross_entropy(logits, batch["pid"], label_smoothing=self.label_smoothing)

        terms = {"parts": (1 - self.lam) * sum(ce(z) for z in out["part_logits"])}
        terms.update({f"ds{i + 1}": self.lam * ce(z) for i, z in enumerate(out["ds_logits"])})
        if "logits" in out:
            terms["main"] = self.lam * ce(out["logits"])
        return terms

    def reduce_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The reduction (conv, then BN with its running statistics) as weight [D, C] and bias [D]."""
        weight = self.reduce_conv.weight.flatten(1)
        bias = self.reduce_conv.bias if self.reduce_conv.bias is not None else weight.new_zeros(len(weight))
        bn = self.reduce_bn
        if isinstance(bn, nn.BatchNorm2d):
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            weight, bias = scale[:, None] * weight, (bias - bn.running_mean) * scale + bn.bias
        return weight, bias

    def cam(self, x: torch.Tensor, target: torch.Tensor | None = None) -> dict:
        """{stage: (raw CAMs [N, h, w] at the stage's resolution, classes [N])} for stages 1-3 (with DS) and 4.

        M_c(i, j) = sum_k w^c_k F_k(i, j), F the map the branch pools (Eq. 7 with SA, Eq. 5
        without, up to the constant H*W). `target` None: each image's top-1 class of that branch.
        """
        maps = self.backbone.forward_stages(x)
        heads = [(attend(f, self.sa2), cls.weight, cls.bias) for f, cls in zip(maps, self.ds_classifiers)]
        cls = self.classifier if self.classifier is not None else self.part_classifiers[0]
        weight, bias = self.reduce_affine()
        heads.append((attend(maps[3], self.sa1), cls.weight @ weight, cls.weight @ bias + cls.bias))
        out = {}
        for stage, (f, weight, bias) in zip([*range(1, len(heads)), 4], heads):
            t = (f.mean((2, 3)) @ weight.T + bias).argmax(1) if target is None else target
            out[stage] = (torch.einsum("nchw,nc->nhw", f, weight[t]), t)
        return out


@register("pfsa")
def build(cell_cfg: dict, num_classes: int) -> PFSA:
    args = model_args(cell_cfg, DEFAULTS)
    where = f"params.yaml: methods.{cell_cfg['method']}.args"
    if args["parts"] < 1:
        raise InputError(f"{where}.parts: must be >= 1")
    if args["sa2"] and not args["deep_supervision"]:
        raise InputError(f"{where}.sa2: the SA2 layers sit in the deep-supervision branches (deep_supervision: false)")
    if args["embedding"] not in EMBEDDINGS:
        raise InputError(f"{where}.embedding: one of {list(EMBEDDINGS)}")
    if "default" not in args["dropout"]:
        raise InputError(f"{where}.dropout: needs a `default` rate")
    t = cell_cfg["train"]
    backbone = ResNetStages(t["backbone"], t["last_stride"], t["pretrained"])
    return PFSA(backbone, num_classes, parts=args["parts"], deep_supervision=args["deep_supervision"],
                sa1=args["sa1"], sa2=args["sa2"], lam=args["lambda"], reduced_dim=args["reduced_dim"],
                reduce_bn=args["reduce_bn"],
                dropout=args["dropout"].get(cell_cfg["dataset"], args["dropout"]["default"]),
                embedding=args["embedding"], label_smoothing=t["label_smoothing"])
