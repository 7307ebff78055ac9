"""End to end on the smoke profile, in temporary copies: under Snakemake, and under DVC."""
import json
import re
import shutil
import sys

import numpy as np
import pytest
import yaml

from conftest import copy_repo, run

pytestmark = pytest.mark.e2e


def chance_r1(features) -> float:
    """Rank-1 of a random ranking: per query with a true match, its share of the gallery it is ranked
    against (same identity and camera left out, as in evaluation), averaged."""
    with np.load(features) as f:
        q_pid, q_cam, g_pid, g_cam = f["query_pid"], f["query_camid"], f["gallery_pid"], f["gallery_camid"]
    shares = []
    for pid, cam in zip(q_pid, q_cam):
        valid = ~((g_pid == pid) & (g_cam == cam))
        if (valid & (g_pid == pid)).any():
            shares.append((valid & (g_pid == pid)).sum() / valid.sum())
    return float(np.mean(shares))


def check_results(root):
    table = (root / "results/tables/baseline/table1.md").read_text()
    assert "GAP + BN neck" in table and "±" in table and "synth-market (synthreid)" in table
    for f in ("results/tables/baseline/table1.csv", "results/tables/baseline/table1.tex",
              "results/figures/baseline/cmc.png", "results/figures/baseline/ranklist.png", "results/REPORT.md"):
        assert (root / f).stat().st_size > 0, f
    cells = sorted((root / "work/smoke/metrics").glob("*/*/s*.json"))
    assert len(cells) == 4
    for path in cells:
        metrics = json.loads(path.read_text())
        assert len(metrics["cmc"]) == 50 and metrics["train"]["pretrained"] == "none"
        # 2 epochs from scratch: R1 0.59-0.91 over the cells and seeds seen; chance is ~0.08 (22 queries)
        chance = chance_r1(root / "work/smoke/runs" / path.relative_to(root / "work/smoke/metrics").parent
                           / path.stem / "features.npz")
        assert metrics["R1"] >= 3 * chance, (path, metrics["R1"], chance)


def test_smoke_under_snakemake(smoke_run):
    root, _ = smoke_run
    check_results(root)
    again = run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--config", "profile=smoke"], root)
    assert "Nothing to be done" in again


def stages_run(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


def test_dvc_adopts_the_snakemake_run_and_reruns_only_what_changed(smoke_run, tmp_path):
    """DVC takes over the outputs of the shared Snakemake run (`dvc commit` fails on any output or dependency
    its DAG declares and that run did not make; `dvc status` then finds nothing to do: the two DAGs agree on
    them), and after a params change `dvc repro` reruns only that method's cells and what reads them."""
    local, _ = smoke_run
    root = copy_repo(tmp_path / "repo")
    for folder in ("work", "results"):
        shutil.copytree(local / folder, root / folder)
    dvc = [sys.executable, "-m", "dvc"]
    run(dvc + ["init", "--no-scm", "-q"], root)
    run(dvc + ["config", "core.analytics", "false"], root)
    run(["attnreid", "dvc-yaml", "--profile", "smoke", "--out", "dvc.yaml"], root)
    run(dvc + ["commit", "--force"], root)
    assert "Data and pipelines are up to date" in run(dvc + ["status"], root)
    assert not stages_run(run(dvc + ["repro", "--dry"], root))

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["methods"]["baseline-gap"]["train"] = {"lr": 0.02}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    second = stages_run(run(dvc + ["repro"], root))
    trained = {s for s in second if s.startswith("train-")}
    assert trained == {"train-synth-market-baseline-gap-s0", "train-synth-market-baseline-gap-s1"}
    assert {"table-baseline-table1", "report"} <= second
    assert not any(s.startswith(("synthesize", "prepare", "pseudo")) for s in second)
    assert not any("-baseline-s" in s for s in second)
    check_results(root)
    changed = json.loads((root / "work/smoke/metrics/synth-market/baseline-gap/s0.json").read_text())
    adopted = json.loads((local / "work/smoke/metrics/synth-market/baseline-gap/s0.json").read_text())
    assert changed["mAP"] != adopted["mAP"]        # the rerun trained with the new learning rate
