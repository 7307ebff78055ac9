"""Kill anywhere, lose nothing: a tiny cell (ResNet-18, 64x32, 3 epochs of 3 batches) stopped at
several points and rerun ends bit-identical to an uninterrupted run; two runs are bit-identical.

The SIGKILLs run `attnreid train` in a subprocess under tests/killpoint.py; the stop signals (TERM,
INT, USR1), which train handles, and the uninterrupted runs run in this process (same code path, same
thread count), which saves interpreter start-ups.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch
import yaml

from attnreid.cli import main as cli
from attnreid.data.datasets import prepare
from conftest import ROOT, env_with_venv, write_market
from killpoint import arm

CELL = "synth-market/baseline/s0"
KILLPOINT = Path(__file__).with_name("killpoint.py")
TIMING = ("imgs_per_s", "eval_seconds", "peak_memory")  # measurements, not results


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """The smoke profile at 3 epochs, and a prepared set of 4 train ids x 12 images: every PK batch
    takes all 4 ids, so every epoch has exactly 3 batches."""
    root = tmp_path_factory.mktemp("toy")
    write_market(root / "raw", n_ids=4, cams=2, per_cam=6, size=(64, 32))
    prepare("toy", {"kind": "market1501", "check_counts": False}, root / "raw", root / "prepared" / "index.csv")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["smoke"]["cell_override"].update(epochs=3, milestones=[2])
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    params["profiles"]["smoke"]["cell_override"]["workers"] = 2
    (root / "params-workers.yaml").write_text(yaml.safe_dump(params))
    return root


def train_args(toy: Path, run: Path, params: str = "params.yaml") -> list[str]:
    return ["train", "--params", str(toy / params), "--profile", "smoke", "--cell", CELL,
            "--index", str(toy / "prepared" / "index.csv"), "--pseudo", str(toy / "pseudo"),
            "--out", str(run / "model.pt"), "--live", str(run / "live"), "--threads", "1"]


def killed(toy: Path, run: Path, spec: str, sig: str, params: str = "params.yaml") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(KILLPOINT), spec, sig, "--", *train_args(toy, run, params)],
                          capture_output=True, text=True, env=env_with_venv(), timeout=300)


def position(ckpt: Path) -> list[int]:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["position"]


def without_timing(obj):
    if isinstance(obj, dict):
        return {k: without_timing(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [without_timing(v) for v in obj]
    return obj


def assert_same_model(a: Path, b: Path) -> None:
    ma, mb = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    assert ma["model"].keys() == mb["model"].keys()
    for k, v in ma["model"].items():
        assert torch.equal(v, mb["model"][k]), k
    assert without_timing(ma["meta"]["history"]) == without_timing(mb["meta"]["history"])


@pytest.fixture(scope="module")
def reference(toy) -> Path:
    run = toy / "reference"
    assert cli(train_args(toy, run)) == 0
    return run


@pytest.mark.filterwarnings("ignore:max_rank")
def test_two_runs_give_bit_identical_metrics(toy, reference, tmp_path):
    again = tmp_path / "again"
    assert cli(train_args(toy, again)) == 0
    assert_same_model(reference / "model.pt", again / "model.pt")
    metrics = []
    for run in (reference, again):
        common = ["--params", str(toy / "params.yaml"), "--profile", "smoke", "--cell", CELL]
        assert cli(["extract", *common, "--index", str(toy / "prepared" / "index.csv"), "--checkpoint",
                    str(run / "model.pt"), "--out", str(run / "features.npz"), "--threads", "1"]) == 0
        assert cli(["evaluate", *common, "--features", str(run / "features.npz"), "--out", str(run / "m.json")]) == 0
        metrics.append(without_timing(json.loads((run / "m.json").read_text())))
    assert metrics[0] == metrics[1] and metrics[0]["num_query"] == 8


def test_run_record_beside_the_model(reference):
    record = json.loads((reference / "run.json").read_text())
    assert record["seed"] == 0 and record["cell"] == CELL and record["params"]["train"]["epochs"] == 3
    assert record["versions"]["torch_build"] == torch.__version__ and record["versions"]["code_version"]
    assert record["versions"]["torch"] == metadata.version("torch")
    assert record["resumed_at"] == [] and not (reference / "checkpoint.pt").exists()
    meta = torch.load(reference / "model.pt", map_location="cpu", weights_only=True)["meta"]
    assert meta["code_version"] == record["versions"]["code_version"]


def signalled(toy: Path, run: Path, spec: str, sig: signal.Signals, monkeypatch) -> int:
    """`attnreid train` in this process, sending itself `sig` at `spec` (a stop signal: it is handled)."""
    with monkeypatch.context() as patch:
        arm(spec, sig, patch.setattr)
        return cli(train_args(toy, run))


def test_killed_at_every_kind_of_point_resumes_to_the_identical_model(toy, reference, tmp_path, monkeypatch,
                                                                     capsys):
    """Stop signals are sent in this process (train handles them); SIGKILL needs a process of its own."""
    run = tmp_path / "run"
    ckpt, model = run / "checkpoint.pt", run / "model.pt"

    # SIGTERM while epoch 1 makes batch 2: the batch finishes, a mid-epoch checkpoint, exit 128 + 15
    assert signalled(toy, run, "batch:2", signal.SIGTERM, monkeypatch) == 128 + signal.SIGTERM
    assert "interrupted: SIGTERM in epoch 1/3 after batch 2/3" in capsys.readouterr().err
    assert position(ckpt) == [0, 2]

    # SIGKILL in epoch 2 batch 2 (after finishing epoch 1 from batch 3): the epoch-1 checkpoint survives
    res = killed(toy, run, "batch:3", "KILL")
    assert res.returncode == -signal.SIGKILL and position(ckpt) == [1, 0]

    # SIGKILL halfway through writing the epoch-2 checkpoint: the previous one is intact
    res = killed(toy, run, "save:1", "KILL")
    assert res.returncode == -signal.SIGKILL and position(ckpt) == [1, 0]
    assert len(list(run.glob(".checkpoint.pt.tmp-*"))) == 1  # the half-written temporary

    # Ctrl-C (SIGINT) in epoch 2 batch 2: 128 + 2, and the stale temporary is cleared by the save
    assert signalled(toy, run, "batch:2", signal.SIGINT, monkeypatch) == 128 + signal.SIGINT
    assert "interrupted: SIGINT in epoch 2/3 after batch 2/3" in capsys.readouterr().err
    assert position(ckpt) == [1, 2] and not list(run.glob(".checkpoint.pt.tmp-*"))

    # SIGUSR1 (SLURM's warning) in epoch 3 batch 2 (after finishing epoch 2 from batch 3): 128 + 10
    assert signalled(toy, run, "batch:3", signal.SIGUSR1, monkeypatch) == 128 + signal.SIGUSR1
    assert position(ckpt) == [2, 2]

    # SIGKILL with model.pt written but not yet renamed: no model.pt, training is all in the checkpoint
    res = killed(toy, run, "commit:model.pt", "KILL")
    assert res.returncode == -signal.SIGKILL and not model.exists() and position(ckpt) == [3, 0]

    assert cli(train_args(toy, run)) == 0
    assert_same_model(reference / "model.pt", model)
    assert not ckpt.exists() and not list(run.glob(".*.tmp-*"))
    record = json.loads((run / "run.json").read_text())
    assert record["resumed_at"] == [[0, 2], [1, 0], [1, 2], [2, 2], [3, 0]]  # the save:1 run died before saving
    steps = (run / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert len(steps) == 1 + 3  # header + one line per epoch: no gap, no duplicate


def test_a_run_with_loader_workers_killed_mid_epoch_resumes_to_the_same_model(toy, reference, tmp_path):
    """Two loader workers gather the rows; augmentation is drawn from (seed, epoch, batch) in the
    training process, so the run, stopped mid-epoch and killed, ends as the workers-0 reference."""
    run = tmp_path / "workers"
    res = killed(toy, run, "batch:2", "TERM", "params-workers.yaml")
    assert res.returncode == 128 + signal.SIGTERM and position(run / "checkpoint.pt") == [0, 2], res.stderr[-2000:]
    res = killed(toy, run, "batch:3", "KILL", "params-workers.yaml")  # epoch 2, batch 2
    assert res.returncode == -signal.SIGKILL and position(run / "checkpoint.pt") == [1, 0]
    assert cli(train_args(toy, run, "params-workers.yaml")) == 0
    assert_same_model(reference / "model.pt", run / "model.pt")


def test_checkpoint_of_another_config_is_not_resumed(toy, reference, tmp_path, caplog):
    run = tmp_path / "run"
    ckpt = torch.load(reference / "model.pt", map_location="cpu", weights_only=True)
    run.mkdir()
    torch.save({**ckpt, "digest": "0123456789ab", "position": [2, 0]}, run / "checkpoint.pt")
    assert cli(train_args(toy, run)) == 0
    assert f"{run / 'checkpoint.pt'}: checkpoint of another config (digest 0123456789ab" in caplog.text
    assert_same_model(reference / "model.pt", run / "model.pt")
