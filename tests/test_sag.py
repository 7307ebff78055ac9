"""SAG: the grid (sums to one, sizes per depth), the max filter and broadcast multiply against loops,
Eq. 7, one shared backbone for both branches, the Table 1 models from params.yaml, the grid of
cells, the [-1, 1] input scaling, multi-query evaluation and the SAG figures on a tiny dataset."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from attnreid import models, papers
from attnreid.data import transforms
from attnreid.errors import InputError
from attnreid.grid import Cell, Grid
from attnreid.models.attention.sag import attend, l2_normalise, max_filter
from conftest import params_grid, tiny_cell_cfg, write_market

TABLE1 = papers.table("sag/table1")
SIZES = {1: (40, 16), 2: (20, 8), 3: (10, 4), 4: (5, 2)}  # the paper's, at 160x64


pytestmark = pytest.mark.usefixtures("one_thread")


grid = params_grid


small_cfg = tiny_cell_cfg


def build(method: str, **args):
    cfg = small_cfg(grid(), method)
    cfg["args"] = {**cfg["args"], **args}
    return models.build(cfg, num_classes=4)


def test_grid_sums_to_one_with_the_listed_size_at_each_depth():
    model = build("sag-d1234").eval()
    grids = model.attention_grids(torch.randn(2, 3, 160, 64))
    assert {d: tuple(g.shape[1:]) for d, g in grids.items()} == SIZES
    for g in grids.values():
        assert (g >= 0).all() and torch.allclose(g.sum((1, 2)), torch.ones(2), atol=1e-5)
    odd = model.attention_grids(torch.randn(1, 3, 80, 32))  # sizes follow the input, odd ones included
    assert {d: tuple(g.shape[1:]) for d, g in odd.items()} == {1: (20, 8), 2: (10, 4), 3: (5, 2), 4: (3, 1)}
    assert model(torch.randn(1, 3, 80, 32)).shape == (1, 512)


@pytest.mark.parametrize("hw", [(6, 4), (5, 3)])
def test_max_filter_and_broadcast_multiply_match_a_loop(hw):
    h1, w1 = hw
    f1 = torch.randn(2, 3, h1, w1, dtype=torch.float64)
    h, w = (h1 + 1) // 2, (w1 + 1) // 2
    g = torch.softmax(torch.randn(2, h * w, dtype=torch.float64), 1).view(2, 1, h, w)
    pooled, v = max_filter(f1), attend(f1, g)
    assert pooled.shape == (2, 3, h, w) and v.shape == (2, 3, h, w)
    for n, c, i, j in np.ndindex(2, 3, h, w):
        region = [float(f1[n, c, a, b]) for a in (2 * i, 2 * i + 1) for b in (2 * j, 2 * j + 1) if a < h1 and b < w1]
        assert float(pooled[n, c, i, j]) == max(region)
        assert float(v[n, c, i, j]) == pytest.approx(h * w * max(region) * float(g[n, 0, i, j]), rel=1e-12)


def test_eq7_normalises_each_image_and_keeps_the_grid():
    v = torch.rand(3, 4, 5, 2, dtype=torch.float64) + 0.1
    out = l2_normalise(v)
    assert torch.allclose(out.flatten(1).norm(dim=1), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(out / v, (out / v)[:, :1, :1, :1].expand_as(v))  # one scale per image
    assert torch.equal(l2_normalise(torch.zeros(1, 2, 2, 2)), torch.zeros(1, 2, 2, 2))


def test_branches_share_one_backbone():
    model, plain = build("sag-d4"), build("sag-baseline")
    backbone = sum(p.numel() for p in model.backbone.parameters())
    assert backbone == sum(p.numel() for p in plain.backbone.parameters())
    extra = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("backbone.", "sag.")))
    sag = sum(p.numel() for p in model.sag.parameters())
    assert sag == 512 + 2  # one 1x1 conv 512 -> 1 (no bias) and its BN
    assert sum(p.numel() for p in model.parameters()) == backbone + sag + extra
    calls = []
    for layer in (model.backbone.layer1, model.backbone.layer4):
        layer.register_forward_hook(lambda mod, inp, out: calls.append(tuple(out.shape[-2:])))
    model.eval()(torch.randn(1, 3, 64, 32))
    assert calls == [(16, 8), (32, 16), (2, 1), (4, 2)]  # each stage: low, then high branch, same module


@pytest.mark.parametrize("row", TABLE1.rows, ids=lambda r: r.method)
def test_eval_embedding_agrees_with_train_mode_after_training_passes(row):
    """Each branch keeps its own BN statistics: once training-mode passes have set the running statistics
    (cumulative average, on the batch itself), eval mode gives the train-mode embedding. With one set of
    statistics shared by both branches the low branch was normalised with the mixture (cosine 0.55-0.86)."""
    torch.manual_seed(0)
    model = build(row.method)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # running statistics = the average over the training-mode passes
    x = torch.randn(8, 3, 64, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        train_feat = model.train().embed(x)
        eval_feat = model.eval()(x)
    assert torch.nn.functional.cosine_similarity(train_feat, eval_feat).min() > 0.98
    stem_bn = model.backbone.stem[1]
    if model.depths:  # shared weights, statistics per branch
        assert stem_bn.num_batches_tracked == stem_bn.high_num_batches_tracked == 1
        assert not torch.allclose(stem_bn.running_var, stem_bn.high_running_var)
        assert not any(n.startswith("high_") for n, _ in model.named_parameters())
    else:
        assert type(stem_bn) is torch.nn.BatchNorm2d


@pytest.mark.parametrize("row", TABLE1.rows, ids=lambda r: r.method)
def test_table1_model_builds_from_params_and_trains_a_step(row):
    model = build(row.method)
    want = [int(c) for c in row.label.split("D")[1] if c.isdigit()] if "D" in row.label else []
    assert model.depths == want and sorted(model.sag.keys()) == [str(d) for d in want]
    x, y = torch.randn(4, 3, 64, 32), torch.tensor([0, 1, 2, 3])
    model.train()
    terms = model.losses(model(x), {"pid": y})
    sum(terms.values()).backward()
    assert list(terms) == ["ce"] and torch.isfinite(terms["ce"])
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (4, 512)


def test_merge_and_l2_flags_and_bad_args():
    x = torch.randn(2, 3, 64, 32)
    torch.manual_seed(0)
    replace = build("sag-d2").eval()
    torch.manual_seed(0)
    add = build("sag-d2", merge="add").eval()
    torch.manual_seed(0)
    no_l2 = build("sag-d2", l2_norm=[]).eval()
    with torch.no_grad():
        outs = [m(x) for m in (replace, add, no_l2)]
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[0], outs[2])
    for args, key in (({"depths": [5]}, "depths"), ({"l2_norm": [1, 1]}, "l2_norm"), ({"merge": "mul"}, "merge")):
        with pytest.raises(InputError, match=f"args.{key}"):
            build("sag-d4", **args)


def test_table1_grid_expands_to_24_cells_with_the_papers_recipe():
    g = grid("paper")
    cells = g.table_cells("sag/table1")
    assert len(cells) == 24 and len({g.config_digest(c) for c in cells}) == 24
    assert {c.dataset for c in cells} == {"market1501", "cuhk03-classic", "dukemtmc"}
    assert g.dataset_cfg("cuhk03-classic")["kind"] == "cuhk03_classic"
    t = g.cell_config(Cell("market1501", "sag-d4", 0))["train"]
    assert (t["height"], t["width"], t["batch_size"], t["lr"], t["pretrained_lr_mult"]) == (160, 64, 32, 0.1, 0.1)
    assert (t["normalize"], t["momentum"], t["weight_decay"], t["gamma"], t["label_smoothing"]) == \
        ("symmetric", 0.9, 5e-4, 0.1, 0.0)
    assert (t["epochs"], t["schedule"], t["step_size"], t["nesterov"]) == (200, "exponential", 30, False)
    for table_id in ("sag/table3", "sag/table4", "sag/table5"):
        assert papers.table(table_id).methods() == ["sag-d4"]
    assert {r.query for r in papers.table("sag/table3").rows} == {"single", "multi"}


def test_symmetric_normalisation_is_minus_one_to_one_zero_centred():
    white, black = (Image.new("RGB", (8, 16), c) for c in ((255, 255, 255), (0, 0, 0)))
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    sym = transforms.test_transform(16, 8, "symmetric")
    assert torch.allclose(sym(white), ((1 - mean) / 0.5).expand(3, 16, 8), atol=1e-6)
    assert torch.allclose(sym(black), (-mean / 0.5).expand(3, 16, 8), atol=1e-6)
    assert torch.allclose(sym(white) - sym(black), torch.full((3, 16, 8), 2.0))  # [-1, 1], shifted by the mean
    assert not torch.allclose(transforms.test_transform(16, 8)(white), sym(white))  # the default stays ImageNet's


def _tiny_cells(tmp_path, g: Grid, methods, gt_bbox: bool):
    """An index (with gt_bbox images: 2 per query identity and camera, other images than the query's, so
    that multi-query differs from single-query) and an untrained checkpoint per method."""
    from attnreid.data.datasets import prepare
    from attnreid.engine import checkpoint

    g.params["seeds"] = [0]
    stand_in = g.stand_in("market1501")
    raw = write_market(tmp_path / "raw", n_ids=3, cams=2, per_cam=2, size=(32, 16))
    if gt_bbox:
        (raw / "gt_bbox").mkdir()
        rng = np.random.default_rng(1)
        for q in sorted((raw / "query").iterdir()):
            for k in (0, 1):
                Image.fromarray(rng.integers(0, 255, (32, 16, 3), dtype=np.uint8)).save(
                    raw / "gt_bbox" / q.name.replace("_00.jpg", f"_0{k + 5}.jpg"))
    prepare(stand_in, {"kind": "synthreid"}, raw, g.index(stand_in))
    cells = []
    for method in methods:
        cell = Cell(stand_in, method, 0)
        cfg = small_cfg(g, method, height=32, width=16)
        checkpoint.save(g.checkpoint(cell), {"digest": g.config_digest(cell), "config": cfg,
                                             "model": models.build(cfg, 3).state_dict(),
                                             "meta": {"num_classes": 3}})
        cells.append(cell)
    return cells


@pytest.mark.parametrize("gt_bbox", [True, False])
def test_multi_query_metrics_when_the_index_has_gt_bbox(tmp_path, monkeypatch, gt_bbox):
    from attnreid.engine.evaluate import evaluate_features
    from attnreid.engine.extract import extract
    from attnreid.eval import evaluate_multi_query
    from attnreid.report.tables import render

    monkeypatch.chdir(tmp_path)
    g = grid()
    (cell,) = _tiny_cells(tmp_path, g, ["sag-d4"], gt_bbox)
    eval_cfg = {**g.params["eval"], "max_rank": 5, "flip": False}
    extract(g.checkpoint(cell), g.config_digest(cell), g.index(cell.dataset), g.features(cell), eval_cfg, threads=1)
    with np.load(g.features(cell)) as z:
        f = {k: z[k] for k in z.files}
    metrics = evaluate_features(g.features(cell), eval_cfg)
    assert ("multi_query" in metrics) == gt_bbox
    if gt_bbox:
        assert len(f["gt_bbox_feat"]) == 2 * len(f["query_feat"])
        want = evaluate_multi_query(f["gt_bbox_feat"], f["gt_bbox_pid"], f["gt_bbox_camid"], f["gallery_feat"],
                                    f["gallery_pid"], f["gallery_camid"], max_rank=5,
                                    probe_pids=f["query_pid"], probe_camids=f["query_camid"])
        assert metrics["multi_query"]["mAP"] == pytest.approx(want["mAP"])
        assert want["mAP"] != pytest.approx(metrics["mAP"])   # the pooled gt_bbox probes, not the queries
        assert set(metrics["multi_query"]["rerank"]) >= {"R1", "mAP"}
    out = tmp_path / g.metrics(cell)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics))
    render(papers.table("sag/table3"), g, str(tmp_path / "t3.md"))
    lines = {line.split(" | ")[0].lstrip("| "): line for line in (tmp_path / "t3.md").read_text().splitlines()}
    multi = lines["SAG (D4) (multi-query)"]
    assert ("n/a" in multi) != gt_bbox and "paper 92.8" in multi
    assert "n/a" not in lines["SAG (D4) (single query)"]


def test_sag_figures_draw_on_a_tiny_dataset(tmp_path, monkeypatch):
    """Fig. 3 from per-cell metrics JSON (made up here), Fig. 4 from untrained checkpoints."""
    from attnreid import viz
    from attnreid.viz.method_curve import paper_value

    monkeypatch.chdir(tmp_path)
    g = grid()
    fig3, fig4 = papers.figure("sag/fig3"), papers.figure("sag/fig4")
    _tiny_cells(tmp_path, g, fig4.methods, gt_bbox=False)
    g.params["seeds"] = [0, 1]
    for ds in fig3.datasets:
        for i, method in enumerate(fig3.methods):
            for seed in (0, 1):
                path = tmp_path / g.metrics(Cell(g.stand_in(ds), method, seed))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"R1": 0.5 + 0.1 * i + 0.01 * seed, "mAP": 0.3 + 0.1 * i}))
    assert paper_value("sag-d3", "cuhk03_classic", "R1") == 81.41
    assert paper_value("sag-d4", "market1501", "mAP") == 73.87
    for fig in (fig3, fig4):
        out = tmp_path / f"{fig.id}.png"
        viz.draw(fig, g, str(out))
        assert out.stat().st_size > 10_000, fig.id
