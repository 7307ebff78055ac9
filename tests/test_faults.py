"""Faults: every stage killed just before its output lands leaves no output, and the bad-input cases
of the catalogue not tested elsewhere (the README's fault table lists where the others are) stop
with one line naming the file or key, exit status 2, and nothing written."""
from __future__ import annotations

import errno
import os
import resource
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from attnreid import models
from attnreid.atomic import write_text
from attnreid.cli import main as cli
from attnreid.config import load
from attnreid.data import index as index_io
from attnreid.engine import checkpoint
from attnreid.errors import InputError
from attnreid.grid import Cell, Grid
from conftest import ROOT, env_with_venv, write_market

CELL = "synth-market/baseline/s0"
KILLPOINT = ROOT / "tests" / "killpoint.py"


@pytest.fixture
def params(tmp_path):
    """A copy of params.yaml, edited by `params(edit)`; returns its path."""
    def write(edit=lambda doc: None):
        doc = yaml.safe_load((ROOT / "params.yaml").read_text())
        edit(doc)
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path
    return write


def one_line_error(capsys, rc: int, needle: str) -> None:
    one_line_error_in(capsys.readouterr().err, rc, needle)


def one_line_error_in(stderr: str, rc: int, needle: str) -> None:
    err = stderr.strip().splitlines()
    assert rc == 2 and err and needle in err[-1] and err[-1].startswith("attnreid: error: "), err


def fake_model(path, grid: Grid, cell: str, num_classes: int = 4) -> None:
    """An untrained model.pt of `cell`, as train writes it."""
    cfg = grid.cell_config(Cell.parse(cell))
    state = models.build({**cfg, "train": {**cfg["train"], "pretrained": "none"}}, num_classes).state_dict()
    checkpoint.save(path, {"digest": grid.config_digest(Cell.parse(cell)), "config": cfg, "model": state,
                           "meta": {"num_classes": num_classes}})


# -- kill each stage at the worst moment: its output complete in a temporary, not yet renamed -------

@pytest.mark.filterwarnings("ignore:max_rank")
def test_each_stage_killed_before_its_output_lands_leaves_none(tmp_path, monkeypatch):
    """Each kind of stage but train (whose kill points are test_resume.py's), run as Snakemake and DVC run
    it (the grid's command, in a subprocess), SIGKILLed as its last output is about to be renamed into
    place: that output does not exist, so Snakemake and DVC rerun the stage; the rerun (in this process)
    makes it and removes the temporary. The cells' models are untrained ones."""
    monkeypatch.chdir(tmp_path)
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())
    smoke = doc["profiles"]["smoke"]
    smoke["datasets"]["synth-market"]["synth"] = {
        "num_train_ids": 2, "num_test_ids": 2, "num_cameras": 2, "cameras_per_id": [2, 2], "num_distractors": 0,
        "num_junk": 0, "height": 64, "width": 32}
    smoke["pseudo_labels"] = {"backend": "none"}
    smoke["pseudo_report"] = {"datasets": ["synth-market"], "backends": ["oracle"], "max_images": 4}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    grid = Grid(load("params.yaml", "smoke"))
    cell, data = Cell.parse(CELL), "synth-market"
    (pair,) = grid.pseudo_report_pairs()
    report_outs = grid.pseudo_report_outs()
    stages = [  # (stage, its output written last: the kill point)
        (grid.synthesize(data), grid.raw_root(data)),
        (grid.prepare(data), grid.index(data)),
        (grid.pseudo_labels(data), grid.pseudo(data)),
        (next(st for st in grid.stages() if st.kind == "cache" and st.outs == grid.cell_cache(cell)),
         grid.cell_cache(cell)[1]),                                                   # .npy, then .json
        (grid.extract(cell), grid.features(cell)),
        (grid.evaluate(cell), grid.metrics(cell)),
        (grid.table("baseline/table1"), grid.table_outs("baseline/table1")[2]),       # .md, .csv, then .tex
        (grid.figure("baseline/cmc"), grid.figure_out("baseline/cmc")),
        (grid.claims_stage(), grid.claims_outs()[1]),                                 # .md, then .csv
        (grid.pseudo_compare_stage(*pair), grid.pseudo_compare(*pair)),
        (grid.pseudo_report_stage(), report_outs[0]),                                 # overlays, .csv, then .md
        (grid.report_stage(), grid.report()),
    ]
    assert {st.kind for st, _ in stages} | {"train"} == {st.kind for st in grid.stages()}   # every kind
    for stage, last in stages:
        verb = shlex.split(stage.cmd)[1:]
        if stage.kind == "extract":            # every other cell: an untrained model, its features and metrics
            for c in grid.cells():
                fake_model(grid.checkpoint(c), grid, c.id)
                if c != cell:
                    assert cli(shlex.split(grid.extract(c).cmd)[1:]) == 0
                    assert cli(shlex.split(grid.evaluate(c).cmd)[1:]) == 0
        if stage.kind == "pseudo_compare":     # the report needs every figure
            assert cli(shlex.split(grid.figure("baseline/ranklist").cmd)[1:]) == 0
        res = subprocess.run([sys.executable, str(KILLPOINT), f"commit:{Path(last).name}", "KILL", "--", *verb],
                             capture_output=True, text=True, env=env_with_venv(), timeout=300)
        assert res.returncode == -signal.SIGKILL, (stage.name, res.stderr[-2000:])
        assert not (tmp_path / last).exists(), stage.name
        stale = list(tmp_path.rglob(f"*{Path(last).name}.tmp-*"))
        assert len(stale) == 1, (stage.name, stale)
        assert cli(verb) == 0, stage.name
        assert all((tmp_path / out).exists() for out in stage.outs) and not stale[0].exists(), stage.name


