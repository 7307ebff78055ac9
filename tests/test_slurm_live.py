"""One cell of the smoke DAG through a real one-node SLURM (tests/slurm), with the profile cluster users run.

The test starts from a copy of the shared local smoke run (its Snakemake metadata included) without
that cell's model, features and metrics, so Snakemake plans exactly the cell's train → extract →
evaluate: one job of each rule kind that asks SLURM for something different (train with a GPU,
extract, light; the upstream data rules are light jobs too, and the tables and figures read only
metrics files, which `test_e2e.py` covers). Every job must go through sbatch (sacct lists it under its
rule and wildcards, COMPLETED, or COMPLETED on the profile's one retry), only the train job may be
granted the cluster's one fake GPU (training falls back to the CPU inside it), and the cell's
metrics must equal the local run's. Needs root and apt on Debian (it installs slurm-wlm, munge, slurmdbd and
mariadb-server when missing); elsewhere it skips, except in CI (CI=true), where it fails.
"""
import json
import re
import shutil
import sys
from collections import Counter, defaultdict

import pytest
import yaml

from slurm.cluster import LocalSlurm, Unavailable, ensure_packages
from conftest import missing_part, run

CELL = "synth-market/baseline/s0"
TARGET = f"work/smoke/metrics/{CELL}.json"
CELL_OUTPUTS = (f"work/smoke/runs/{CELL}", TARGET)
CHAIN = ("train", "extract", "evaluate")
# Test-only overrides of the profile's polling (its 40 s / 30 s suit a real cluster, not a 7-job chain).
FAST_POLLING = ("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1")
RUN_TIMEOUT_S = 900                    # the run is killed past this (Snakemake ignores SIGTERM when it loses jobs)
# Keys that may differ between two equal runs: wall-clock and memory measurements, and the git revision
# the code was at (provenance; the repository may move between the two runs).
VOLATILE = re.compile(r"seconds|_per_s$|^peak_memory$|^code_version$")


@pytest.fixture
def cluster(tmp_path):
    try:
        ensure_packages()
        with LocalSlurm(tmp_path / "slurm") as up:
            yield up
    except Unavailable as why:
        missing_part(f"no local SLURM: {why}")


def sacct_jobs(cluster) -> list[dict]:
    """Every job the cluster accounted, oldest first: its rule and wildcards (the plugin's comment), state
    and allocated TRES."""
    out = cluster.run("sacct", "-X", "-n", "-P", "-a", "--starttime=2000-01-01",
                      "--format=JobID,Comment,State,AllocTRES")
    jobs = []
    for line in out.splitlines():
        jobid, comment, state, tres = line.split("|")
        rule, _, wildcards = comment.removeprefix("rule_").partition("_wildcards_")
        jobs.append({"id": int(jobid), "rule": rule, "wildcards": wildcards, "state": state, "tres": tres})
    return sorted(jobs, key=lambda j: j["id"])


def final_attempts(jobs: list[dict]) -> list[dict]:
    """The last attempt of each Snakemake job; the earlier ones must have failed (a retry follows only a
    failure), so a job that succeeded on the profile's retry counts as succeeded."""
    attempts = defaultdict(list)
    for j in jobs:
        attempts[j["rule"], j["wildcards"]].append(j)
    for tries in attempts.values():
        assert all(t["state"] != "COMPLETED" for t in tries[:-1]), tries
    return [tries[-1] for tries in attempts.values()]


def deterministic(node):
    if isinstance(node, dict):
        return {k: deterministic(v) for k, v in node.items() if not VOLATILE.search(k)}
    if isinstance(node, list):
        return [deterministic(v) for v in node]
    return node


@pytest.mark.e2e
def test_one_cell_through_slurm_equals_the_local_run(tmp_path, cluster, smoke_run):
    local, _ = smoke_run
    remote = shutil.copytree(local, tmp_path / "remote", symlinks=True)  # mtimes and Snakemake's metadata kept
    for out in CELL_OUTPUTS:
        (shutil.rmtree if (remote / out).is_dir() else (remote / out).unlink)(remote / out)
    params_path = remote / "params.yaml"          # train asks for a GPU, as on the paper profile
    params = yaml.safe_load(params_path.read_text())
    params["profiles"]["smoke"]["resources"]["train"]["gpu"] = 1   # a resource, not a param: nothing else reruns
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))  # same order: Snakemake compares params as text
    run([sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/slurm", "--config", "profile=smoke",
         *FAST_POLLING, TARGET], remote, timeout=RUN_TIMEOUT_S, env=cluster.env)

    jobs = final_attempts(sacct_jobs(cluster))
    assert Counter(j["rule"] for j in jobs) == Counter(CHAIN), jobs
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    for j in jobs:
        assert ("gres/gpu=1" in j["tres"]) == (j["rule"] == "train"), j
    # train.device included: the GPU job fell back to the CPU as the local run did
    assert deterministic(json.loads((remote / TARGET).read_text())) == deterministic(json.loads((local / TARGET).read_text()))


def test_a_job_completed_on_retry_counts_once_as_done():
    """final_attempts, on sacct rows of a chain whose train job failed once and was resubmitted."""
    rows = [{"id": 1, "rule": "prepare", "wildcards": "dataset=d", "state": "COMPLETED"},
            {"id": 2, "rule": "train", "wildcards": "cell=c", "state": "FAILED"},
            {"id": 3, "rule": "train", "wildcards": "cell=c", "state": "COMPLETED"}]
    assert [j["id"] for j in final_attempts(rows)] == [1, 3]
    with pytest.raises(AssertionError):       # a retry after a success would be a duplicate job
        final_attempts([{**rows[1], "state": "COMPLETED"}, rows[2]])
