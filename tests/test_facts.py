"""Tables of facts beside the paper's: SAG Table 2 from prepared indexes, DAAF Table 1 from the built model."""
from __future__ import annotations

import pytest

from attnreid import models, papers
from attnreid.data.datasets import prepare
from attnreid.grid import Cell
from attnreid.report import facts
from attnreid.report.tables import render
from conftest import params_grid, write_market

pytestmark = pytest.mark.usefixtures("one_thread")


def test_dataset_statistics_count_the_prepared_splits(tmp_path):
    raw = write_market(tmp_path / "raw", n_ids=4, cams=2, per_cam=2)
    prepare("toy", {"kind": "synthreid"}, raw, tmp_path / "index.csv")
    assert facts.dataset_stats(str(tmp_path / "index.csv")) == {
        "Number of IDs": 8, "Number of Images": 16 + 8 + 17, "Cameras": 2, "#Train IDs": 4, "#Train Images": 16,
        "#Test IDs": 4, "#Query Images": 8, "#Gallery Images": 16 + 1}  # + the distractor; prepare drops junk


def test_daaf_table1_reads_the_papers_layers_from_the_paper_profiles_model():
    g = params_grid("paper")
    cfg = g.cell_config(Cell("market1501", "daaf-trinet", 0))
    cfg["train"]["pretrained"] = "none"
    rows = facts.branch_layers(models.build(cfg, num_classes=2))
    paper = papers.table("daaf/table1").paper
    for i in (1, 2, 3, 4):
        assert rows[f"deconv {i}"] == paper[f"deconv {i}"]  # 2048 (HAB) / 341 (PAB) in, 64 out, 3x3, stride 2
    assert rows["1x1 conv"]["#channels in"] == "64" and rows["1x1 conv"]["kernel size"] == "1x1"
    assert rows["1x1 conv"]["#channels out"].startswith("1 (HAB) / ")
    groups = [int(k) for k in rows["1x1 conv"]["#channels out"].split(" / ")[1].split(" (")[0].split(", ")]
    assert len(groups) == 6 and sum(groups) == 17  # one 1x1 conv per keypoint group


def test_fact_tables_render_and_are_stages_without_cells(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    g = params_grid("synthetic")
    g.params.update(tables=["sag/table2", "daaf/table1"], figures=[])
    g.params["pseudo_report"]["datasets"] = []
    assert g.cells() == [] and set(g.fact_datasets()) == {"synth-market", "synth-duke"}
    assert g.table("sag/table2").deps == tuple(g.index(d) for d in ("synth-duke", "synth-market"))
    assert {s.name for s in g.stages() if s.kind == "prepare"} == {"prepare@synth-duke", "prepare@synth-market"}
    raw = write_market(tmp_path / "raw", n_ids=3)
    for d in g.fact_datasets():
        prepare(d, {"kind": "synthreid"}, raw, g.index(d))
    out = tmp_path / "t2.md"
    render(papers.table("sag/table2"), g, str(out))
    md = out.read_text()
    assert "| #Train IDs | 3; paper 751 | 3; paper 1,367 | 3; paper 702 |" in md
    render(papers.table("daaf/table1"), g, str(tmp_path / "t1.md"))
    assert "512 (HAB) / 85 (PAB); paper 2048 (HAB) / 341 (PAB)" in (tmp_path / "t1.md").read_text()  # ResNet-18 here
