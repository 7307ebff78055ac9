"""One base, every attention (issue 20): each mechanism plugs into BoT and trains a step with the base's
embedding; the compare parts compute what the paper models compute; compare/table1 from hand-made
metrics has the right paired differences and costs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from attnreid import models, papers
from attnreid.engine.optim import build_optimizer
from attnreid.grid import Cell
from attnreid.models.attention.cam import minmax
from attnreid.pseudo import coco
from conftest import params_grid, tiny_cell_cfg

pytestmark = pytest.mark.usefixtures("one_thread")

H, W, N = 64, 32, 8
PID = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
METHODS = [m for _, m in papers.compare.ROWS]


def build(method: str, seed: int = 0, classes: int = 4):
    cfg = tiny_cell_cfg(params_grid("synthetic"), method, height=H, width=W)
    torch.manual_seed(seed)
    return models.build(cfg, classes), cfg


def batch() -> dict:
    g = torch.Generator().manual_seed(1)
    kp = torch.rand(N, coco.K, 3, generator=g) * torch.tensor([W, H, 1.0])
    return {"img": torch.randn(N, 3, H, W, generator=g), "pid": PID, "mask": (torch.rand(N, H, W, generator=g) > 0.5),
            "keypoints": kp}


@pytest.mark.parametrize("method", METHODS)
def test_each_mechanism_plugs_into_the_base_trains_a_step_and_keeps_its_embedding(method):
    model, cfg = build(method)
    base, _ = build("compare-base")
    b = batch()
    model.train()
    terms = model.losses(model(b["img"]), b)
    assert {"ce", "triplet", "center"} <= set(terms)  # BoT's losses, whatever the mechanism adds
    extra = {"compare-pfsa-sa": {"ds1", "ds2", "ds3"}, "compare-camg-sc": {"attention"},
             "compare-daaf": {"hab", "pab"}}.get(method, set())
    assert set(terms) - {"ce", "triplet", "center"} == extra
    before = {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
    opt = build_optimizer(model, cfg["train"], False)
    opt.zero_grad()
    loss = sum(terms.values())
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    assert any(not torch.equal(before[k], v) for k, v in model.backbone.state_dict().items())
    model.eval(), base.eval()
    with torch.no_grad():
        emb, base_emb = model(b["img"]), base(b["img"])
    assert emb.shape == base_emb.shape == (N, 512)
    assert torch.allclose(emb.norm(dim=1), torch.ones(N), atol=1e-5)  # BoT's L2-normalised BN-neck output


def test_no_mechanism_is_the_base_itself():
    g = params_grid("synthetic")
    cfg = tiny_cell_cfg(g, "compare-base", height=H, width=W)
    torch.manual_seed(0)
    base = models.build(cfg, 4)
    torch.manual_seed(0)
    plain = models.build({**cfg, "model": "bot-attention", "args": {**cfg["args"], "mechanism": "none"}}, 4)
    assert plain.state_dict().keys() == base.state_dict().keys()
    x = batch()["img"]
    for mode in (True, False):
        base.train(mode), plain.train(mode)
        a, b = base(x), plain(x)
        a, b = (a["logits"], b["logits"]) if mode else (a, b)
        assert torch.equal(a, b)


def _copy(src, dst, prefixes=("backbone.",)):
    """dst's parameters and buffers under `prefixes` from src (keys the same in both)."""
    state = {k: v for k, v in src.state_dict().items() if k.startswith(prefixes)}
    missing = dst.load_state_dict(state, strict=False)
    assert not missing.unexpected_keys


def test_sag_part_is_the_sag_papers_d4_network():
    g = params_grid("synthetic")
    paper = models.build({**tiny_cell_cfg(g, "sag-d4", height=H, width=W, last_stride=1),  # BoT's last stride
                          "args": {"depths": [4], "l2_norm": []}}, 4)
    ours, _ = build("compare-sag-d4", seed=3)
    _copy(paper, ours, ("backbone.", "sag."))
    x = batch()["img"]
    paper.train(), ours.train()
    assert torch.allclose(paper.embed(x), ours(x)["feat"], atol=1e-6)  # the pooled low-branch map after D4


def test_camg_part_is_the_camguided_sxc_attention_and_its_cam_is_the_logit_map():
    g = params_grid("synthetic")
    paper = models.build(tiny_cell_cfg(g, "camg-sxc", height=H, width=W), 4)
    ours, _ = build("compare-camg-sc", seed=3)
    _copy(paper, ours)
    x = batch()["img"]
    paper.train(), ours.train()
    out = ours(x)
    assert torch.allclose(paper._maps(x)[0].mean((2, 3)), out["feat"], atol=1e-6)
    # the full score map through the BN neck (batch statistics): its mean over positions is the logit,
    # and its min-max normalisation is that of true_class_map (the neck's shift is constant over positions)
    bn, f = ours.neck, out["attended"]
    mean, var = out["feat"].mean(0), out["feat"].var(0, unbiased=False)
    normed = (f - mean[:, None, None]) / torch.sqrt(var[:, None, None] + bn.eps) * bn.weight[:, None, None] \
        + bn.bias[:, None, None]
    scores = torch.einsum("nchw,kc->nkhw", normed, ours.classifier.weight)
    assert torch.allclose(scores.mean((2, 3)), out["logits"], atol=1e-5)
    m_t = ours.true_class_map(f, out["feat"], PID)
    assert torch.allclose(minmax(scores[torch.arange(N), PID]), minmax(m_t), atol=1e-4)


