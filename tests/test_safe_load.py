"""Checkpoints are data, never code: every project load refuses a file whose pickle would run
something (here: create a marker file), names the file and what it held, and writes nothing."""
from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from attnreid import papers, viz
from attnreid.cli import main as cli
from attnreid.data.datasets import prepare
from attnreid.engine import checkpoint
from attnreid.engine.checkpoint import load
from attnreid.errors import InputError
from attnreid.grid import Cell
from conftest import ROOT, params_grid, tiny_cell_cfg, untrained_cells, write_market

CELL = "synth-market/baseline/s0"


class RunsCode:
    """Unpickling this creates `marker`: what a tampered checkpoint could do instead."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def tampered(path: Path, marker: Path, **fields) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"digest": "x", "model": {}, "meta": {"num_classes": 3}, "hook": RunsCode(marker), **fields}, path)
    return path


FROM_RESULTS = {"cmc", "ranklist", "method_curve", "cost_accuracy"}  # kinds drawn from features, metrics, configs
REFUSED = r"refused to load: it holds the global (builtins|io)\.open"


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    write_market(root / "raw", n_ids=4, cams=2, per_cam=2, size=(64, 32))
    prepare("toy", {"kind": "market1501", "check_counts": False}, root / "raw", root / "index.csv")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["smoke"]["cell_override"].update(epochs=1, milestones=[1])
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def common(toy: Path) -> list[str]:
    return ["--params", str(toy / "params.yaml"), "--profile", "smoke", "--cell", CELL, "--index", str(toy / "index.csv")]


def test_extract_refuses_a_model_file_that_would_run_code(toy, tmp_path, capsys):
    marker = tmp_path / "marker"
    model = tampered(tmp_path / "model.pt", marker)
    out = tmp_path / "features.npz"
    assert cli(["extract", *common(toy), "--checkpoint", str(model), "--out", str(out), "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(model) in err[0]
    assert re.search(REFUSED, err[0]) and "retrain" in err[0]
    assert not marker.exists() and list(tmp_path.iterdir()) == [model]


def test_resume_refuses_a_checkpoint_that_would_run_code(toy, tmp_path, capsys):
    marker = tmp_path / "marker"
    run = tmp_path / "run"
    ckpt = tampered(run / "checkpoint.pt", marker, position=[1, 0])
    args = ["train", *common(toy), "--pseudo", str(toy / "pseudo"), "--out", str(run / "model.pt"),
            "--live", str(run / "live"), "--threads", "1"]
    assert cli(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(ckpt) in err[0] and re.search(REFUSED, err[0])
    assert not marker.exists() and sorted(run.iterdir()) == [ckpt]  # no model, run record or curves


@pytest.fixture(scope="module")
def evil_grid(tmp_path_factory):
    """Every figure's cells with a tampered checkpoint, beside a prepared tiny stand-in; features
    (of the untrained models) for the figures that pick images by them before loading models.
    Yields (the folder the grid's relative paths start from, the grid)."""
    root = tmp_path_factory.mktemp("evil")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        g = params_grid()
        methods = sorted({m for f in papers.FIGURES.values() for m in f.methods})
        featured = {m for f in papers.FIGURES.values() if f.kind == "cam_pairs" for m in f.methods}
        stand_in = untrained_cells(g, featured, lambda m: tiny_cell_cfg(g, m, height=32, width=16), featured)
        for method in methods:
            tampered(Path(g.checkpoint(Cell(stand_in, method, 0))), root / "marker")
    return root, g


@pytest.mark.parametrize("fid", sorted(papers.FIGURES))
def test_every_figure_that_loads_models_refuses_a_tampered_one(evil_grid, fid, tmp_path, monkeypatch):
    root, g = evil_grid
    monkeypatch.chdir(root)
    """A figure drawn from models refuses the tampered file; one drawn from features or metrics
    only (FROM_RESULTS) never reads a checkpoint. None runs the file's code or writes its PNG."""
    reads = []
    monkeypatch.setattr(checkpoint, "load", lambda path, remedy: reads.append(path) or load(path, remedy))
    out = tmp_path / "fig.png"
    with pytest.raises((InputError, OSError)) as refused:
        viz.draw(papers.figure(fid), g, str(out))
    if papers.figure(fid).kind in FROM_RESULTS:
        assert not reads
    else:
        assert reads and re.search(REFUSED, str(refused.value))
    assert not (root / "marker").exists() and not out.exists()


def test_a_checkpoint_written_before_plain_rng_states_still_resumes(tmp_path):
    """The old layout held numpy's RNG state as a tuple with a uint32 array, and torch's version
    string as its own class: both allow-listed, the RNG restored exactly."""
    np.random.seed(7)
    legacy = {"rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
              "meta": {"torch_build": torch.__version__}}
    expected = np.random.rand(3)
    torch.save(legacy, tmp_path / "checkpoint.pt")
    np.random.seed(0)
    checkpoint.set_rng_state(checkpoint.load(tmp_path / "checkpoint.pt", "retrain")["rng"])
    assert np.array_equal(np.random.rand(3), expected)


def test_saved_state_is_plain_data_and_restores_every_rng(tmp_path):
    state = checkpoint.rng_state()
    draws = (torch.rand(2), np.random.rand(2), random.random())
    checkpoint.save(tmp_path / "c.pt", {"rng": state, "score": np.float64(0.5), "ids": [np.int64(3)]})
    assert torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "c.pt") == []
    loaded = torch.load(tmp_path / "c.pt", weights_only=True)
    assert type(loaded["score"]) is float and loaded["ids"] == [3]
    checkpoint.set_rng_state(loaded["rng"])
    again = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1]) and draws[2] == again[2]


