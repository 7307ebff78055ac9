"""evaluate / evaluate_partial / evaluate_multi_query against a plain per-query loop and hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from attnreid.eval import evaluate, evaluate_multi_query, evaluate_partial


def reference_evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """Market-1501 protocol, one query at a time, in the plainest form."""
    cmcs, aps, inps = [], [], []
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind="stable")
        kept = [g for g in order
                if g_pids[g] != -1 and not (g_pids[g] == q_pids[i] and g_camids[g] == q_camids[i])]
        positions = [p + 1 for p, g in enumerate(kept) if g_pids[g] == q_pids[i]]
        if not positions:
            continue
        cmcs.append([float(positions[0] <= r + 1) for r in range(max_rank)])
        aps.append(np.mean([k / p for k, p in enumerate(positions, 1)]))
        inps.append(len(positions) / positions[-1])
    return (np.mean(cmcs, axis=0), np.mean(aps), np.mean(inps), len(aps)) if aps else None


def random_case(rng, nq, ng, ties):
    n_ids, n_cams = max(2, nq // 2), 3
    q_pids = rng.integers(1, n_ids + 1, nq)
    g_pids = rng.integers(-1, n_ids + 1, ng)            # -1 junk and 0 distractors included
    q_camids, g_camids = rng.integers(0, n_cams, nq), rng.integers(0, n_cams, ng)
    # query 0's only true matches share its camera: it must be skipped
    g_pids[g_pids == q_pids[0]] = 0
    g_pids[:2], g_camids[:2] = q_pids[0], q_camids[0]
    distmat = rng.random((nq, ng)) * 4 - 1                 # negative values too
    distmat[g_pids[None, :] == q_pids[:, None]] -= 0.5     # true matches a little closer
    if ties == "exact":
        distmat = np.round(distmat * 4) / 4
    elif ties == "near":
        distmat = np.round(distmat * 4) / 4 + rng.integers(-2, 3, distmat.shape) * 1e-12
    return distmat, q_pids, g_pids, q_camids, g_camids


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ties", ["none", "near", "exact"])
def test_evaluate_matches_reference(seed, ties):
    rng = np.random.default_rng(seed)
    nq, ng = int(rng.integers(1, 30)), int(rng.integers(2, 120))
    case = random_case(rng, nq, ng, ties)
    assert (case[2][:2] == case[1][0]).all()   # query 0's identity is always in the gallery (random_case)
    max_rank = int(rng.integers(1, 10))
    want = reference_evaluate(*case, max_rank)
    if want is None:  # every query skipped
        with pytest.raises(ValueError, match="no query"):
            evaluate(*case, max_rank=max_rank)
        return
    cmc, m_ap, m_inp, n = want
    for chunk in (1, 3, 32):
        out = evaluate(*case, max_rank=max_rank, chunk=chunk)
        np.testing.assert_allclose(out["cmc"], cmc, rtol=0, atol=1e-12)
        assert out["mAP"] == pytest.approx(m_ap, abs=1e-12)
        assert out["mINP"] == pytest.approx(m_inp, abs=1e-12)
        assert out["num_valid_queries"] == n


def test_evaluate_accepts_tensors_and_float32():
    rng = np.random.default_rng(5)
    distmat, *ids = random_case(rng, 20, 300, "none")
    want = evaluate(distmat.astype(np.float32), *ids)
    got = evaluate(torch.from_numpy(distmat.astype(np.float32)), *(torch.from_numpy(x) for x in ids))
    np.testing.assert_array_equal(got["cmc"], want["cmc"])
    assert got["mAP"] == want["mAP"] and got["mINP"] == want["mINP"]


def test_evaluate_hand_case():
    # query 0 (pid 1, cam 0), sorted gallery: junk g3, same-cam g0 (both removed), then g1, g2*, g4, g5*
    # → matches at ranks 2 and 4: AP = (1/2 + 2/4) / 2, INP = 2 / 4.
    # query 1's only match g1 shares its camera and query 2's id is absent: both skipped.
    distmat = np.array([[0.1, 0.2, 0.3, 0.05, 0.4, 0.6],
                        [0.9, 0.1, 0.5, 0.3, 0.2, 0.4],
                        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    g_pids, g_camids = np.array([1, 2, 1, -1, 0, 1]), np.array([0, 1, 1, 1, 1, 2])
    q_pids, q_camids = np.array([1, 2, 3]), np.array([0, 1, 0])
    with pytest.warns(UserWarning, match="max_rank 6 exceeds the gallery size 5"):
        out = evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=6)
    np.testing.assert_array_equal(out["cmc"], [0, 1, 1, 1, 1, 1])
    assert (out["mAP"], out["mINP"], out["num_valid_queries"]) == (0.5, 0.5, 1)


@pytest.mark.parametrize("bad, message", [
    (dict(q_pids=np.arange(4)), "q_pids"),
    (dict(g_camids=np.zeros(3)), "g_camids"),
    (dict(distmat=np.full((3, 6), np.nan)), "NaN"),
    (dict(distmat=np.zeros(6)), "distmat"),
])
def test_evaluate_bad_input(bad, message):
    args = dict(distmat=np.zeros((3, 6)), q_pids=np.arange(3), g_pids=np.arange(6),
                q_camids=np.zeros(3), g_camids=np.ones(6)) | bad
    with pytest.raises(ValueError, match=message):
        evaluate(**args)


def test_evaluate_no_valid_query():
    with pytest.raises(ValueError, match="no query"):
        evaluate(np.zeros((2, 2)), np.array([1, 2]), np.array([1, 2]), np.zeros(2), np.zeros(2))


def test_partial_hand_case():
    # true matches rank 2, 1 and 3; cameras play no part
    distmat = np.array([[0.5, 0.1, 0.9], [0.3, 0.2, 0.4], [0.1, 0.2, 0.3]])
    out = evaluate_partial(distmat, np.array([1, 2, 3]), np.array([1, 2, 3]))
    np.testing.assert_allclose(out["cmc"], [1 / 3, 2 / 3, 1])
    assert (out["R1"], out["R3"], out["num_valid_queries"]) == (pytest.approx(1 / 3), 1.0, 3)
    # single-shot already: trials change nothing
    again = evaluate_partial(distmat, np.array([1, 2, 3]), np.array([1, 2, 3]), trials=4, seed=1)
    np.testing.assert_allclose(again["cmc"], out["cmc"])


def test_partial_trials_draw_one_image_per_identity():
    # gallery g0, g1 of id 1 and g2, g3 of id 2. q0 is first iff g0 is drawn, q1 iff g3 is drawn:
    # each trial's R1 is 0, 1/2 or 1 with mean 1/2, and with two identities R2 is always 1.
    distmat = np.array([[0.1, 0.9, 0.5, 0.6], [0.2, 0.3, 0.8, 0.1]])
    q_pids, g_pids = np.array([1, 2]), np.array([1, 1, 2, 2])
    out = evaluate_partial(distmat, q_pids, g_pids, ranks=(1, 2), trials=2000, seed=0)
    assert len(out["cmc"]) == 2 and out["R2"] == 1.0
    assert out["R1"] == pytest.approx(0.5, abs=0.05) and (out["R1"] * 4000) % 1 == pytest.approx(0)
    assert evaluate_partial(distmat, q_pids, g_pids, (1, 2), trials=2000, seed=0)["R1"] == out["R1"]  # seeded
    one = evaluate_partial(distmat, q_pids, g_pids, ranks=(1, 2), trials=1, seed=3)["R1"]
    assert one in (0.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="ranks"):
        evaluate_partial(distmat, q_pids, g_pids, ranks=(5,))


MQ = dict(q_feats=np.array([[0, 0], [2, 0], [10, 10]], np.float32), q_pids=np.array([1, 1, 2]),
          q_camids=np.array([0, 0, 1]), g_feats=np.array([[1, 0], [10, 10], [2.2, 0]], np.float32),
          g_pids=np.array([1, 2, 3]), g_camids=np.array([1, 0, 1]))


def test_multi_query_hand_case():
    # group (1, cam 0) pools [0,0] and [2,0]: avg [1,0] sits on its match g0; max [2,0] is nearer
    # to g2 (id 3) than to g0, so its match comes second. Group (2, cam 1) matches g1 exactly.
    avg = evaluate_multi_query(**MQ, pool="avg", max_rank=3)
    assert (avg["mAP"], avg["cmc"][0], avg["num_valid_queries"]) == (1.0, 1.0, 2)
    mx = evaluate_multi_query(**MQ, pool="max", max_rank=3)
    assert (mx["mAP"], mx["cmc"][0]) == (0.75, 0.5)
    # one probe per original query image: (1, cam 0) twice and (2, cam 1) once
    probes = evaluate_multi_query(**MQ, pool="max", max_rank=3, probe_pids=[1, 1, 2], probe_camids=[0, 0, 1])
    assert probes["mAP"] == pytest.approx(2 / 3) and probes["num_valid_queries"] == 3
    cos = evaluate_multi_query(**{k: torch.as_tensor(v) for k, v in MQ.items()}, metric="cosine", max_rank=3)
    assert cos["num_valid_queries"] == 2


def test_multi_query_bad_input():
    with pytest.raises(ValueError, match="probe_pids"):
        evaluate_multi_query(**MQ, max_rank=3, probe_pids=[5], probe_camids=[0])
    with pytest.raises(ValueError, match="pool"):
        evaluate_multi_query(**MQ, pool="median", max_rank=3)
    with pytest.raises(ValueError, match="q_camids"):
        evaluate_multi_query(**MQ | dict(q_camids=np.zeros(2)), max_rank=3)
