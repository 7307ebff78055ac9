"""The training step (engine/step.py): a bf16 autocast step of every model runs on the CPU (the
dtype errors a GPU run would hit), fp16 carries a gradient scaler, loss sums stay on the device."""
from __future__ import annotations

import pytest
import torch

from attnreid import models
from attnreid.data.augment import BatchAugment
from attnreid.engine.optim import build_optimizer
from attnreid.engine.step import Step, Totals
from attnreid.pseudo import coco
from conftest import params_grid, tiny_cell_cfg

pytestmark = pytest.mark.usefixtures("one_thread")

# one method per model (DAAF on both of its base networks)
METHODS = ["baseline", "pfsa-full", "camg-sxc", "sag-d4", "daaf-trinet-base", "daaf-trinet", "daaf-bot"]


def batch(cfg: dict, n: int = 8) -> dict:
    t = cfg["train"]
    h, w = t["height"], t["width"]
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=g)
    kps = torch.rand(n, coco.K, 3, generator=g) * torch.tensor([w, h, 1.0])
    kps[0, 3] = torch.tensor([float("nan"), float("nan"), 0.0])
    masks = (torch.rand(n, h, w, generator=g) > 0.5).to(torch.uint8)
    img, masks, kps = BatchAugment(t)(raw, 0, 0, 0, masks, kps)
    return {"img": img, "pid": torch.arange(n) // 4, "camid": torch.zeros(n, dtype=torch.long),
            "index": torch.arange(n), "mask": masks.float(), "keypoints": kps}


@pytest.mark.parametrize("method", METHODS)
def test_a_bf16_channels_last_step_runs_on_the_cpu(method):
    # 128x64, not 64x32: oneDNN's bf16 3x3 stride-2 convolution of a 4x2 map (SAG's layer4 at
    # 64x32) returns non-finite values now and then on this CPU (AMX), with finite inputs
    cfg = tiny_cell_cfg(params_grid(), method, height=128, width=64, precision="bf16", channels_last=True)
    model = models.build(cfg, num_classes=2).train()
    opt = build_optimizer(model, cfg["train"], pretrained=False)
    before = [p.detach().clone() for p in model.parameters()]
    terms = Step(model, opt, cfg["train"], torch.device("cpu"))(batch(cfg))
    assert all(t.dtype == torch.float32 or t.dtype == torch.bfloat16 for t in terms.values())
    assert all(torch.isfinite(t) for t in terms.values()), terms
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast: fp32 master weights
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_fp16_steps_through_a_grad_scaler_and_totals_flag_a_non_finite_loss():
    cfg = tiny_cell_cfg(params_grid(), "baseline", height=64, width=32, precision="fp16")
    model = models.build(cfg, num_classes=2).train()
    step = Step(model, build_optimizer(model, cfg["train"], pretrained=False), cfg["train"], torch.device("cpu"))
    assert step.scaler.is_enabled() and "scale" in step.scaler.state_dict()
    totals = Totals(torch.device("cpu"))
    totals.add({"loss": torch.tensor(2.0)}, 4)
    totals.add({"loss": torch.tensor(1.0)}, 2)
    assert totals.read() == (True, {"loss": 10.0}) and totals.n == 6
    totals.add({"loss": torch.tensor(float("nan"))}, 2)
    assert totals.read()[0] is False


@pytest.mark.parametrize("method", METHODS)
def test_forward_and_losses_trace_as_one_graph(method):
    # no data-dependent branch, shape or .item() from the input to the loss: on a GPU each would
    # make the host wait for the device every step; torch.compile(fullgraph=True) refuses them
    cfg = tiny_cell_cfg(params_grid(), method, height=64, width=32)
    model = models.build(cfg, num_classes=2).train()
    data = batch(cfg)
    torch._dynamo.reset()
    traced = torch.compile(lambda x, b: model.losses(model(x), b), fullgraph=True, backend="eager")
    assert set(traced(data["img"], data)) == set(model.losses(model(data["img"]), data))


@pytest.mark.parametrize("method", ["pfsa-full", "daaf-trinet"])
def test_a_compiled_step_equals_the_eager_one(method, monkeypatch):
    # train.compile wraps the forward in torch.compile. The "aot_eager" backend traces the forward
    # and its backward as inductor would (dynamo + AOTAutograd), without inductor's C++ code
    # generation (~45 s for a ResNet-18 here; benchmarks/gpu_check.py runs inductor itself).
    cfg = tiny_cell_cfg(params_grid(), method, height=64, width=32, compile=True)
    model = models.build(cfg, num_classes=2).train()
    eager = models.build(cfg, num_classes=2).train()
    eager.load_state_dict(model.state_dict())
    data = batch(cfg)
    compiled = []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m: compiled.append(m) or real_compile(m, backend="aot_eager"))
    step = Step(model, build_optimizer(model, cfg["train"], pretrained=False), cfg["train"], torch.device("cpu"))
    cfg["train"]["compile"] = False
    ref = Step(eager, build_optimizer(eager, cfg["train"], pretrained=False), cfg["train"], torch.device("cpu"))
    assert compiled == [model] and step.forward is not model and ref.forward is eager
    for i in range(2):  # the second step runs the compiled graph on the updated weights
        torch.manual_seed(i)  # one dropout draw for both
        got = step(data)
        torch.manual_seed(i)
        want = ref(data)
        assert got.keys() == want.keys()
        for k in want:  # not the weights: Adam turns rounding noise in near-zero gradients into lr-sized steps
            assert torch.allclose(got[k], want[k], rtol=1e-4, atol=1e-5), (i, k, got[k], want[k])
    assert model.state_dict().keys() == eager.state_dict().keys()  # checkpoints keep their names
