"""End to end on the smoke profile under Snakemake, in a temporary copy (the DVC route on the same run:
test_dvc_remote.py)."""
import json
import sys

import numpy as np
import pytest

from conftest import run

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
