"""The papers' recipes where they are explicit: every paper method's `train:` written out in full,
SAG's exponential decay over all training identities, DAAF's learning rate, plain momentum SGD
unless the source says Nesterov, no test-time flip averaging, BoT's center loss and normalised
test feature, and the captions that say so."""
from __future__ import annotations

import pytest
import torch

from attnreid import config, models, papers
from attnreid.engine.optim import build_optimizer, lr_factor
from attnreid.errors import InputError
from attnreid.grid import Cell
from attnreid.report.tables import recipe_note
from conftest import ROOT, params_grid, tiny_cell_cfg

pytestmark = pytest.mark.usefixtures("one_thread")

SPINE = {"baseline", "baseline-gap"}  # this project's own baselines, not a paper's recipe
ALWAYS = {"backbone", "last_stride", "pretrained", "height", "width", "epochs", "sampler", "optimizer", "lr",
          "weight_decay", "pretrained_lr_mult", "warmup_epochs", "schedule", "gamma", "label_smoothing", "flip", "pad",
          "random_erasing", "normalize", "validation"}


def recipe_keys(t: dict) -> set[str]:
    """The train keys that shape this recipe's training, given its sampler, optimiser, warm-up and schedule."""
    keys = set(ALWAYS)
    keys |= {"ids_per_batch", "imgs_per_id"} if t["sampler"] == "pk" else {"batch_size"}
    keys |= {"momentum", "nesterov"} if t["optimizer"] == "sgd" else set()
    keys |= {"warmup_factor"} if t["warmup_epochs"] else set()
    keys |= {"milestones"} if t["schedule"] == "step" else {"step_size"}
    return keys


def test_every_paper_recipe_reads_completely_on_its_own():
    raw = config.load_raw(ROOT / "params.yaml")
    for method, m in raw["methods"].items():
        if method in SPINE:
            continue
        own = m.get("train", {})
        missing = recipe_keys({**raw["train"], **own}) - set(own)
        assert not missing, f"methods.{method}.train inherits {sorted(missing)} from the global defaults"


def test_exponential_schedule_is_smooth_sag_policy():
    cfg = {"warmup_epochs": 0, "schedule": "exponential", "step_size": 30, "gamma": 0.1}
    f = [lr_factor(e, cfg) for e in range(0, 91)]
    assert f[0] == 1 and f[30] == pytest.approx(0.1) and f[60] == pytest.approx(0.01)
    assert f[15] == pytest.approx(0.1 ** 0.5)
    assert all(b / a == pytest.approx(0.1 ** (1 / 30)) for a, b in zip(f, f[1:]))  # no steps
    step = {**cfg, "schedule": "step", "milestones": [30]}
    assert [lr_factor(e, step) for e in (29, 30)] == [1, pytest.approx(0.1)]


def test_sag_paper_recipe_trains_on_all_identities_for_200_epochs():
    paper, synthetic = params_grid("paper"), params_grid("synthetic")
    for row in papers.table("sag/table1").rows:
        t = paper.cell_config(Cell("market1501", row.method, 0))["train"]
        assert (t["epochs"], t["schedule"], t["step_size"], t["gamma"]) == (200, "exponential", 30, 0.1)
        assert t["validation"]["ids"] == 0  # no identity held out of the 751-unit classifier
        assert synthetic.cell_config(Cell("synth-market", row.method, 0))["train"]["validation"]["ids"] == 0.1
    note = recipe_note(papers.table("sag/table1"), synthetic)
    assert "held out of training, for `sag-baseline`" in note
    assert "Model selection" not in recipe_note(papers.table("sag/table1"), paper)


def test_daaf_rows_and_their_base_rows_train_at_the_papers_rate():
    g = params_grid("paper")
    for tid in ("daaf/table2", "daaf/table3", "daaf/table4", "daaf/table5", "daaf/table6", "daaf/table7"):
        for m in papers.table(tid).methods():
            if m != "pcb":
                assert g.cell_config(Cell("market1501", m, 0))["train"]["lr"] == 1e-3, m


def test_sgd_is_plain_momentum_unless_the_source_says_nesterov():
    g = params_grid("paper")
    sgd = {m: g.cell_config(Cell("market1501", m, 0))["train"] for m in g.params["methods"]}
    sgd = {m: t for m, t in sgd.items() if t["optimizer"] == "sgd"}
    assert {m for m, t in sgd.items() if t["nesterov"]} == {"pcb"}
    model = torch.nn.Module()
    model.backbone, model.head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    for nesterov in (False, True):
        opt = build_optimizer(model, {**sgd["pfsa-full"], "nesterov": nesterov}, pretrained=True)
        assert all(grp["nesterov"] is nesterov for grp in opt.param_groups)
    with pytest.raises(InputError, match="train.nesterov"):
        build_optimizer(model, {**sgd["pfsa-full"], "nesterov": True, "momentum": 0.0}, pretrained=True)


def test_no_paper_averages_with_the_mirror_and_a_method_may_choose():
    g = params_grid("paper")
    assert not any(g.eval_config(m)["flip"] for m in g.params["methods"])
    g.params["methods"]["pfsa-full"]["eval"] = {"flip": True}
    assert g.eval_config("pfsa-full")["flip"] and not g.eval_config("pfsa-full-nosa")["flip"]
    assert "methods.pfsa-full" in g.extract(Cell("market1501", "pfsa-full", 0)).params  # eval included, even if added later
    note = recipe_note(papers.table("pfsa/table3"), g)
    assert note.startswith("Test features: averaged with the mirror image for `pfsa-full`; the image alone")
    assert recipe_note(papers.table("pfsa/table3"), params_grid("paper")).startswith(
        "Test features: each image alone")


@pytest.mark.parametrize("method", ["daaf-bot-base", "daaf-bot"])
def test_bot_has_its_center_loss_and_normalised_bnneck_test_feature(method):
    g = params_grid()
    torch.manual_seed(0)
    model = models.build(tiny_cell_cfg(g, method), num_classes=4)
    base = model.inference_model() if hasattr(model, "inference_model") else model
    x, pid = torch.randn(8, 3, 64, 32), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    out = model.train()(x)
    terms = base.losses(out, {"pid": pid})
    want = 5e-4 * ((out["feat"] - base.centers[pid]) ** 2).sum(1).mean()
    assert torch.allclose(terms["center"], want) and {"ce", "triplet", "center"} <= set(terms)
    terms["center"].backward()
    assert base.centers.grad is not None and base.centers.grad.abs().sum() > 0
    with torch.no_grad():
        emb = model.eval()(x)
        bn = base.neck(torch.nn.functional.adaptive_avg_pool2d(base.backbone(x), 1).flatten(1))
    assert torch.allclose(emb.norm(dim=1), torch.ones(8), atol=1e-5)
    assert torch.allclose(emb, torch.nn.functional.normalize(bn, dim=1), atol=1e-5)


def test_table6_caption_and_fig5_model():
    caption = papers.table("daaf/table6").caption
    assert "inconsistent" in caption and "equals Table 4's HAB + PAB" in caption
    assert papers.figure("daaf/fig5").methods == ("daaf-trinet-base", "daaf-trinet-hab")
    assert params_grid("paper").method_cfg("daaf-trinet-hab")["args"] == {"base": "trinet", "pab": "none"}
