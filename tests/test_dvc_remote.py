"""Train once, regenerate anywhere: a smoke run pushed to a local DVC remote, cloned and pulled.

The run is the session's Snakemake run (`smoke_run`), recorded with `attnreid dvc-record` (the
Snakemake/SLURM route: `dvc commit` fails on any output or dependency the DVC DAG declares and that
run did not make) — not trained a second time by `dvc repro`: `dvc status` and `dvc repro --dry`
then find nothing to do (the two DAGs agree on every output), so both routes push the same run. After a pull,
neither DVC nor Snakemake plans a training, rebuilt tables equal the originals, a params change to
one method plans only that method's cells, a change of the evaluation reruns the evaluations and what
reads them (nothing upstream), and a missing remote object is one line naming it.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from attnreid import config, dvcgen
from attnreid.grid import Grid
from conftest import ROOT, copy_repo, env_with_venv, run

DVC = [sys.executable, "-m", "dvc"]
CLI = [sys.executable, "-m", "attnreid.cli"]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "1", "--config", "profile=smoke"]
GIT = ["git", "-c", "user.name=attnreid-test", "-c", "user.email=test@attnreid"]


def git_dvc_repo(root: Path, remote: Path) -> Path:
    """`root` (a copy of the repository) as a git + DVC repository with `remote` as its default remote
    and the smoke profile's dvc.yaml."""
    for name in (".gitignore", ".dvcignore"):
        shutil.copy(ROOT / name, root / name)
    run(GIT + ["init", "-q"], root)
    run(DVC + ["init", "-q"], root)
    run(DVC + ["config", "core.analytics", "false"], root)
    run(DVC + ["remote", "add", "-d", "store", str(remote)], root)
    run(CLI + ["dvc-yaml", "--profile", "smoke", "--out", "dvc.yaml"], root)
    run(GIT + ["add", "-A"], root)
    run(GIT + ["commit", "-q", "-m", "the smoke pipeline"], root)  # a clone has commits (dvclive needs one)
    return root


def commit_and_push(root: Path) -> None:
    run(GIT + ["add", "-A"], root)
    run(GIT + ["commit", "-q", "-m", "smoke run"], root)
    run(DVC + ["push", "-q"], root)


def clone_and_pull(src: Path, dst: Path) -> Path:
    run(GIT + ["clone", "-q", str(src), str(dst)], dst.parent)
    out = run(CLI + ["dvc-pull", "--profile", "smoke"], dst)
    assert "dvc status is clean" in out
    return dst


def stages_run(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


def planned_jobs(dry_run_log: str) -> list[str]:
    """`(local)rule train:` ... `wildcards: ...` blocks of a Snakemake dry run, as 'rule wildcards' strings."""
    return re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    wildcards: (.*)$", dry_run_log, re.M)


def assert_nothing_to_rebuild(root: Path) -> None:
    assert json.loads(run(DVC + ["status", "--json"], root)) == {}
    assert stages_run(run(DVC + ["repro", "--dry"], root)) == set()
    assert "Nothing to be done" in run(SNAKEMAKE + ["-n"], root)


def results_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "results").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dvc_pushed(smoke_run, tmp_path_factory) -> tuple[Path, Path]:
    """The session's smoke run in a git + DVC copy, recorded (nothing rerun), committed and pushed: (repo, remote)."""
    made, _ = smoke_run
    base = tmp_path_factory.mktemp("dvc_route")
    root = base / "trained"
    shutil.copytree(made, root, symlinks=True)  # keeps mtimes and Snakemake's metadata, as on the cluster
    git_dvc_repo(root, base / "remote")
    model = root / "work/smoke/runs/synth-market/baseline/s0/model.pt"
    before = model.stat().st_mtime_ns
    assert "recorded" in run(CLI + ["dvc-record", "--profile", "smoke"], root)
    assert model.stat().st_mtime_ns == before  # recorded, not rerun
    assert_nothing_to_rebuild(root)
    commit_and_push(root)
    return root, base / "remote"


@pytest.mark.e2e
def test_run_pulled_elsewhere_trains_nothing_and_rebuilds_equal_tables(dvc_pushed, tmp_path):
    trained, _ = dvc_pushed
    clone = clone_and_pull(trained, tmp_path / "clone")
    assert_nothing_to_rebuild(clone)
    assert results_of(clone) == results_of(trained)

    shutil.rmtree(clone / "results")
    log = run(SNAKEMAKE + ["--forcerun", "table", "figure", "claims", "report"], clone)
    rules = set(re.findall(r"^(?:local)?rule (\w+):", log, re.M))
    assert rules == {"table", "figure", "claims", "report", "all"}, rules
    assert results_of(clone) == results_of(trained)  # rebuilt from the pulled metrics, byte for byte
    assert json.loads(run(DVC + ["status", "--json"], clone)) == {}


def set_params(root: Path, method: str, section: str, values: dict) -> str:
    """`methods.<method>.<section>` of root's params.yaml set to `values`; returns the original text."""
    text = (root / "params.yaml").read_text()
    params = yaml.safe_load(text)
    params["methods"][method][section] = values
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))  # same order: Snakemake compares params as text
    return text


