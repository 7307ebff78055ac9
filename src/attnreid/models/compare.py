"""One base, every attention (issue 20): BoT with one paper's attention mechanism, inserted where that
paper inserts it, so the four mechanisms are compared on one network, recipe and data.

The base is models/bases/baseline.py's `Baseline` with BoT's args (ResNet stages 1-4 with the recipe's last
stride 1, GAP, BN neck, linear classifier; CE with label smoothing + batch-hard triplet + center loss
on the pooled feature; BN-neck output, L2-normalised, at test time). `AttentionBoT` is that class
with a mechanism (`mechanism`) between the backbone and the head; its `head` and BoT's losses are
inherited unchanged, and each mechanism is the part its paper's network is built from:

- `pfsa` (models/attention/pfsa.py, models/branches/deep_supervision.py, as models/pfsa.py): the
  parameter-free SA on the stage-4 map before GAP (the paper's SA1, `sa4`) and deep-supervision branches
  on stages 1-3 (SA -> GAP -> linear classifier -> CE, `deep_supervision`, SA in them: `sa_ds`, the
  paper's SA2): Table 2's best single-branch model (Backbone + DS + SA1 + SA2). Adapted: BoT has no part
  classifiers, so PFSA's weighting (1 - lambda) sum l_p + lambda (sum l_si + l_F) becomes L_BoT + lambda
  sum l_si, lambda = 0.2 (the DS weight); the DS classifiers are training-only.
- `camg` (models/attention/cam.py `arrange`, `cam_mse`, as models/camguided.py): S*C on the stage-4 map
  before GAP, and the CAM-supervised attention loss lambda L_a (Eq. 5, lambda 0.01). Adapted: the CAM
  needs a class score map, and BoT's classifier is linear after GAP + BN1d; the score map of class t is
  that classifier applied at every position of the attended map through the BN neck (the pooled
  feature's batch statistics in training). Its mean over positions is the logit, as with the paper's 1x1
  conv before GAP; the neck's shift is the same at every position, so after Eq. 2's min-max
  normalisation M_t is min-max of sum_k w_tk (gamma_k / sigma_k) x_k(i, j) exactly. The paper's BN is a
  BatchNorm2d on the map; here the base's BatchNorm1d is kept (the base is what is held fixed).
- `sag` (models/attention/sag.py, as models/sag.py): SAG at D4 with
  its high-resolution branch (the input up-sampled x2 through the shared backbone, per-branch BN
  statistics); the attended map replaces the low branch's stage-4 map (merge `replace`, no Eq. 7 at
  D4, as the paper finds) and goes to BoT's head. Adapted: the paper's 160x64 input and last stride 2
  become the recipe's (256x128, last stride 1): the high branch sees 512x256 and the grid is 16x8.
- DAAF needs no class here: its network (models/daaf.py, branches in models/branches/daaf.py) takes
  the base as an argument; `model: daaf` with `base: baseline` and BoT's args is DAAF on this base
  (training-only HAB + PAB).
- `none`: the base itself (for the tests; the recipe's base row uses `model: baseline`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnreid.errors import InputError
from attnreid.models import register
from attnreid.models.args import model_args
from attnreid.models.attention.cam import ARRANGEMENTS, arrange, cam_mse
from attnreid.models.attention.pfsa import attend
from attnreid.models.attention.sag import SAGModule, high_branch_batchnorms, two_branch_forward
from attnreid.models.bases.backbone import ResNetStages
from attnreid.models.bases.baseline import DEFAULTS as BASE_DEFAULTS
from attnreid.models.bases.baseline import Baseline
from attnreid.models.branches import deep_supervision as ds

MECHANISMS = ("none", "pfsa", "camg", "sag")
DEFAULTS = {**BASE_DEFAULTS, "mechanism": "none",
            "sa4": True, "deep_supervision": True, "sa_ds": True, "lambda_ds": 0.2,  # pfsa
            "arrangement": "sxc", "lambda_cam": 0.01}                              # camg
SAG_DEPTH = 4


class AttentionBoT(Baseline):
    def __init__(self, backbone: ResNetStages, num_classes: int, *, mechanism: str, base: dict,
                 label_smoothing: float, pfsa: dict, camg: dict):
        super().__init__(backbone, num_classes, base["neck"], label_smoothing, base["triplet_margin"],
                         base["center_loss"], base["normalize_embedding"])
        self.mechanism = mechanism
        self.sa4 = mechanism == "pfsa" and pfsa["sa4"]
        self.sa_ds, self.lambda_ds = pfsa["sa_ds"], pfsa["lambda_ds"]
        on = mechanism == "pfsa" and pfsa["deep_supervision"]
        self.ds_classifiers = ds.classifiers(backbone.channels, num_classes, on)
        self.arrangement, self.lambda_cam = camg["arrangement"], camg["lambda_cam"]
        if mechanism == "sag":
            self.sag = nn.ModuleDict({str(SAG_DEPTH): SAGModule(backbone.channels[SAG_DEPTH - 1])})
            self._high_bns = high_branch_batchnorms(backbone, [SAG_DEPTH])

    def forward(self, x):
        extras = {}
        if self.mechanism == "sag":
            f4 = two_branch_forward(self.backbone, self.sag, self._high_bns, [SAG_DEPTH], set(), "replace", x)[0]
        else:
            maps = self.backbone.forward_stages(x)
            f4 = attend(maps[3], self.sa4)
            if self.training and self.ds_classifiers:
                extras["ds_logits"] = ds.logits(self.ds_classifiers, maps, self.sa_ds)
            if self.mechanism == "camg":
                f4, a_s = arrange(f4, self.arrangement)
                extras.update(attended=f4, a_s=a_s, size=tuple(x.shape[-2:]))
        out = self.head(f4)
        return {**out, **extras} if self.training else out

    def true_class_map(self, attended: torch.Tensor, feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """[N, h, w]: the classifier's score map of `target` through the BN neck's per-channel scale, up to a
        per-image constant (see the module docstring); training mode: the batch statistics of `feat`."""
        w = self.classifier.weight[target]  # [N, C]
        if isinstance(self.neck, nn.BatchNorm1d):
            var = feat.var(0, unbiased=False) if self.training else self.neck.running_var
            w = w * (self.neck.weight / torch.sqrt(var + self.neck.eps))
        return torch.einsum("nchw,nc->nhw", attended, w)

    def losses(self, out: dict, batch: dict) -> dict:
        terms = super().losses(out, batch)
        pid = batch["pid"]
        for i, z in enumerate(out.get("ds_logits", [])):
            terms[f"ds{i + 1}"] = self.lambda_ds * F.cross_entropy(z, pid, label_smoothing=self.label_smoothing)
        if self.mechanism == "camg":
            m_t = self.true_class_map(out["attended"], out["feat"], pid)
            terms["attention"] = self.lambda_cam * cam_mse(m_t, out["a_s"], out["size"]).mean()
        return terms


@register("bot-attention")
def build(cell_cfg: dict, num_classes: int) -> AttentionBoT:
    args = model_args(cell_cfg, DEFAULTS)
    where = f"params.yaml: methods.{cell_cfg['method']}.args"
    if args["mechanism"] not in MECHANISMS:
        raise InputError(f"{where}.mechanism: one of {list(MECHANISMS)}")
    if args["neck"] not in ("bnneck", "none"):
        raise InputError(f"{where}.neck: bnneck or none")
    if args["arrangement"] not in ARRANGEMENTS:
        raise InputError(f"{where}.arrangement: one of {list(ARRANGEMENTS)}")
    t = cell_cfg["train"]
    backbone = ResNetStages(t["backbone"], t["last_stride"], t["pretrained"])
    return AttentionBoT(backbone, num_classes, mechanism=args["mechanism"], label_smoothing=t["label_smoothing"],
                        base={k: args[k] for k in BASE_DEFAULTS},
                        pfsa={k: args[k] for k in ("sa4", "deep_supervision", "sa_ds", "lambda_ds")},
                        camg={k: args[k] for k in ("arrangement", "lambda_cam")})