# -- the bad-input catalogue ---------------------------------------------------------------------

def test_nan_features_are_refused(tmp_path, capsys):
    feats, out = tmp_path / "features.npz", tmp_path / "m.json"
    q = np.ones((3, 4), np.float32)
    q[1, 2] = np.nan
    np.savez(feats, query_feat=q, gallery_feat=np.ones((5, 4), np.float32))
    rc = cli(["evaluate", "--params", str(ROOT / "params.yaml"), "--profile", "smoke", "--cell", CELL,
              "--features", str(feats), "--out", str(out)])
    one_line_error(capsys, rc, f"{feats}: query features contain NaN or inf")
    assert not out.exists()


def test_checkpoint_of_another_config_is_refused(tmp_path, capsys):
    grid = Grid(load(ROOT / "params.yaml", "smoke"))
    model, feats = tmp_path / "model.pt", tmp_path / "features.npz"
    fake_model(model, grid, "synth-market/baseline-gap/s0")
    rc = cli(["extract", "--params", str(ROOT / "params.yaml"), "--profile", "smoke", "--cell", CELL, "--index",
              str(tmp_path / "index.csv"), "--checkpoint", str(model), "--out", str(feats)])
    one_line_error(capsys, rc, f"{model}: checkpoint was trained with another config")
    assert not feats.exists()


@pytest.mark.parametrize("edit, args, needle", [
    (lambda d: None, ["train", "--cell", "synth-market/nope/s0"], "params.yaml: methods.nope: unknown method"),
    (lambda d: None, ["train", "--cell", "nope/baseline/s0"], "params.yaml: datasets.nope: unknown dataset"),
    (lambda d: d["profiles"]["smoke"]["stand_ins"].update(market1501="synth-nope"), ["cells"],
     "params.yaml: datasets.synth-nope: unknown dataset"),
    (lambda d: d["methods"]["baseline"].update(model="nope"), ["train", "--cell", CELL],
     "params.yaml: methods.baseline.model: unknown model 'nope'"),
    (lambda d: d["profiles"]["smoke"].update(seeds=[0, 1, 0]), ["cells"], "seeds: [0, 1, 0] has non-unique elements"),
])
def test_unknown_names_and_colliding_cells_in_params(tmp_path, params, capsys, edit, args, needle):
    write_market(tmp_path / "market", n_ids=4, cams=2, per_cam=2, size=(64, 32))
    idx = tmp_path / "prepared" / "index.csv"
    from attnreid.data.datasets import prepare

    prepare("toy", {"kind": "market1501", "check_counts": False}, tmp_path / "market", idx)
    run = tmp_path / "run"
    train = ["--index", str(idx), "--pseudo", str(tmp_path / "pseudo"), "--out", str(run / "model.pt"),
             "--live", str(run / "live"), "--threads", "1"] if args[0] == "train" else []
    rc = cli([args[0], "--params", str(params(edit)), "--profile", "smoke", *args[1:], *train])
    one_line_error(capsys, rc, needle)
    assert not run.exists()


