"""The pseudo-label backends report as a DAG target: stages, paths, and the table against ground truth."""
from __future__ import annotations

import copy

import pandas as pd

from attnreid import config
from attnreid.data.datasets import prepare
from attnreid.data.synthreid import SynthConfig, generate
from attnreid.grid import Grid
from attnreid.pseudo import report
from attnreid.pseudo.run import run
from conftest import ROOT

TINY = dict(num_train_ids=4, num_test_ids=4, num_cameras=3, cameras_per_id=[2, 2], images_per_id_camera=[1, 2],
            num_distractors=2, num_junk=2)


def grid_with(datasets, backends=("oracle",), **oracle) -> Grid:
    params = copy.deepcopy(config.load(ROOT / "params.yaml", "smoke"))
    params["pseudo_report"] = {"datasets": list(datasets), "backends": list(backends), "max_images": 12}
    params["pseudo_labels"]["oracle"].update(oracle)
    return Grid(params)


def test_no_compared_dataset_means_no_stage_and_no_target():
    g = grid_with([])
    assert g.pseudo_report_outs() == []
    assert not [s for s in g.stages() if s.name.startswith("pseudo_")
                and s.kind != "pseudo_labels"]


def test_stages_and_targets_follow_params():
    g = grid_with(["synth-market"], backends=["mediapipe"])
    assert g.pseudo_report_pairs() == [("synth-market", "mediapipe"), ("synth-market", "oracle")]
    names = [s.name for s in g.stages()]
    assert "pseudo_compare@synth-market/mediapipe" in names and names[-2] == "pseudo_report"
    assert set(g.pseudo_report_outs()) <= set(g.targets())
    cmd = g.pseudo_compare_stage("synth-market", "mediapipe").cmd
    assert "--backend mediapipe --max-images 12" in cmd


def test_report_compares_with_the_pure_ground_truth(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    g = grid_with(["synth-market"], noise_px=3.0, drop_prob=0.3)
    ds = "synth-market"
    generate(g.raw_root(ds), SynthConfig.from_dict(TINY))
    prepare(ds, g.dataset_cfg(ds), g.raw_root(ds), g.index(ds))
    for d, b in g.pseudo_report_pairs():
        run(d, g.index(d), g.pseudo_compare(d, b), g.params["pseudo_labels"], b, 12)
    report.render(g, g.pseudo_report_outs()[0])
    md, csv, overlay = g.pseudo_report_outs()
    row = pd.read_csv(csv).iloc[0]
    assert (row.dataset, row.labels, row.reference, row.images) == (ds, "oracle", "synthreid", 12)
    assert row.mask_iou == 1.0 and row["pck@0.1"] < 1.0  # the degraded oracle, scored against the truth
    assert "| synth-market | oracle | synthreid (ground truth) | 12 |" in open(md).read()
    assert open(overlay, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
