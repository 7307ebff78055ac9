"""PFSA: the SA layer against its definition and Eq. (12), the Table 2 models from params.yaml, the
paper's loss weights, the CAMs (Eqs. 5 and 7), and the CAM figures on a tiny dataset."""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch

from attnreid import models, papers
from attnreid.analysis.cam import spread
from attnreid.errors import InputError
from attnreid.grid import Cell, Grid
from attnreid.models.attention.pfsa import SpatialAttention, spatial_attention_weights
from attnreid.viz.cam_pairs import choose_examples
from conftest import bar_heights, panel_grid, params_grid, tiny_cell_cfg, untrained_cells

TABLE2 = papers.table("pfsa/table2")


pytestmark = pytest.mark.usefixtures("one_thread")


grid = params_grid


def small_cfg(g: Grid, method: str, **train) -> dict:
    return tiny_cell_cfg(g, method, last_stride=1, **train)


def test_sa_has_no_parameters_and_is_the_definition():
    sa = SpatialAttention()
    assert sum(p.numel() for p in sa.parameters()) == 0 and not list(sa.buffers())
    f = torch.rand(2, 5, 3, 4, dtype=torch.float64)
    out = sa(f)
    for n in range(2):
        a = [[sum(f[n, k, i, j] for k in range(5)) for j in range(4)] for i in range(3)]
        z = sum(np.exp(float(a[i][j])) for i in range(3) for j in range(4))
        for k, i, j in itertools.product(range(5), range(3), range(4)):
            assert float(out[n, k, i, j]) == pytest.approx(float(f[n, k, i, j]) * np.exp(float(a[i][j])) / z, rel=1e-12)
    assert torch.allclose(spatial_attention_weights(f).sum((1, 2, 3)), torch.ones(2, dtype=torch.float64))


def test_sa_gradient_is_eq12():
    """dF_k(i,j)/df_t(m,n) = f p (1 - p) + p (same k,i,j); f p (1 - p) (k != t, same position);
    -f_k(i,j) p(i,j) p(m,n) (other position)."""
    c, h, w = 3, 2, 3
    f = torch.randn(c, h, w, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda g: SpatialAttention()(g[None])[0], f)
    p = spatial_attention_weights(f[None])[0, 0]
    for k, i, j, t, m, n in itertools.product(range(c), range(h), range(w), range(c), range(h), range(w)):
        fk, pij = f[k, i, j], p[i, j]
        if (k, i, j) == (t, m, n):
            want = fk * pij * (1 - pij) + pij
        elif (i, j) == (m, n):
            want = fk * pij * (1 - pij)
        else:
            want = -fk * pij * p[m, n]
        assert float(jac[k, i, j, t, m, n]) == pytest.approx(float(want), abs=1e-12)


def _flags(label: str) -> dict:
    """The structure a Table 2 row label declares, e.g. 'Backbone + P + DS (SA1 no, SA2 yes)'."""
    sa = dict(re.findall(r"(SA[12]) (yes|no)", label))
    return {"parts": 6 if "+ P" in label else 1, "ds": 3 if "+ DS" in label else 0,
            "sa1": sa["SA1"] == "yes", "sa2": sa.get("SA2") == "yes"}


@pytest.mark.parametrize("row", TABLE2.rows, ids=lambda r: r.method)
def test_table2_model_builds_from_params_and_trains_a_step(row):
    g = grid()
    cfg = small_cfg(g, row.method)
    assert cfg["train"]["random_erasing"] == 0  # Table 2: no random erasing
    model = models.build(cfg, num_classes=4)
    want = _flags(row.label)
    assert (len(model.part_classifiers), len(model.ds_classifiers), model.sa1, model.sa2) == tuple(want.values())
    x, y = torch.randn(4, 3, 64, 32), torch.tensor([0, 1, 2, 3])
    model.train()
    terms = model.losses(model(x), {"pid": y})
    sum(terms.values()).backward()
    assert all(torch.isfinite(v) for v in terms.values())
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (4, 512 * want["parts"])  # resnet18 stage-4 stripes


