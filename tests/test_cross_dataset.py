"""Cross-dataset tables (DAAF Table 3: trained on Market-1501, tested on Partial-iLIDS / Partial-REID)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from attnreid import papers
from attnreid.data import index as index_io
from attnreid.data.datasets import prepare
from attnreid.errors import InputError
from attnreid.grid import Cell
from conftest import params_grid, tiny_cell_cfg, untrained_cells, write_market

TABLE = "daaf/table3"
METHODS = ("pcb", "daaf-trinet-base", "daaf-trinet", "daaf-bot-base", "daaf-bot")


def test_table3_trains_on_the_market_stand_in_and_tests_on_each_partial_set():
    g = params_grid("synthetic")
    cells = g.table_cells(TABLE)
    assert sorted(papers.table(TABLE).methods()) == sorted(METHODS)
    assert cells == sorted(Cell("synth-market", m, s) for m in METHODS for s in g.params["seeds"])
    tests = {"synth-partial-ilids", "synth-partial-reid"}
    assert set(g.table_tests(TABLE)) == {(c, t) for c in cells for t in tests}
    assert g.table(TABLE).deps == tuple(g.metrics(c, t) for c, t in g.table_tests(TABLE))
    cell = Cell("synth-market", "pcb", 0)
    ex, ev = g.extract(cell, "synth-partial-reid"), g.evaluate(cell, "synth-partial-reid")
    assert ex.name == "extract@synth-market/pcb/s0@synth-partial-reid"
    assert ex.deps == (g.index("synth-partial-reid"), g.checkpoint(cell), *g.cache("synth-partial-reid", 64, 32))
    assert ex.outs == (str(g.run_dir(cell) / "features-synth-partial-reid.npz"),) == ev.deps
    assert ev.outs == (str(g.work / "metrics/synth-market/pcb/s0@synth-partial-reid.json"),)
    names = {s.name for s in g.stages()}
    for t in tests:  # a test-only dataset is made and prepared, never labelled or trained on
        assert {f"synthesize@{t}", f"prepare@{t}"} <= names and f"pseudo_labels@{t}" not in names
        assert not any(n.startswith(f"train@{t}/") for n in names)


def test_a_synthreid_partial_set_probes_with_the_partial_views(tmp_path):
    raw = write_market(tmp_path / "raw", n_ids=3, cams=2, per_cam=2)
    with pytest.raises(InputError, match=r"no partial_query/ images .*synth\.partial_query: true"):
        prepare("p", {"kind": "synthreid", "partial": True}, raw, tmp_path / "no" / "index.csv")
    assert not (tmp_path / "no").exists()
    (raw / "partial_query").mkdir()
    for q in sorted((raw / "query").iterdir()):
        shutil.copy(q, raw / "partial_query" / q.name)
    prepare("p", {"kind": "synthreid", "partial": True}, raw, tmp_path / "index.csv")
    df, meta = index_io.read(tmp_path / "index.csv")
    query = index_io.split(df, "query")
    assert meta["partial"] is True and len(query) == 6 and query.path.str.startswith("partial_query/").all()
    prepare("w", {"kind": "synthreid"}, raw, tmp_path / "w" / "index.csv")  # off: queries stay whole
    whole = index_io.read(tmp_path / "w" / "index.csv")[0]
    assert (whole.split == "partial_query").sum() == 6
    assert index_io.split(whole, "query").path.str.startswith("query/").all()
    with pytest.raises(InputError, match=r"datasets\.m\.partial: not used by kind market1501"):
        prepare("m", {"kind": "market1501", "partial": True}, raw, tmp_path / "m" / "index.csv")


def write_partial(root: Path, layout: str, n_ids: int, shots: int) -> Path:
    """A Partial-REID (`reid`: PPP_NN.jpg) or Partial-iLIDS (`ilids`: PPP.jpg) folder of random images."""
    rng = np.random.default_rng(1)
    folders = {"reid": ("partial_body_images", "whole_body_images"), "ilids": ("Probe", "Gallery")}[layout]
    for folder in folders:
        (root / folder).mkdir(parents=True)
        for pid in range(1, n_ids + 1):
            for k in range(1, shots + 1):
                name = f"{pid:03d}_{k:02d}.jpg" if layout == "reid" else f"{pid:03d}.jpg"
                Image.fromarray(rng.integers(0, 255, (32, 16, 3), dtype=np.uint8)).save(root / folder / name)
    return root


@pytest.mark.filterwarnings("ignore:max_rank")
def test_table3_from_models_tested_on_the_partial_sets(tmp_path, monkeypatch, one_thread):
    """Untrained tiny models of the five rows, extracted on a Partial-REID and a Partial-iLIDS layout:
    metrics at <cell>@<test>.json equal the partial protocol's, and the table reads them."""
    from attnreid.engine import evaluate
    from attnreid.engine.extract import extract
    from attnreid.eval import evaluate_partial, pairwise_distance
    from attnreid.report.tables import render

    monkeypatch.chdir(tmp_path)
    g = params_grid("synthetic")
    untrained_cells(g, METHODS, lambda m: tiny_cell_cfg(g, m, height=32, width=16))
    eval_cfg = {**g.params["eval"], "flip": False, "max_rank": 5}
    for paper_ds, layout, shots in (("partial_reid", "reid", 2), ("partial_ilids", "ilids", 1)):
        test = g.stand_in(paper_ds)
        prepare(test, {"kind": paper_ds, "check_counts": False}, write_partial(Path(layout), layout, 4, shots),
                g.index(test))
        for method in METHODS:
            cell = Cell("synth-market", method, 0)
            extract(g.checkpoint(cell), g.config_digest(cell), g.index(test), g.features(cell, test), eval_cfg, 1)
            m = evaluate.run(g.features(cell, test), g.metrics(cell, test), eval_cfg, cell.id)
            with np.load(g.features(cell, test)) as f:
                want = evaluate_partial(pairwise_distance(f["query_feat"], f["gallery_feat"]), f["query_pid"],
                                        f["gallery_pid"])
            assert (m["R1"], m["R3"]) == pytest.approx((want["R1"], want["R3"]))
            assert m["num_query"] == 4 * shots
    render(papers.table(TABLE), g, "t3.md")
    text = Path("t3.md").read_text()
    assert "trained on Market-1501 (synth-market) and tested on each column's dataset" in text
    assert "n/a" not in text and "paper 72.3" in text
    csv = pd.read_csv("t3.csv")
    pcb = csv[(csv.method == "pcb") & (csv.dataset == "partial_reid") & (csv.metric == "R3")].iloc[0]
    m = json.loads(Path(g.metrics(Cell("synth-market", "pcb", 0), "synth-partial-reid")).read_text())
    assert pcb["mean"] == pytest.approx(100 * m["R3"]) and pcb["stand_in"] == "synth-partial-reid"
