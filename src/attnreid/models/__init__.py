"""Models chosen by name from params.yaml `methods.<m>.model`; a paper adds one module here
(every module of this package and its subpackages is imported, and registers its builders with @register).

Layout: each paper's network (pfsa.py, camguided.py, sag.py, daaf.py) and the cross-paper one
(compare.py: BoT + one paper's mechanism) are assembled from shared parts:
- bases/: the ResNet stages (backbone.py) and the base networks a mechanism plugs into (baseline.py:
  the baseline and BoT; trinet.py: TriNet);
- attention/: each paper's attention mechanism (pfsa.py: the parameter-free SA; cam.py: CAM-guided
  A_s, A_c and the CAM loss; sag.py: the SAG module and its two-branch forward);
- branches/: training-only branches, dropped at inference (deep_supervision.py: PFSA's DS branches;
  daaf.py: DAAF's HAB and PAB);
- heads/: identity classifiers and BoT's BN neck (classifier.py);
- losses.py: loss terms shared by several heads; args.py, weights.py: model arguments, weight files.

A model is an nn.Module that in training mode returns a dict of outputs and implements
`losses(outputs, batch) -> dict[str, Tensor]` (weighted terms, summed by the loop), and in eval
mode returns the inference embedding [N, D]. Pretrained layers live under `model.backbone` (they
get train.pretrained_lr_mult x the learning rate). The training loop knows nothing else about it,
except whether the cell trains on pseudo-labels (`register(name, pseudo_labels=predicate)`): then
each batch also carries `mask` [N, H, W] and `keypoints` [N, 17, 3] (see data/dataset.py).
"""
from __future__ import annotations

from typing import Callable

from attnreid.errors import InputError

REGISTRY: dict[str, Callable] = {}
PSEUDO_LABELS: dict[str, Callable[[dict], bool]] = {}  # model name -> does this cell config need them


def register(name: str, pseudo_labels: Callable[[dict], bool] | None = None):
    def deco(builder):
        REGISTRY[name] = builder
        if pseudo_labels is not None:
            PSEUDO_LABELS[name] = pseudo_labels
        return builder
    return deco


def needs_pseudo_labels(cell_cfg: dict) -> bool:
    """Whether the cell's model trains on the pseudo-label masks/keypoints."""
    _load_all()
    return PSEUDO_LABELS.get(cell_cfg["model"], lambda _: False)(cell_cfg)


def build(cell_cfg: dict, num_classes: int):
    """Build the model of a cell config (see Grid.cell_config)."""
    _load_all()
    name = cell_cfg["model"]
    if name not in REGISTRY:
        raise InputError(f"params.yaml: methods.{cell_cfg['method']}.model: unknown model '{name}' (have {sorted(REGISTRY)})")
    return REGISTRY[name](cell_cfg, num_classes)


def _load_all() -> None:
    """Import every module of this package and its subpackages once, so each registers its builders."""
    import importlib
    import pkgutil

    for mod in pkgutil.walk_packages(__path__, f"{__name__}."):
        importlib.import_module(mod.name)
