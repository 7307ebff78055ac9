"""Optimiser with a reduced rate for pretrained layers, and warm-up + a per-epoch decay.

Decay (`train.schedule`): `step` multiplies the rate by gamma at each of `milestones`; `exponential`
is SAG's policy lr = lr(0) * gamma^(k / stepsize) with stepsize `step_size` epochs, evaluated at the
start of each epoch (the paper's k counts mini-batches: within an epoch the rate here stays
constant, at most a factor gamma^(1/step_size) above the paper's). SGD is plain momentum SGD
unless `train.nesterov` (PCB's reference code) is set.
"""
from __future__ import annotations

import bisect

import torch

from attnreid.errors import InputError


def build_optimizer(model: torch.nn.Module, cfg: dict, pretrained: bool) -> torch.optim.Optimizer:
    """Parameters under `model.backbone` get lr x pretrained_lr_mult when the backbone was pretrained."""
    backbone = {id(p) for p in model.backbone.parameters()} if hasattr(model, "backbone") else set()
    params = [p for p in model.parameters() if p.requires_grad]
    mult = cfg["pretrained_lr_mult"] if pretrained else 1.0
    groups = [{"params": [p for p in params if id(p) in backbone], "lr": cfg["lr"] * mult},
              {"params": [p for p in params if id(p) not in backbone], "lr": cfg["lr"]}]
    groups = [g for g in groups if g["params"]]
    if cfg["optimizer"] == "sgd":
        if cfg["nesterov"] and cfg["momentum"] <= 0:
            raise InputError("params.yaml: train.nesterov: needs train.momentum > 0")
        return torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"],
                               nesterov=cfg["nesterov"])
    return torch.optim.Adam(groups, lr=cfg["lr"], weight_decay=cfg["weight_decay"])


def lr_factor(epoch: int, cfg: dict) -> float:
    """Linear warm-up from warmup_factor to 1 over warmup_epochs, then the schedule's decay."""
    if epoch < cfg["warmup_epochs"]:
        alpha = epoch / cfg["warmup_epochs"]
        return cfg["warmup_factor"] * (1 - alpha) + alpha
    if cfg["schedule"] == "exponential":
        return cfg["gamma"] ** (epoch / cfg["step_size"])
    return cfg["gamma"] ** bisect.bisect_right(sorted(cfg["milestones"]), epoch)


def build_scheduler(opt: torch.optim.Optimizer, cfg: dict) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda e: lr_factor(e, cfg))