def test_a_method_defined_twice_is_a_cell_id_collision(tmp_path, capsys):
    text = (ROOT / "params.yaml").read_text()
    at = text.index("\n  baseline:")
    doubled = text[:at] + "\n  baseline: {model: baseline, args: {neck: none}}" + text[at:]
    line = doubled[:at + 1].count("\n") + 1
    (tmp_path / "params.yaml").write_text(doubled)
    one_line_error(capsys, cli(["cells", "--params", str(tmp_path / "params.yaml")]),
                   f"params.yaml: not valid YAML (line {line + 1}: duplicate key 'baseline')")


def test_image_damaged_after_prepare_stops_training_in_one_line(tmp_path, capsys):
    """`attnreid train` on an index whose image was damaged after prepare: exit 2, one line naming the
    image (no traceback), and no file written: no model, checkpoint, run record or curve (every train image is
    in the first batch). dvclive makes its folder when training starts; it stays empty."""
    from attnreid.data.datasets import prepare

    write_market(tmp_path / "market", n_ids=4, cams=2, per_cam=2, size=(64, 32))
    idx = tmp_path / "prepared" / "index.csv"
    prepare("toy", {"kind": "market1501", "check_counts": False}, tmp_path / "market", idx)
    df, _ = index_io.read(idx)
    victim = index_io.split(df, "train").abspath.iloc[3]
    with open(victim, "r+b") as fh:
        fh.truncate(30)
    run = tmp_path / "run"
    rc = cli(["train", "--params", str(ROOT / "params.yaml"), "--profile", "smoke", "--cell", CELL, "--index",
              str(idx), "--pseudo", str(tmp_path / "pseudo"), "--out", str(run / "model.pt"), "--live",
              str(run / "live"), "--threads", "1"])
    err = capsys.readouterr().err
    one_line_error_in(err, rc, f"{victim}: unreadable or corrupt image")
    assert "Traceback" not in err
    assert not [p for p in run.rglob("*") if not p.is_dir()], sorted(run.rglob("*"))


@pytest.fixture
def file_size_limit():
    """Writes beyond 64 KiB fail as on a full disk (RLIMIT_FSIZE, SIGXFSZ ignored: EFBIG)."""
    limits, handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, limits[1]))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    signal.signal(signal.SIGXFSZ, handler)


def full_disk_write(kind: str, path) -> None:
    if kind == "checkpoint":
        checkpoint.save(path, {"weights": torch.zeros(100_000)})
    else:
        write_text(path, "x" * 100_000)


@pytest.mark.parametrize("kind", ["checkpoint", "text"])
def test_file_size_limit_keeps_the_previous_file(tmp_path, file_size_limit, kind):
    """A real EFBIG: the process's file-size limit stops the write."""
    path = tmp_path / "out"
    path.write_bytes(b"previous")
    with pytest.raises(InputError) as err:
        full_disk_write(kind, path)
    assert str(err.value) == f"{path}: cannot write it: file too large (left as it was)"
    assert path.read_bytes() == b"previous" and sorted(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("kind", ["checkpoint", "text"])
@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "no space left on device"),
                                          (errno.EDQUOT, "disk quota exceeded")])
def test_disk_full_or_quota_keeps_the_previous_file(tmp_path, monkeypatch, kind, code, reason):
    """A full disk or an exhausted quota as the kernel reports it: the write lands half its bytes, then fails
    with ENOSPC / EDQUOT (a test cannot fill a disk or set a quota, so the file write is where it strikes)."""
    def short_write(self, data):
        with open(self, "wb" if isinstance(data, (bytes, memoryview)) else "w") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_bytes", short_write)
    monkeypatch.setattr(Path, "write_text", short_write)
    path = tmp_path / "out"
    with open(path, "wb") as fh:
        fh.write(b"previous")
    with pytest.raises(InputError) as err:
        full_disk_write(kind, path)
    assert str(err.value) == f"{path}: cannot write it: {reason} (left as it was)"
    with open(path, "rb") as fh:
        assert fh.read() == b"previous"
    assert sorted(tmp_path.iterdir()) == [path]
