import pytest
import torch

from attnreid.engine.optim import build_optimizer, lr_factor
from attnreid.models import build
from attnreid.errors import InputError

SCHED = {"warmup_epochs": 2, "warmup_factor": 0.1, "milestones": [4, 6], "gamma": 0.1, "schedule": "step"}


def cell_cfg(**args):
    return {"cell": "d/m/s0", "method": "m", "model": "baseline", "args": args, "seed": 0,
            "train": {"backbone": "resnet18", "last_stride": 1, "pretrained": "none", "label_smoothing": 0.1,
                      "lr": 0.1, "pretrained_lr_mult": 0.1, "optimizer": "sgd", "momentum": 0.9, "nesterov": False,
                      "weight_decay": 5e-4}}


def test_lr_schedule_warmup_then_steps():
    assert [round(lr_factor(e, SCHED), 4) for e in range(8)] == [0.1, 0.55, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01]


def test_baseline_trains_a_step_and_last_stride():
    model = build(cell_cfg(neck="bnneck"), num_classes=5)
    x, y = torch.randn(4, 3, 64, 32), torch.tensor([0, 1, 2, 3])
    model.train()
    out = model(x)
    loss = sum(model.losses(out, {"pid": y}).values())
    loss.backward()
    assert out["logits"].shape == (4, 5) and torch.isfinite(loss)
    assert model.backbone(x).shape[-2:] == (4, 2)  # stride 16 with last stride 1
    model.eval()
    assert model(x).shape == (4, 512)


def test_unknown_model_arg_is_named():
    with pytest.raises(InputError, match="methods.m.args.nek: unknown key"):
        build(cell_cfg(nek="bnneck"), 5)


def test_pretrained_layers_get_reduced_lr():
    model = build(cell_cfg(), 5)
    cfg = cell_cfg()["train"]
    groups = build_optimizer(model, cfg, pretrained=True).param_groups
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 0.1])
    assert [g["lr"] for g in build_optimizer(model, cfg, pretrained=False).param_groups] == pytest.approx([0.1, 0.1])

