"""No network inside jobs: every stage of the smoke DAG (one seed, one epoch: every kind of job, a
third of the work), run in this process in DAG order with every socket connection and name lookup
made to fail, completes, and none was attempted."""
from __future__ import annotations

import shlex
import socket

import pytest
import yaml

from attnreid import config
from attnreid.cli import main as cli
from attnreid.grid import Grid
from conftest import ROOT


@pytest.fixture
def no_network(monkeypatch):
    """Sockets that refuse to connect or resolve; the attempts, for the test to assert none happened."""
    attempts = []

    def refuse(what):
        def fail(*args, **kwargs):
            attempts.append((what, args[1:2] if what == "connect" else args[:1]))
            raise OSError(f"network disabled by the test ({what})")
        return fail

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse("connect"))
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, refuse(name))
    return attempts


def test_the_smoke_dag_completes_without_network(tmp_path, monkeypatch, no_network, one_thread):
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["smoke"]["seeds"] = [0]
    params["profiles"]["smoke"]["cell_override"].update(epochs=1, milestones=[1], warmup_epochs=0)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    g = Grid(config.load(tmp_path / "params.yaml", "smoke"))
    with pytest.raises(OSError):  # the guard works
        socket.create_connection(("download.pytorch.org", 443))
    no_network.clear()
    stages = g.stages()
    assert {s.kind for s in stages} >= {"synthesize", "prepare", "pseudo_labels", "train", "extract", "evaluate",
                                        "table", "figure", "report"}
    for stage in stages:
        argv = shlex.split(stage.cmd)
        assert argv[0] == "attnreid"
        assert cli(argv[1:]) == 0, stage.name
        for out in stage.outs:
            assert (tmp_path / out).exists(), f"{stage.name}: {out}"
    assert no_network == []


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
