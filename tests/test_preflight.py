"""`attnreid check`: the table of a profile's needs, exit 1 with what is missing; the Snakefile's
cheap check stops a run before any job; an optional backend without its env is an `unavailable` row."""
from __future__ import annotations

import copy
import subprocess
import sys

import pandas as pd
import pytest

from attnreid import config, preflight
from attnreid.cli import main as cli
from attnreid.data.datasets import prepare
from attnreid.errors import InputError
from attnreid.data.synthreid import SynthConfig, generate
from attnreid.grid import Grid
from attnreid.pseudo import report, store
from attnreid.pseudo.run import run
from conftest import ROOT, copy_repo, env_with_venv, write_market

TINY = dict(num_train_ids=4, num_test_ids=4, num_cameras=3, cameras_per_id=[2, 2], images_per_id_camera=[1, 2],
            num_distractors=2, num_junk=2)


def test_check_passes_on_the_smoke_profile_and_lists_what_it_checked(capsys):
    assert cli(["check", "--params", str(ROOT / "params.yaml"), "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "| dataset | synth-market | ok |" in out and "| pseudo-labels | oracle | ok |" in out
    assert "| disk |" in out and "missing" not in out


def test_a_missing_dataset_root_fails_the_check_with_its_fetch_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # data/raw/ is empty here
    assert cli(["check", "--params", str(ROOT / "params.yaml"), "--profile", "paper", "--cheap"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert ("attnreid: missing: dataset market1501: data/raw/Market-1501-v15.09.15: not found; place "
            "Market-1501-v15.09.15.zip in data/raw/ (the official release of Zheng et al. 2015), then run: "
            "attnreid fetch --profile paper --dataset market1501") in err
    assert any(line.startswith("attnreid: missing: weights imagenet:resnet50:") and
               line.endswith("attnreid fetch-weights --profile paper") for line in err)
    assert not (tmp_path / "work").exists()


def test_the_full_check_compares_a_present_roots_counts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = config.load(ROOT / "params.yaml", "paper")
    params["datasets"]["market1501"]["root"] = str(write_market(tmp_path / "market"))
    row = preflight._dataset_row(Grid(params), "market1501", cheap=False)
    assert row.status == "missing" and "counts differ from the published statistics" in row.detail
    assert preflight._dataset_row(Grid(params), "market1501", cheap=True).status == "ok"


def test_snakemake_stops_before_any_job_when_a_dataset_is_missing(tmp_path):
    root = copy_repo(tmp_path / "repo")
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "results/tables/pfsa/table2.md",
                          "--config", "profile=paper"], cwd=root, capture_output=True, text=True,
                         env=env_with_venv(), timeout=300)
    assert res.returncode != 0
    text = res.stdout + res.stderr
    assert "attnreid: missing: dataset market1501: data/raw/Market-1501-v15.09.15: not found" in text
    assert "nothing was submitted" in text and not (root / "work").exists()


def _grid(backend: str, python: str) -> Grid:
    params = copy.deepcopy(config.load(ROOT / "params.yaml", "smoke"))
    params["pseudo_labels"]["backend"] = backend
    params["pseudo_labels"]["mediapipe"]["python"] = python
    params["pseudo_report"] = {"datasets": ["synth-market"], "backends": ["mediapipe"], "max_images": 8}
    return Grid(params)


def test_a_missing_mediapipe_env_is_unavailable_for_the_report_and_missing_for_training(tmp_path):
    gone = str(tmp_path / "no-venv" / "bin" / "python")
    rows = {r.item: r for r in preflight.rows(_grid("oracle", gone), cheap=True)}
    assert rows["mediapipe"].status == "unavailable" and gone in rows["mediapipe"].detail
    assert preflight.failures(list(rows.values())) == []
    rows = preflight.rows(_grid("mediapipe", gone), cheap=True)
    assert preflight.failures(rows) == [f"pseudo-labels mediapipe: pseudo_labels stage (training): {gone} not found "
                                        "(`make venv` creates it from requirements-mediapipe.txt)"]


def test_the_backends_report_shows_an_unavailable_backend(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gone = str(tmp_path / "no-venv" / "bin" / "python")
    g = _grid("oracle", gone)
    ds = "synth-market"
    generate(g.raw_root(ds), SynthConfig.from_dict(TINY))
    prepare(ds, g.dataset_cfg(ds), g.raw_root(ds), g.index(ds))
    with pytest.raises(InputError, match="mediapipe: .* not found"):  # the training stage still refuses
        run(ds, g.index(ds), tmp_path / "labels", g.params["pseudo_labels"], "mediapipe")
    assert not (tmp_path / "labels").exists()
    assert g.pseudo_compare_stage(ds, "mediapipe").cmd.endswith(" --optional")  # what the DAG runs
    for d, b in g.pseudo_report_pairs():
        run(d, g.index(d), g.pseudo_compare(d, b), g.params["pseudo_labels"], b, 8, optional=True)
    prov = store.read_json(g.pseudo_compare(ds, "mediapipe"), "provenance.json")
    assert prov["unavailable"].startswith(gone)
    report.render(g, g.pseudo_report_outs()[0])
    md, csv, *overlays = g.pseudo_report_outs()
    table = pd.read_csv(csv).set_index("labels")
    assert table.loc["mediapipe (unavailable)", "unavailable"].startswith(gone)
    assert table.loc["oracle", "mask_iou"] == 1.0
    assert f"**mediapipe (unavailable) on synth-market**: {gone} not found" in open(md).read()
    assert all(open(o, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for o in overlays)

