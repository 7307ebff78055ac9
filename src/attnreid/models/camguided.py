"""CAM-guided parameter-free attention network (Li, Zhang, Coleman, Shi), one class whose
`attention` arg gives every model of the paper's Table I.

What the paper says (section II, III-B) and what is chosen where it is silent:
- Baseline: ResNet stages 1-4 (`model.backbone`), last stride 1 (train recipe key
  `train.last_stride`); a BN layer between the features and the classifier; the fully-connected
  classifier replaced by a bias-free 1x1 conv to one channel per identity *before* GAP, so the
  class score maps are CAMs and their GAP the logits. The BN is a BatchNorm2d on the map (the
  classifier works on the map); its bias is frozen as in BoT's BN neck.
- Where the attention sits: "inserted once in the network", between feature extraction and the
  BN/classifier (Fig. 1 is not in the text): on the stage-4 map X, the CAM's own resolution.
- `attention`: `none` (Baseline), `s` (X A_s), `c` (X A_c), `s-c` / `c-s` (in sequence, the second
  attention computed on the first's output), `sxc` (S*C: both from X, multiplied). A_s and A_c are
  models/layers.py's cam_spatial_attention / cam_channel_attention (no parameters).
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
from attnreid.models.backbone import ResNetStages
from attnreid.models.layers import cam_channel_attention, cam_spatial_attention, minmax
from attnreid.models.losses import batch_hard_triplet

ARRANGEMENTS = ("none", "s", "c", "s-c", "c-s", "sxc")
DEFAULTS = {"attention": "sxc", "lambda": 0.01, "triplet_margin": 0.3}


def _interp_matrix(n: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """[n, size]: row i is 1-D linear up-sampling (align_corners False) of the unit vector e_i."""
    eye = torch.eye(n, dtype=like.dtype, device=like.device)[None]
    return F.interpolate(eye, size=size, mode="linear", align_corners=False)[0]


def upsample(maps: torch.Tensor, size) -> torch.Tensor:
    """[N, h, w] -> [N, H, W], equal to F.interpolate(bilinear, align_corners False), written as two
    matrix products so that its backward is deterministic on CUDA (no atomic adds)."""
    rows, cols = _interp_matrix(maps.shape[1], size[0], maps), _interp_matrix(maps.shape[2], size[1], maps)
    return torch.einsum("nhw,hH,wW->nHW", maps, rows, cols)


def attention_mse(scores: torch.Tensor, a_s: torch.Tensor, target: torch.Tensor, size) -> torch.Tensor:
    """Per-image Eq. (5): mean over the input's H x W of (N(M_t) - A_s)^2, both up-sampled; M_t detached."""
    return cam_mse(scores[torch.arange(len(target), device=scores.device), target], a_s, size)


def cam_mse(m_t: torch.Tensor, a_s: torch.Tensor, size) -> torch.Tensor:
    """Per-image Eq. (5) from the score map of the true class M_t [N, h, w] (detached here) and A_s [N, 1, h, w]."""
    return (upsample(minmax(m_t.detach()), size) - upsample(a_s[:, 0], size)).pow(2).mean((1, 2))


def arrange(x: torch.Tensor, attention: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(X under the arrangement `attention` of A_s and A_c, A_s(X), the spatial map L_a supervises);
    shared by models/camguided.py and models/compare.py."""
    a_s = cam_spatial_attention(x)
    if attention == "s":
        return x * a_s, a_s
    if attention == "c":
        return x * cam_channel_attention(x, a_s), a_s
    if attention == "s-c":
        y = x * a_s
        return y * cam_channel_attention(y), a_s
    if attention == "c-s":
        y = x * cam_channel_attention(x, a_s)
        return y * cam_spatial_attention(y), a_s
    if attention == "sxc":
        return x * a_s * cam_channel_attention(x, a_s), a_s
    return x, a_s


class CAMGuided(nn.Module):
    def __init__(self, backbone: ResNetStages, num_classes: int, *, attention: str, lam: float,
                 triplet_margin: float | None, label_smoothing: float):
        super().__init__()
        self.backbone = backbone
        dim = backbone.channels[-1]
        self.attention, self.lam = attention, lam
        self.triplet_margin, self.label_smoothing = triplet_margin, label_smoothing
        self.neck = nn.BatchNorm2d(dim)
        self.neck.bias.requires_grad_(False)
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
