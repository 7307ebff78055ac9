"""The smoke DAG through a real one-node SLURM (tests/slurm), with the profile cluster users run.

Every job must go through sbatch (sacct lists it, COMPLETED, under its rule), the train jobs must be
granted the cluster's one fake GPU (and fall back to the CPU inside the job), and the outputs must
equal a local run's. Needs root and apt on Debian (it installs slurm-wlm, munge, slurmdbd and
mariadb-server when missing); elsewhere it skips, except in CI (CI=true), where it fails.
"""
import json
import os
import re
import sys
from collections import Counter

import pytest
import yaml

from slurm.cluster import LocalSlurm, Unavailable, ensure_packages, run as slurm_cmd
from conftest import copy_repo, run

pytestmark = pytest.mark.e2e
# Test-only overrides of the profile's polling (its 40 s / 30 s suit a real cluster, not a 19-job DAG).
FAST_POLLING = ("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1")
RUN_TIMEOUT_S = 1200                   # each run is killed past this (Snakemake ignores SIGTERM when it loses jobs)
# Keys that may differ between two equal runs: wall-clock measurements, and the git revision the code
# was at (provenance; the repository may move between the two runs).
VOLATILE = re.compile(r"seconds|_per_s$|^code_version$")


@pytest.fixture
def cluster(tmp_path):
    try:
        ensure_packages()
        with LocalSlurm(tmp_path / "slurm") as up:
            yield up
    except Unavailable as why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"SLURM test cannot run in CI: {why}")
        pytest.skip(f"no local SLURM: {why}")


def job_counts(log: str) -> Counter:
    """Jobs per rule from Snakemake's "Job stats" table, without the local `all` rule."""
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    counts = Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)})
    del counts["all"]
    return counts


def sacct_jobs() -> list[dict]:
    """Every job the cluster accounted: its rule (from the plugin's comment), state and allocated TRES."""
    out = slurm_cmd("sacct", "-X", "-n", "-P", "-a", "--starttime=2000-01-01",
                    "--format=JobID,Comment,State,AllocTRES")
    jobs = []
    for line in out.splitlines():
        jobid, comment, state, tres = line.split("|")
        jobs.append({"id": jobid, "rule": comment.removeprefix("rule_").split("_wildcards_")[0],
                     "state": state, "tres": tres})
    return jobs


def deterministic(node):
    if isinstance(node, dict):
        return {k: deterministic(v) for k, v in node.items() if not VOLATILE.search(k)}
    if isinstance(node, list):
        return [deterministic(v) for v in node]
    return node


def outputs(root) -> dict:
    """The deterministic outputs: every cell's metrics JSON (without VOLATILE keys) and every table CSV."""
    metrics = {p.relative_to(root).as_posix(): deterministic(json.loads(p.read_text()))
               for p in (root / "work").glob("*/metrics/**/*.json")}
    tables = {p.relative_to(root).as_posix(): p.read_text() for p in (root / "results/tables").glob("**/*.csv")}
    assert metrics and tables
    return {**metrics, **tables}


def test_smoke_dag_through_slurm_equals_local_run(tmp_path, cluster, smoke_run):
    local, local_log = smoke_run

    remote = copy_repo(tmp_path / "remote")
    params_path = remote / "params.yaml"          # train asks for a GPU, as on the paper profile
    params = yaml.safe_load(params_path.read_text())
    params["profiles"]["smoke"]["resources"]["train"]["gpu"] = 1
    params_path.write_text(yaml.safe_dump(params))
    run([sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/slurm", "--config", "profile=smoke",
         *FAST_POLLING], remote, timeout=RUN_TIMEOUT_S)

    jobs = sacct_jobs()
    assert Counter(j["rule"] for j in jobs) == job_counts(local_log), jobs
    assert all(j["state"] == "COMPLETED" for j in jobs), jobs
    for j in jobs:
        assert ("gres/gpu=1" in j["tres"]) == (j["rule"] == "train"), j
    assert outputs(remote) == outputs(local)       # train.device included: the GPU job fell back alike