def test_loss_weights_are_the_papers():
    g = grid()
    cfg = small_cfg(g, "pfsa-full")
    assert cfg["args"].get("lambda", models.pfsa.DEFAULTS["lambda"]) == 0.2
    model = models.build(cfg, num_classes=5)
    model.train()
    out = model(torch.randn(3, 3, 64, 32))
    y = torch.tensor([0, 3, 4])
    terms = model.losses(out, {"pid": y})
    ce = torch.nn.functional.cross_entropy
    want = 0.8 * sum(ce(z, y) for z in out["part_logits"]) + 0.2 * (sum(ce(z, y) for z in out["ds_logits"])
                                                                    + ce(out["logits"], y))
    assert len(out["part_logits"]) == 6 and len(out["ds_logits"]) == 3
    assert torch.allclose(sum(terms.values()), want)
    backbone = models.build(small_cfg(g, "pfsa-t2-backbone"), num_classes=5).train()
    out = backbone(torch.randn(3, 3, 64, 32))
    assert torch.allclose(sum(backbone.losses(out, {"pid": y}).values()), 0.8 * ce(out["part_logits"][0], y))


def test_dropout_follows_the_dataset_and_embeddings_are_named():
    g = grid()
    cfg = small_cfg(g, "pfsa-full")
    assert models.build({**cfg, "dataset": "market1501"}, 5).dropout.p == 0.47
    assert models.build({**cfg, "dataset": "dukemtmc"}, 5).dropout.p == 0.5
    x = torch.randn(2, 3, 64, 32)
    for emb, dim in (("stripes", 6 * 512), ("pooled", 512), ("reduced", 6 * 256)):
        model = models.build({**cfg, "args": {**cfg["args"], "embedding": emb}}, 5).eval()
        assert model(x).shape == (2, dim)
    with pytest.raises(InputError, match="args.sa2"):
        models.build({**cfg, "args": {"deep_supervision": False}}, 5)


def test_table_grids_expand_to_their_cells():
    g = grid("paper")
    cells = g.table_cells("pfsa/table2")
    assert len(cells) == 8 and len({c.method for c in cells}) == 8 and {c.dataset for c in cells} == {"market1501"}
    assert len({g.config_digest(c) for c in cells}) == 8
    for method in ("pfsa-full", "pfsa-full-nosa"):
        t = g.cell_config(Cell("market1501", method, 0))["train"]
        assert t["random_erasing"] > 0 and (t["height"], t["width"], t["batch_size"], t["lr"]) == (384, 128, 48, 0.1)
    assert papers.table("pfsa/table3").methods() == ["pfsa-full", "pfsa-full-nosa"]
    assert [r.method for r in papers.table("pfsa/table1").rows if r.method] == ["pfsa-full"]


@pytest.mark.parametrize("method,reduce_bn", [("pfsa-full", True), ("pfsa-t2-backbone-sa1", False)])
def test_cam_is_the_classifier_over_the_attended_map(method, reduce_bn):
    """Eq. (5)/(7): the mean of a stage's CAM plus the bias is that stage's logit (parts tile the map)."""
    g = grid()
    cfg = small_cfg(g, method)
    cfg["args"] = {**cfg["args"], "reduce_bn": reduce_bn}
    model = models.build(cfg, num_classes=5)
    model.train()
    model.backbone.eval()  # BN running stats, so that train-mode logits are deterministic
    model.reduce_bn.eval()
    model.dropout.p = 0.0
    x = torch.randn(2, 3, 96, 32)  # stage 4: 6 x 2, six stripes of one row
    with torch.no_grad():
        out = model(x)
        cams = model.cam(x)
    logits = out["ds_logits"] + [out.get("logits", out["part_logits"][0])]
    heads = list(model.ds_classifiers) + [model.classifier or model.part_classifiers[0]]
    assert sorted(cams) == ([1, 2, 3, 4] if len(model.ds_classifiers) else [4])
    for (stage, (cam, target)), z, head in zip(sorted(cams.items()), logits[-len(cams):], heads[-len(cams):]):
        assert torch.equal(target, z.argmax(1))
        bias = head.bias if stage < 4 else head.weight @ model.reduce_affine()[1] + head.bias
        assert torch.allclose(cam.mean((1, 2)) + bias[target], z.gather(1, target[:, None])[:, 0], atol=1e-4)


