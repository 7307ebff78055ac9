"""CAM-guided: both attentions against Eqs. (1)-(4) (no parameters, constant maps), the arrangements,
the CAM read off the 1x1 classifier, the loss of Eqs. (5)-(6), the Table I grid, and the figures."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnreid import models, papers
from attnreid.errors import InputError
from attnreid.grid import Cell, Grid
from attnreid.models.attention.cam import ARRANGEMENTS, cam_channel_attention, cam_spatial_attention, minmax, upsample
from conftest import bar_heights, panel_grid, params_grid, tiny_cell_cfg, untrained_cells

TABLE1 = papers.table("camguided/table1")
METHODS = {method: label for label, method in papers.camguided.ARRANGEMENTS}


pytestmark = pytest.mark.usefixtures("one_thread")


grid = params_grid


def small_cfg(g: Grid, method: str, **train) -> dict:
    return tiny_cell_cfg(g, method, last_stride=1, **train)


def _norm(a: np.ndarray) -> np.ndarray:
    return (a - a.min()) / (a.max() - a.min())


def test_attentions_match_eqs_1_to_4():
    x = torch.rand(2, 5, 3, 4, dtype=torch.float64)
    a_s, a_c = cam_spatial_attention(x), cam_channel_attention(x)
    assert a_s.shape == (2, 1, 3, 4) and a_c.shape == (2, 5, 1, 1)
    for n in range(2):
        f = x[n].numpy()
        want_s = _norm(_norm(f.mean(0)) + _norm(f.max(0)))
        assert np.allclose(a_s[n, 0].numpy(), want_s, atol=1e-12)
        assert want_s.min() == 0 and want_s.max() == 1
        for i in range(5):
            cos = (want_s * f[i]).sum() / (np.linalg.norm(want_s) * np.linalg.norm(f[i]))
            want_c = math.exp(-math.acos(cos) ** 2 / (2 * math.pi ** 2))
            assert float(a_c[n, i, 0, 0]) == pytest.approx(want_c, rel=1e-9)
    # the Gaussian's range: 1 for a channel equal to A_s, exp(-1/8) for one orthogonal to it
    aligned = torch.cat([a_s[:1], torch.zeros_like(a_s[:1])], 1)
    assert torch.allclose(cam_channel_attention(aligned, a_s[:1]).flatten(),
                          torch.tensor([1.0, math.exp(-1 / 8)], dtype=torch.float64), atol=1e-5)


def test_constant_maps_do_not_divide_by_zero():
    x = torch.full((2, 4, 3, 2), 0.7, requires_grad=True)
    a_s, a_c = cam_spatial_attention(x), cam_channel_attention(x)
    assert torch.equal(a_s, torch.ones_like(a_s))  # uniform attention: the features pass unchanged
    assert torch.isfinite(a_c).all()
    (a_s.sum() + a_c.sum()).backward()
    assert torch.isfinite(x.grad).all()
    # the average map constant, the max map not: the sum is normalised like N(max)
    y = torch.zeros(1, 2, 2, 2)
    y[0, 0] = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y[0, 1] = 1 - y[0, 0]
    assert torch.equal(cam_spatial_attention(y), torch.ones(1, 1, 2, 2))
    assert torch.equal(minmax(torch.zeros(3, 1, 2, 2)), torch.ones(3, 1, 2, 2))


def test_attention_adds_no_parameters_and_arrangements_compose_as_described():
    g = grid()
    built = {a: models.build({**small_cfg(g, "camg-sxc"), "args": {"attention": a}}, 5) for a in ARRANGEMENTS}
    counts = {a: sum(p.numel() for p in m.parameters()) for a, m in built.items()}
    assert len(set(counts.values())) == 1, counts
    x = torch.rand(2, 6, 4, 3)
    s, c = cam_spatial_attention, cam_channel_attention
    y_s, y_c = x * s(x), x * c(x)
    want = {"none": x, "s": y_s, "c": y_c, "s-c": y_s * c(y_s), "c-s": y_c * s(y_c), "sxc": x * s(x) * c(x)}
    for a, model in built.items():
        out, a_s = model.attend(x)
        assert torch.allclose(out, want[a]) and torch.equal(a_s, s(x)), a
    assert not torch.allclose(want["s-c"], want["c-s"])
    with pytest.raises(InputError, match="args.attention"):
        models.build({**small_cfg(g, "camg-sxc"), "args": {"attention": "s+c"}}, 5)


@pytest.mark.parametrize("method", list(METHODS))
def test_each_arrangement_builds_from_params_and_trains_a_step(method):
    g = grid()
    model = models.build(small_cfg(g, method), num_classes=4)
    x, y = torch.randn(8, 3, 64, 32), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    model.train()
    terms = model.losses(model(x), {"pid": y})
    assert set(terms) == ({"id", "triplet"} if method == "camg-baseline" else {"id", "triplet", "attention"})
    sum(terms.values()).backward()
    assert all(torch.isfinite(v) for v in terms.values())
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (8, 512)  # resnet18 stage-4 channels


def test_cam_is_the_score_map_whose_gap_gives_the_logits():
    g = grid()
    model = models.build(small_cfg(g, "camg-sxc"), num_classes=5)
    model.train()
    model.backbone.eval()  # BN running stats: train-mode outputs deterministic
    model.neck.eval()
    x, y = torch.randn(3, 3, 64, 32), torch.tensor([4, 0, 2])
    with torch.no_grad():
        out = model(x)
        (cam, target), = model.cam(x, y).values()
        (cam_top, top), = model.cam(x).values()
    assert list(model.cam(x[:1])) == [4] and cam.shape == (3, 4, 2)  # stage 4 at stride 16 (last stride 1)
    assert torch.equal(target, y) and torch.equal(cam, out["scores"][torch.arange(3), y])
    assert torch.allclose(cam.mean((1, 2)), out["logits"].gather(1, y[:, None])[:, 0], atol=1e-6)
    assert torch.equal(top, out["logits"].argmax(1))
    assert torch.allclose(cam_top.mean((1, 2)), out["logits"].max(1).values, atol=1e-6)


def test_loss_is_eq_6_with_a_detached_normalised_cam():
    g = grid()
    model = models.build(small_cfg(g, "camg-s"), num_classes=4).train()
    assert model.lam == 0.01 and model.triplet_margin == 0.3 and model.label_smoothing == 0.1
    x, y = torch.randn(4, 3, 64, 32), torch.tensor([0, 0, 3, 3])
    out = model(x)
    terms = model.losses(out, {"pid": y})
    m_t = out["scores"][torch.arange(4), y]
    lo, hi = m_t.amin((1, 2), keepdim=True), m_t.amax((1, 2), keepdim=True)

    def up(a):
        return F.interpolate(a[:, None], size=(64, 32), mode="bilinear", align_corners=False)[:, 0]

    want = ((up((m_t - lo) / (hi - lo)) - up(out["a_s"][:, 0])) ** 2).mean()
    assert torch.allclose(terms["attention"], 0.01 * want, atol=1e-7)
    assert torch.allclose(terms["id"], F.cross_entropy(out["logits"], y, label_smoothing=0.1))
    terms["attention"].backward()
    assert model.classifier.weight.grad is None or not model.classifier.weight.grad.any()  # M_t is the target
    assert model.backbone.layer4[0].conv1.weight.grad.abs().sum() > 0  # A_s is pulled towards it


def test_upsample_is_bilinear():
    a = torch.rand(2, 5, 3, dtype=torch.float64)
    want = F.interpolate(a[:, None], size=(17, 8), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(upsample(a, (17, 8)), want, atol=1e-12)


def test_table1_grid_expands_to_18_cells_with_the_papers_recipe():
    g = grid("paper")
    cells = g.table_cells("camguided/table1")
    assert len(cells) == 18 and len({g.config_digest(c) for c in cells}) == 18
    assert {c.dataset for c in cells} == {"market1501", "dukemtmc", "msmt17"}
    assert {c.method for c in cells} == set(METHODS)
    for cell in cells:
        cfg = g.cell_config(cell)
        t = cfg["train"]
        assert (t["optimizer"], t["lr"], t["warmup_factor"], t["warmup_epochs"], t["milestones"], t["epochs"]) == \
            ("adam", 3.5e-4, 0.01, 10, [30, 50], 60)
        assert (t["height"], t["width"], t["last_stride"], t["ids_per_batch"], t["imgs_per_id"]) == (384, 128, 1, 4, 8)
        assert t["weight_decay"] == 5e-4 and t["label_smoothing"] == 0.1 and t["random_erasing"] == 0.5
    assert g.table_cells("camguided/table2") == sorted(Cell(d, "camg-sxc", 0) for d in papers.camguided.DATASETS)
    assert [r.rerank for r in papers.table("camguided/table2").rows if r.method] == [False, True]
    for fig in ("camguided/fig2", "camguided/fig3", "camguided/cam_mse"):
        assert fig in g.params["figures"]


def test_figures_draw_on_a_tiny_dataset(tmp_path, monkeypatch, saved_figures):
    """Fig. 2 (cam), Fig. 3 (ranklist) and the CAM-vs-A_s MSE, from untrained checkpoints and features:
    the panels the data given calls for, the rank lists' true matches, and the MSE measured."""
    from matplotlib.colors import to_rgba

    from attnreid import viz
    from attnreid.eval.distance import pairwise_distance
    from attnreid.viz import ranklist
    from attnreid.viz.cam_mse import mean_attention_mse
    from attnreid.viz.cam_spread import measure_by_model

    monkeypatch.chdir(tmp_path)
    g = grid()
    figures = [papers.figure(f) for f in ("camguided/fig2", "camguided/fig3", "camguided/cam_mse")]
    stand_in = untrained_cells(g, METHODS, lambda m: small_cfg(g, m, height=32, width=16),
                               featured=figures[1].methods)
    for fig in figures:
        viz.draw(fig, g, str(tmp_path / f"{fig.id}.png"))
    cam, ranks, mse = saved_figures
    # Fig. 2: one row per training identity (3 here), the image, then each model's stage-4 CAM
    panel_grid(cam, 3, 1 + len(figures[0].methods))
    # Fig. 3: per model, NUM_QUERIES queries and their top 10; a green frame marks a true match
    methods = figures[1].methods
    panel_grid(ranks, ranklist.NUM_QUERIES * len(methods), 1 + ranklist.TOP, lambda r, c: False)
    green = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start)
             for ax in ranks.axes if ax.spines["left"].get_edgecolor() == to_rgba("green")}
    for m, method in enumerate(methods):
        f = dict(np.load(g.features(Cell(stand_in, method, 0))))
        dist = pairwise_distance(f["query_feat"], f["gallery_feat"], g.params["eval"]["metric"])
        for k, qi in enumerate(np.linspace(0, len(dist) - 1, ranklist.NUM_QUERIES).astype(int)):
            valid = ~((f["gallery_pid"] == f["query_pid"][qi]) & (f["gallery_camid"] == f["query_camid"][qi]))
            top = [j for j in np.argsort(np.asarray(dist[qi])) if valid[j]][:ranklist.TOP]
            row = m * ranklist.NUM_QUERIES + k
            assert {c for r, c in green if r == row} == \
                {c + 1 for c, j in enumerate(top) if f["gallery_pid"][j] == f["query_pid"][qi]}, (method, qi)
    # the MSE bars are the measured means, one per model
    stats = measure_by_model(figures[2], g, mean_attention_mse)
    assert len(stats) == 6 and all(0 <= v["mse"][0] <= 1 for per_stage in stats.values() for v in per_stage.values())
    assert bar_heights(mse) == [pytest.approx([np.mean(per_stage[4]["mse"]) for per_stage in stats.values()])]
