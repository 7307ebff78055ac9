"""The claims ledger: claims parse from the paper modules and name buildable methods and datasets,
the paired-by-seed verdicts on hand-made metrics, and claims.md from hand-made metrics files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from attnreid import papers
from attnreid.report import claims as ledger
from conftest import params_grid

PAPERS = ("pfsa", "camguided", "sag", "daaf")


def test_claims_parse_from_every_paper_module_with_the_papers_effect():
    assert {c.id.split("/")[0] for c in papers.CLAIMS.values()} == set(PAPERS)
    for claim in papers.CLAIMS.values():
        assert claim.statement and claim.source and claim.comparisons
        for comp, ds, metric in ledger.comparisons(claim):
            for arm in (comp.better, comp.worse):  # every arm is a row of the claim's tables
                assert any((r.method, r.rerank, r.query) == (arm.method, arm.rerank, arm.query)
                           for t in claim.tables for r in papers.table(t).rows), (claim.id, arm)
            effect = ledger.score(claim, lambda *a: None, [0])[0]
            # the paper's own numbers lie on the claim's side in every declared comparison
            assert all(r["paper_effect"] is not None and r["paper_effect"] > 0 for r in effect), claim.id


@pytest.mark.parametrize("profile", ["synthetic", "paper"])
def test_every_claim_names_methods_and_datasets_the_profile_builds(profile):
    g = params_grid(profile)
    assert [c.id for c in ledger.evaluable(g)] == list(papers.CLAIMS)


def test_default_profile_claims_read_only_cells_it_already_evaluates():
    g = params_grid("default")
    stage = g.claims_stage()
    evaluated = {g.metrics(*p) for t in g.params["tables"] for p in g.table_tests(t)}
    assert stage.deps and set(stage.deps) <= evaluated
    assert {c.id.split("/")[0] for c in ledger.evaluable(g)} == {"pfsa"}
    assert set(g.claims_outs()) <= set(g.targets())


@pytest.mark.parametrize("better, worse, verdict", [
    ([60.0, 62.0, 61.0], [50.0, 51.0, 52.0], "supported"),      # +10, +11, +9
    ([50.0, 51.0, 49.0], [60.0, 62.0, 61.0], "contradicted"),
    ([55.0, 50.0, 52.0], [50.0, 55.0, 52.0], "inconclusive"),    # +5, -5, 0: spans zero
    ([70.0, None], [50.0, 55.0], "inconclusive"),                # one paired seed
    ([70.0, 71.0], [50.0, None], "inconclusive"),
])
def test_paired_verdicts_on_hand_made_metrics(better, worse, verdict):
    eff = ledger.paired_effect(better, worse)
    assert eff.verdict == verdict
    if eff.n >= 2:
        assert eff.lo < eff.mean < eff.hi


def test_pairing_is_by_seed_not_by_pooled_means():
    # seed 1 is harder for both arms: pooled the spreads overlap, paired every seed gains exactly 1 point
    eff = ledger.paired_effect([41.0, 21.0, 61.0], [40.0, 20.0, 60.0])
    assert eff.verdict == "supported" and eff.mean == pytest.approx(1.0) and eff.std == pytest.approx(0.0)
    assert ledger.paired_effect([41.0], [40.0]).verdict == "inconclusive"  # fewer than 2 seeds


def test_claim_holds_only_when_every_comparison_does():
    claim = papers.CLAIMS["pfsa/sa-full"]
    up = lambda arm, ds, m, s: 60.0 + s + (2.0 + 0.1 * s if arm.method == "pfsa-full" else 0.0)  # noqa: E731
    assert ledger.score(claim, up, [0, 1, 2])[1] == "supported"
    down_on_duke = lambda arm, ds, m, s: up(arm, ds, m, s) - (4.0 if ds == "dukemtmc" and arm.method == "pfsa-full" else 0)  # noqa: E731
    rows, verdict = ledger.score(claim, down_on_duke, [0, 1, 2])
    assert verdict == "contradicted" and {r["dataset"] for r in rows if r["verdict"] == "contradicted"} == {"dukemtmc"}
    assert ledger.score(claim, up, [0])[1] == "inconclusive"


def test_claims_md_from_hand_made_metrics_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    g = params_grid("default")
    for path in g.claims_stage().deps:  # SA models 5 points over the others, every seed
        cell = path.split("metrics/")[1]
        method = cell.split("/")[1]
        gain = 5.0 if method == "pfsa-full" or any(t.startswith("sa") for t in method.split("-")[2:]) else 0.0
        seed = int(cell.split("/s")[-1].split(".")[0])
        m = {"R1": 0.5 + (gain + seed) / 100, "mAP": 0.3 + (gain + seed) / 100}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({**m, "rerank": {k: v + 0.02 for k, v in m.items()},
                                          "train": {"pretrained": "none"}}))
    out = tmp_path / "results" / "claims.md"
    ledger.render(g, str(out))
    md = out.read_text()
    block = md.split("## `pfsa/sa-full`")[1].split("## ")[0]
    assert "**Verdict: supported**" in block and "synthetic stand-ins" in block and "from scratch" in block
    assert "not a reproduction" in block
    assert "**Verdict: inconclusive**" in md.split("## `pfsa/deep-supervision`")[1]  # no gain: interval [0, 0]
    assert "`sag/deeper-is-better`" in md.split("Not built in this profile")[1]
    csv = (tmp_path / "results" / "claims.csv").read_text().splitlines()
    assert csv[0].startswith("claim,claim_verdict") and len(csv) > 1