@pytest.mark.e2e
def test_params_change_after_pull_reruns_only_that_methods_cells(dvc_pushed, tmp_path):
    """Both tools plan a training change to one method as that method's cells only, and Snakemake a
    test-time change to it as its extractions only (dry runs); a change to the evaluation, run for real
    through `dvc exp run -S`, reruns every evaluation and what reads them, and trains and extracts
    nothing (a real retraining is what the smoke run and the SLURM test already time)."""
    trained, _ = dvc_pushed
    clone = clone_and_pull(trained, tmp_path / "clone")
    text = set_params(clone, "baseline-gap", "train", {"lr": 0.02})
    jobs = planned_jobs(run(SNAKEMAKE + ["-n"], clone))  # Snakemake's params trigger, from snakemake-sync's metadata
    cells = ["dataset=synth-market, method=baseline-gap, seed=0", "dataset=synth-market, method=baseline-gap, seed=1"]
    assert sorted(w for r, w in jobs if r == "train") == cells
    assert all("method=baseline-gap" in w for r, w in jobs if r in ("extract", "evaluate")), jobs
    planned = stages_run(run(DVC + ["repro", "--dry"], clone))
    assert {s for s in planned if s.startswith(("train-", "extract-"))} == {
        f"{kind}-synth-market-baseline-gap-s{seed}" for kind in ("train", "extract") for seed in (0, 1)}, planned
    (clone / "params.yaml").write_text(text)
    set_params(clone, "baseline-gap", "eval", {"flip": True})  # a key params.yaml did not have
    jobs = planned_jobs(run(SNAKEMAKE + ["-n"], clone))
    assert sorted(w for r, w in jobs if r == "extract") == cells and not any(r == "train" for r, _ in jobs), jobs
    (clone / "params.yaml").write_text(text)

    ran = stages_run(run(DVC + ["exp", "run", "-S", "eval.rerank.k1=10"], clone, timeout=2400))
    assert {s for s in ran if s.startswith("evaluate-")} == {
        f"evaluate-synth-market-{m}-s{seed}" for m in ("baseline", "baseline-gap") for seed in (0, 1)}, ran
    assert not any(s.startswith(("synthesize", "prepare", "pseudo", "cache", "train", "extract")) for s in ran), ran
    assert {"table-baseline-table1", "report"} <= ran, ran                         # and what reads those cells
    assert yaml.safe_load((clone / "params.yaml").read_text())["eval"]["rerank"]["k1"] == 10
    assert json.loads(run(DVC + ["status", "--json"], clone)) == {}
    metrics = "work/smoke/metrics/synth-market/baseline-gap/s0.json"
    changed, pushed = (json.loads((root / metrics).read_text()) for root in (clone, trained))
    assert changed["rerank"]["mAP"] != pushed["rerank"]["mAP"]  # re-ranked with the new k1
    assert changed["mAP"] == pushed["mAP"]                      # from the same features


@pytest.mark.e2e
def test_pull_with_a_missing_remote_object_is_one_line_naming_it(dvc_pushed, tmp_path):
    trained, remote = dvc_pushed
    broken = shutil.copytree(remote, tmp_path / "remote")
    lock = yaml.safe_load((trained / "dvc.lock").read_text())
    path = "work/smoke/runs/synth-market/baseline/s0/model.pt"
    model = next(o for o in lock["stages"]["train-synth-market-baseline-s0"]["outs"] if o["path"] == path)
    (broken / "files" / "md5" / model["md5"][:2] / model["md5"][2:]).unlink()

    clone = tmp_path / "clone"
    run(GIT + ["clone", "-q", str(trained), str(clone)], tmp_path)
    run(DVC + ["remote", "modify", "--local", "store", "url", str(broken)], clone)
    res = subprocess.run(CLI + ["dvc-pull", "--profile", "smoke"], cwd=clone, capture_output=True, text=True,
                         env=env_with_venv(), timeout=600)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert model["path"] in lines[0] and "stage train-synth-market-baseline-s0" in lines[0], lines[0]


def test_record_refuses_a_pipeline_of_another_profile(tmp_path, monkeypatch):
    """Checked before anything is hashed: dvc.yaml must be the profile's, every output present."""
    from attnreid import dvcsync
    from attnreid.errors import InputError

    monkeypatch.chdir(copy_repo(tmp_path / "repo"))
    raw = config.load_raw("params.yaml")
    Path("dvc.yaml").write_text(dvcgen.render(Grid(config.resolve(raw, "default")), raw))
    with pytest.raises(InputError, match=r"dvc.yaml: is the pipeline of profile default, not of profile smoke"):
        dvcsync.record("params.yaml", "smoke")
    Path("dvc.yaml").write_text(dvcgen.render(Grid(config.resolve(raw, "smoke")), raw))
    with pytest.raises(InputError, match=r"^work/smoke/raw/synth-market: missing .* nothing recorded"):
        dvcsync.record("params.yaml", "smoke")


def test_pipeline_caches_every_output_and_tracks_the_profiles_overrides():
    """Nothing uncached (a pull restores all), and a key the profile overrides is a DVC param of its stages."""
    raw = config.load_raw(ROOT / "params.yaml")
    doc = yaml.safe_load(dvcgen.render(Grid(config.resolve(raw, "smoke")), raw))
    stages = doc["stages"]
    assert all(isinstance(o, str) for st in stages.values() for o in st.get("outs", []) + st.get("metrics", []))
    assert "profiles.smoke.pseudo_labels" in stages["pseudo_labels-synth-market"]["params"]
    assert stages["synthesize-synth-market"]["params"] == ["datasets.synth-market", "profiles.smoke.datasets"]
    assert dvcgen.params_keys(["train", "methods.a"], {"train": {}, "methods": {"a": {}},
                                                       "profiles": {"p": {"methods": {"a": {"train": {}}}}}}, "p") \
        == ["train", "methods.a", "profiles.p.methods.a"]