def test_save_refuses_an_object_a_safe_load_would_refuse(tmp_path):
    with pytest.raises(TypeError, match=r"^checkpoint\.meta\.when: datetime\.date is not plain data"):
        checkpoint.save(tmp_path / "c.pt", {"meta": {"when": __import__("datetime").date(2026, 1, 1)}})
    assert not list(tmp_path.iterdir())


def test_a_truncated_checkpoint_is_one_line(tmp_path):
    path = tmp_path / "model.pt"
    checkpoint.save(path, {"model": {"w": torch.zeros(3)}})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InputError, match=r"model\.pt: not a readable checkpoint \(.*\); delete it"):
        checkpoint.load_model(path)


UNSAFE = {("torch", "load"): "without weights_only=True", ("pickle", "load"): "", ("pickle", "loads"): "",
          ("yaml", "unsafe_load"): "", ("yaml", "full_load"): "", ("np", "load"): "with allow_pickle=True"}


def test_the_package_has_no_unsafe_loader():
    """torch.load only with weights_only=True, np.load never with allow_pickle=True, no pickle
    loads, yaml.load only with a SafeLoader, no eval/exec."""
    from attnreid import config

    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func, kw = node.func, {k.arg: k.value for k in node.keywords}
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
                found.append(f"{where} {func.id}")
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
                continue
            call = (func.value.id, func.attr)
            if call == ("torch", "load") and not (isinstance(kw.get("weights_only"), ast.Constant)
                                                  and kw["weights_only"].value is True):
                found.append(f"{where} torch.load {UNSAFE[call]}")
            elif call == ("np", "load") and isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value:
                found.append(f"{where} np.load {UNSAFE[call]}")
            elif call in UNSAFE and call[0] in ("pickle", "yaml"):
                found.append(f"{where} {'.'.join(call)}")
            elif call in (("yaml", "load"), ("yaml", "load_all")):
                loader = kw.get("Loader")
                name = loader.id if isinstance(loader, ast.Name) else getattr(loader, "attr", None)
                if name not in ("SafeLoader", "CSafeLoader", "_UniqueKeyLoader"):
                    found.append(f"{where} yaml.load with Loader {name}")
    assert issubclass(config._UniqueKeyLoader, yaml.SafeLoader)
    assert found == []