def test_spread_measures():
    uniform, peak = torch.ones(1, 4, 6), torch.zeros(1, 4, 6)
    peak[0, 1, 2] = 1
    s = spread(torch.cat([uniform, peak]))
    assert torch.allclose(s["entropy"], torch.tensor([1.0, 0.0]), atol=1e-6)
    assert torch.allclose(s["area"], torch.tensor([1.0, 1 / 24]))


def test_choose_examples_prefers_the_papers_case():
    """Query 0: both find (a), only the first model finds (b); query 1: both find everything."""
    gallery = {"gallery_pid": np.array([1, 1, 2, 2, 9]), "gallery_camid": np.array([1, 2, 1, 2, 1]),
               "gallery_path": np.array(list("abcde")), "query_pid": np.array([1, 2]), "query_camid": np.array([1, 1])}
    q = np.array([[0.0, 0.0], [10.0, 0.0]])
    g_first = np.array([[0.1, 0], [0.3, 0], [10.1, 0], [10.2, 0], [5, 0]])
    g_second = np.array([[0.1, 0], [4, 4], [10.1, 0], [10.2, 0], [1, 0]])
    first = {**gallery, "query_feat": q, "gallery_feat": g_first}
    second = {**gallery, "query_feat": q, "gallery_feat": g_second}
    examples = choose_examples(first, second, "euclidean", k=2)
    assert examples[0] == (0, 0, 1, ((0, 0), (0, 1)))
    assert examples[1][:3] == (1, 2, 3)


def test_cam_figures_draw_on_a_tiny_dataset(tmp_path, monkeypatch, saved_figures):
    """Every PFSA figure kind (fig1 is fig5's kind), from checkpoints of untrained models and features:
    the panels the data given calls for, and the values measured."""
    from attnreid import viz
    from attnreid.viz.cam_spread import measure_by_model

    monkeypatch.chdir(tmp_path)
    g = grid()
    figures = [papers.figure(f) for f in ("pfsa/fig5", "pfsa/fig5_spread", "pfsa/fig6")]
    stand_in = untrained_cells(g, sorted({m for f in figures for m in f.methods}),
                               lambda m: small_cfg(g, m, height=32, width=16), featured=figures[2].methods)
    for fig in figures:
        viz.draw(fig, g, str(tmp_path / f"{fig.id}.png"))
    cam, spread_fig, pairs = saved_figures
    # Fig. 5: one row per training identity (3 here), the image, then stages 1-4 of each of the two models
    panel_grid(cam, 3, 1 + 2 * 4)
    # the spread bars are the measured means, per model and stage, for each of the two measures
    stats = measure_by_model(figures[1], g)
    assert len(stats) == 4
    for heights, key in zip(bar_heights(spread_fig), ("entropy", "area")):
        want = [np.mean(v[key]) for per_stage in stats.values() for _, v in sorted(per_stage.items())]
        assert heights == pytest.approx(want)
    # Fig. 6: per example, query, (a) and (b) in row 0, then each model's CAM over them
    feats = [dict(np.load(g.features(Cell(stand_in, m, 0)))) for m in figures[2].methods]
    examples = choose_examples(*feats, g.params["eval"]["metric"])
    panel_grid(pairs, 3, 3 * len(examples), lambda r, c: r > 0)
