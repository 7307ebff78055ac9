"""End to end on the smoke profile, in temporary copies: under Snakemake, and under DVC."""
import json
import re
import sys

import pytest
import yaml

from conftest import copy_repo, run

pytestmark = pytest.mark.e2e


def check_results(root):
    table = (root / "results/tables/baseline/table1.md").read_text()
    assert "GAP + BN neck" in table and "±" in table and "synth-market (synthreid)" in table
    for f in ("results/tables/baseline/table1.csv", "results/tables/baseline/table1.tex",
              "results/figures/baseline/cmc.png", "results/figures/baseline/ranklist.png", "results/REPORT.md"):
        assert (root / f).stat().st_size > 0, f
    metrics = json.loads((root / "work/smoke/metrics/synth-market/baseline/s0.json").read_text())
    assert 0 <= metrics["R1"] <= 1 and len(metrics["cmc"]) == 50 and metrics["train"]["pretrained"] == "none"


def test_smoke_under_snakemake(smoke_run):
    root, _ = smoke_run
    check_results(root)
    again = run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--config", "profile=smoke"], root)
    assert "Nothing to be done" in again


def stages_run(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


def test_smoke_under_dvc_reruns_only_what_changed(tmp_path):
    root = copy_repo(tmp_path / "repo")
    dvc = [sys.executable, "-m", "dvc"]
    run(dvc + ["init", "--no-scm", "-q"], root)
    run(dvc + ["config", "core.analytics", "false"], root)
    run(["attnreid", "dvc-yaml", "--profile", "smoke", "--out", "dvc.yaml"], root)
    first = stages_run(run(dvc + ["repro"], root))
    assert any(s.startswith("train-") for s in first) and "report" in first
    check_results(root)

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["methods"]["baseline-gap"]["train"] = {"lr": 0.02}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    second = stages_run(run(dvc + ["repro"], root))
    trained = {s for s in second if s.startswith("train-")}
    assert trained == {"train-synth-market-baseline-gap-s0", "train-synth-market-baseline-gap-s1"}
    assert not any(s.startswith(("synthesize", "prepare", "pseudo")) for s in second)
    assert not any("-baseline-s" in s for s in second)
