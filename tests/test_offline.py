"""No network inside jobs: every stage command of every profile's DAG is a verb the CLI runs with
internet sockets refused (attnreid.offline), and a job that tries one stops with one line. The smoke
DAG itself runs under that guard in the end-to-end tests (tests/test_e2e.py, Snakemake and DVC), so
it completing there is the smoke DAG completing with networking made to fail."""
from __future__ import annotations

import shlex
import socket

import pytest

from attnreid import cli as cli_module
from attnreid.cli import main as cli
from conftest import ROOT, params_grid


@pytest.mark.parametrize("profile", ["smoke", "default", "synthetic", "paper"])
def test_every_stage_of_the_dag_runs_under_the_guard(profile):
    stages = params_grid(profile).stages()
    assert all(shlex.split(s.cmd)[0] == "attnreid" for s in stages)
    assert not {shlex.split(s.cmd)[1] for s in stages} & set(cli_module.DOWNLOADS)  # downloads are never jobs


def test_a_job_that_tries_the_network_stops_with_one_line(tmp_path, monkeypatch, capsys):
    from attnreid.engine import evaluate

    def phone_home(*args, **kwargs):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: never reached

    monkeypatch.setattr(evaluate, "run", phone_home)
    original = socket.socket.connect
    out = tmp_path / "metrics.json"
    assert cli(["evaluate", "--params", str(ROOT / "params.yaml"), "--profile", "smoke", "--cell",
                "synth-market/baseline/s0", "--features", str(tmp_path / "f.npz"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("attnreid: error: evaluate: network access to ('192.0.2.1', 443) inside a job; downloads run "
                   "before the DAG: attnreid fetch (datasets), attnreid fetch-weights (weights)")
    assert not out.exists()
    assert socket.socket.connect is original  # the guard is gone after the job
