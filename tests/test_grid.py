import pytest

from attnreid import config
from attnreid.errors import InputError
from attnreid.grid import Cell, Grid
from conftest import ROOT


def grid(profile="smoke"):
    return Grid(config.load(ROOT / "params.yaml", profile))


def test_cell_id_roundtrip_and_bad_id():
    c = Cell("synth-market", "baseline", 3)
    assert c.id == "synth-market/baseline/s3" and Cell.parse(c.id) == c
    with pytest.raises(InputError, match="cell id"):
        Cell.parse("synth-market/baseline")


def test_cells_come_from_tables_and_are_unique():
    g = grid("smoke")
    cells = g.cells()
    assert len(cells) == len(set(cells))
    # smoke maps both paper datasets to one stand-in: the shared cell is trained once
    assert {c.dataset for c in cells} == {"synth-market"}
    t = g.table_cells("baseline/table1")
    assert sorted(t) == cells


def test_paths_encode_the_cell_and_profile():
    g = grid("default")
    c = g.cells()[0]
    for path in (g.checkpoint(c), g.features(c), g.metrics(c)):
        assert c.id in path and path.startswith("work/default/")


def test_cell_config_layers_method_then_profile_override():
    g = grid("smoke")
    cfg = g.cell_config(Cell("synth-market", "baseline-gap", 0))
    assert cfg["args"] == {"neck": "none"}
    assert cfg["train"]["backbone"] == g.params["cell_override"]["backbone"]
    assert cfg["train"]["optimizer"] == g.params["train"]["optimizer"]
    assert g.config_digest(Cell("synth-market", "baseline-gap", 0)) != g.config_digest(Cell("synth-market", "baseline", 0))


def test_unknown_table_and_dataset_are_one_line_errors():
    g = grid("smoke")
    with pytest.raises(InputError, match="unknown table 'nope/t1'"):
        g.table_cells("nope/t1")
    with pytest.raises(InputError, match="datasets.nope: unknown dataset"):
        g.dataset_cfg("nope")


def test_stages_have_unique_outputs_and_known_deps():
    g = grid("smoke")
    stages = g.stages()
    outs = [o for s in stages for o in s.outs]
    assert len(outs) == len(set(outs))
    produced = set(outs)
    for s in stages:
        for d in s.deps:
            assert d in produced, f"{s.name} depends on {d}, which no stage produces"