def test_pfsa_part_is_the_pfsa_papers_deep_supervision_with_sa():
    g = params_grid("synthetic")
    paper = models.build(tiny_cell_cfg(g, "pfsa-t2-ds-sa1-sa2", height=H, width=W), 4)
    ours, _ = build("compare-pfsa-sa", seed=3)
    _copy(paper, ours, ("backbone.", "ds_classifiers."))
    x = batch()["img"]
    paper.train(), ours.train()
    for a, b in zip(paper(x)["ds_logits"], ours(x)["ds_logits"], strict=True):
        assert torch.allclose(a, b, atol=1e-6)


# -- the table from hand-made metrics ------------------------------------------------------------
OFFSET = {"compare-base": 0.0, "compare-pfsa-sa": 2.0, "compare-camg-sc": -1.0, "compare-sag-d4": 0.5,
          "compare-daaf": 1.0}
SPEED = {"compare-base": 100.0, "compare-pfsa-sa": 90.0, "compare-camg-sc": 95.0, "compare-sag-d4": 25.0,
         "compare-daaf": 50.0}


def _write_metrics(g):
    for ds in papers.compare.DATASETS:
        for method in METHODS:
            for s in g.params["seeds"]:
                cell = Cell(g.stand_in(ds), method, s)
                noise = [0.0, 0.4, -0.3][s] * (method != "compare-base")  # the method's gain varies by seed
                val = (50.0 + 3 * s + OFFSET[method] + noise) / 100
                meta = {"num_classes": 60, "imgs_per_s": SPEED[method] * (1 + 0.1 * s), "device": "cpu",
                        "pretrained": "none",
                        "peak_memory": {"mb": 1000.0 + 10 * OFFSET[method], "kind": "cpu_max_rss"}}
                if method == "compare-daaf" and s == 2:
                    del meta["peak_memory"]  # a run from before the peak was recorded
                path = Path(g.metrics(cell))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"R1": val + 0.1, "mAP": val, "mINP": val - 0.1, "train": meta}))


def test_table_renders_from_hand_made_metrics_with_paired_differences_and_costs(tmp_path, monkeypatch):
    from attnreid.report.tables import render
    from attnreid.viz import draw

    monkeypatch.chdir(tmp_path)
    g = params_grid("synthetic")
    g.params["seeds"] = [0, 1, 2]
    _write_metrics(g)
    table = papers.table("compare/table1")
    out = tmp_path / "results/tables/compare/table1.md"
    render(table, g, str(out))
    df = pd.read_csv(out.with_suffix(".csv"))
    acc = df[(df.kind == "metric") & (df.metric == "mAP") & (df.dataset == "market1501")].set_index("method")
    assert np.isnan(acc.loc["compare-base", "diff_mean"])
    d = np.array([2.0, 2.4, 1.7])  # pfsa - base per seed
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert acc.loc["compare-pfsa-sa", "diff_mean"] == pytest.approx(d.mean())
    assert (acc.loc["compare-pfsa-sa", "ci_lo"], acc.loc["compare-pfsa-sa", "ci_hi"]) == pytest.approx(
        (d.mean() - half, d.mean() + half))
    assert acc.loc["compare-pfsa-sa", "mean"] == pytest.approx(np.mean([52.0, 55.4, 57.7]))
    cost = df[df.kind == "cost"].pivot(index="method", columns="metric", values="mean")
    assert cost.loc["compare-base", "added_params"] == 0 and cost.loc["compare-base", "inference_flops_rel"] == 1
    assert cost.loc["compare-camg-sc", "added_params"] == 0  # parameter-free, and its CAM is BoT's classifier
    assert cost.loc["compare-pfsa-sa", "added_params"] > 0 == cost.loc["compare-pfsa-sa", "added_inference_params"]
    assert cost.loc["compare-daaf", "added_params"] > 0 == cost.loc["compare-daaf", "added_inference_params"]
    assert cost.loc["compare-daaf", "inference_flops_rel"] == pytest.approx(1.0)
    assert cost.loc["compare-sag-d4", "inference_flops_rel"] > 3  # the x2 branch: ~4x the pixels
    assert cost.loc["compare-sag-d4", "train_imgs_per_s_rel"] == pytest.approx(0.25)
    assert cost.loc["compare-pfsa-sa", "peak_memory_mb_rel"] == pytest.approx(1020 / 1000)
    md = out.read_text()
    assert "Δ +2.0 [" in md and "n/a" not in md.split("Costs:")[0]
    daaf_mem = df[(df.method == "compare-daaf") & (df.metric == "peak_memory_mb_rel")].iloc[0]
    assert daaf_mem["n_seeds"] == 4  # 2 datasets x 2 seeds with a recorded peak, not 6
    assert "resnet18, 64×32, 3 epochs, trained from scratch" in md
    assert "peak resident memory (CPU)" in md and "Runs without a recorded peak show n/a" in md
    png = tmp_path / "fig.png"
    draw(papers.figure("compare/fig1"), g, str(png))
    assert png.stat().st_size > 0
