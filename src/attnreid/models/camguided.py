"""CAM-guided parameter-free attention network (Li, Zhang, Coleman, Shi), one class whose
`attention` arg gives every model of the paper's Table I. Built from the shared parts: the ResNet
stages (bases/backbone.py), the attention and its loss (attention/cam.py) and the BN neck
(heads/classifier.py); its own head is the 1x1-conv classifier before GAP (the class score maps).

What the paper says (section II, III-B) and what is chosen where it is silent:
- Baseline: ResNet stages 1-4 (`model.backbone`), last stride 1 (train recipe key
  `train.last_stride`); a BN layer between the features and the classifier; the fully-connected
  classifier replaced by a bias-free 1x1 conv to one channel per identity *before* GAP, so the
  class score maps are CAMs and their GAP the logits. The BN is a BatchNorm2d on the map (the
  classifier works on the map); its bias is frozen as in BoT's BN neck.
- Where the attention sits: "inserted once in the network", between feature extraction and the
  BN/classifier (Fig. 1 is not in the text): on the stage-4 map X, the CAM's own resolution.
- `attention`: `none` (Baseline), `s` (X A_s), `c` (X A_c), `s-c` / `c-s` (in sequence, the second
  attention computed on the first's output), `sxc` (S*C: both from X, multiplied). A_s, A_c and the
  arrangements are models/attention/cam.py's (no parameters).
- Attention loss (Eq. 5): L_a = mean over H x W of (M_t - A_s)^2, both up-sampled bilinearly to the
  input size. Chosen: A_s is that of X, the block's input, which every arrangement computes (C
  needs it for its cosines; in S-C/C-S it is the first spatial map); M_t, the score map of the true
  identity t, is min-max normalised per image like A_s (Eq. 2), and detached: the CAM is the
  supervision signal of A_s, not itself pulled towards it. The Baseline has no L_a.
- Loss (Eq. 6): L = L_id + L_tri + lambda L_a, lambda = 0.01; L_id cross-entropy with
  train.label_smoothing (0.1, BoT); L_tri batch-hard triplet on the pooled attended map before the
  BN (BoT), margin `triplet_margin` (paper silent; BoT's 0.3).
- Inference embedding: the pooled BN output (BoT's choice; the paper is silent).

`cam(x, target)` (analysis/cam.py): stage 4, the 1x1 classifier's score map of `target` (default:
each image's top-1 class). `attention_mse(x, target)`: per-image L_a, the measure behind the
test-set figure (beyond the paper).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnreid.errors import InputError
from attnreid.models import register
from attnreid.models.args import model_args
from attnreid.models.attention.cam import ARRANGEMENTS, arrange, attention_mse
from attnreid.models.bases.backbone import ResNetStages
from attnreid.models.heads.classifier import bn_neck
from attnreid.models.losses import batch_hard_triplet

DEFAULTS = {"attention": "sxc", "lambda": 0.01, "triplet_margin": 0.3}


class CAMGuided(nn.Module):
    def __init__(self, backbone: ResNetStages, num_classes: int, *, attention: str, lam: float,
                 triplet_margin: float | None, label_smoothing: float):
        super().__init__()
        self.backbone = backbone
        dim = backbone.channels[-1]
        self.attention, self.lam = attention, lam
        self.triplet_margin, self.label_smoothing = triplet_margin, label_smoothing
        self.neck = bn_neck(dim, spatial=True)
        self.classifier = nn.Conv2d(dim, num_classes, 1, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the attended map, A_s(x), the spatial map L_a supervises)."""
        return arrange(x, self.attention)

    def _maps(self, x: torch.Tensor):
        """(attended map, A_s, BN output, class score maps [N, classes, h, w])."""
        f, a_s = self.attend(self.backbone(x))
        normed = self.neck(f)
        return f, a_s, normed, self.classifier(normed)

    def forward(self, x):
        f, a_s, normed, scores = self._maps(x)
        if not self.training:
            return normed.mean((2, 3))
        return {"feat": f.mean((2, 3)), "logits": scores.mean((2, 3)), "scores": scores, "a_s": a_s,
                "size": tuple(x.shape[-2:])}

    def losses(self, out: dict, batch: dict) -> dict:
        """L_id, L_tri and lambda L_a (Eq. 6) as separate terms."""
        pid = batch["pid"]
        terms = {"id": F.cross_entropy(out["logits"], pid, label_smoothing=self.label_smoothing),
                 "triplet": batch_hard_triplet(out["feat"], pid, self.triplet_margin)}
        if self.attention != "none":
            terms["attention"] = self.lam * attention_mse(out["scores"], out["a_s"], pid, out["size"]).mean()
        return terms

    def cam(self, x: torch.Tensor, target: torch.Tensor | None = None) -> dict:
        """{4: (score maps of `target` [N, h, w], classes [N])}; their mean over h x w is the logit."""
        scores = self._maps(x)[3]
        t = scores.mean((2, 3)).argmax(1) if target is None else target
        return {4: (scores[torch.arange(len(t), device=scores.device), t], t)}

    def attention_mse(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image Eq. (5) between the CAM of `target` (default: top-1 class) and A_s(X), [N]."""
        _, a_s, _, scores = self._maps(x)
        t = scores.mean((2, 3)).argmax(1) if target is None else target
        return attention_mse(scores, a_s, t, x.shape[-2:])


@register("camguided")
def build(cell_cfg: dict, num_classes: int) -> CAMGuided:
    args = model_args(cell_cfg, DEFAULTS)
    if args["attention"] not in ARRANGEMENTS:
        raise InputError(f"params.yaml: methods.{cell_cfg['method']}.args.attention: one of {list(ARRANGEMENTS)}")
    t = cell_cfg["train"]
    backbone = ResNetStages(t["backbone"], t["last_stride"], t["pretrained"])
    return CAMGuided(backbone, num_classes, attention=args["attention"], lam=args["lambda"],
                     triplet_margin=args["triplet_margin"], label_smoothing=t["label_smoothing"])
