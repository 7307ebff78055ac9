"""k-reciprocal re-ranking against a plain dense transcription of the classic algorithm's steps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from attnreid.eval import k_reciprocal_rerank, k_reciprocal_rerank_features, pairwise_distance

torch.set_num_threads(2)


def reference_rerank(q_g, q_q, g_g, k1, k2, lam):
    """Zhong et al. 2017 as the classic python code computes it, written with sets and loops."""
    q = len(q_g)
    m = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float32)
    t = (m / m.max(axis=0)).T                       # column maxima, then transpose
    n = len(t)
    nearest = np.argsort(t, axis=1, kind="stable")

    def reciprocal(i, k):                           # R(i, k): of i's k+1 nearest, those that have i in theirs
        return [f for f in nearest[i, :k + 1] if i in nearest[f, :k + 1]]

    v = np.zeros((n, n), np.float32)
    for i in range(n):
        r = set(reciprocal(i, k1))
        expanded = set(r)
        for c in r:
            rc = reciprocal(c, int(np.around(k1 / 2)))
            if len(set(rc) & r) > 2 / 3 * len(rc):
                expanded |= set(rc)
        idx = np.array(sorted(expanded), dtype=np.intp)  # may be empty: i outside its own k1+1
        w = np.exp(-t[i, idx])
        v[i, idx] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[nearest[i, :k2]].mean(axis=0) for i in range(n)])
    jaccard = np.empty((q, n - q), np.float32)
    for i in range(q):
        for j in range(q, n):
            s = np.minimum(v[i], v[j]).sum()
            jaccard[i, j - q] = 1 - s / (2 - s)
    return (1 - lam) * jaccard + lam * t[:q, q:]


def clustered(rng, n, dim=16, ids=None):
    """Features of identity clusters, no two alike (no exactly tied distances)."""
    ids = rng.integers(0, ids or max(2, n // 4), n)
    centres = rng.normal(size=(ids.max() + 1, dim))
    return (centres[ids] + 0.4 * rng.normal(size=(n, dim))).astype(np.float32)


def blocks(qf, gf):
    return tuple(pairwise_distance(a, b).astype(np.float64) for a, b in ((qf, gf), (qf, qf), (gf, gf)))


def assert_same(got, want):
    got = got.cpu().numpy() if isinstance(got, torch.Tensor) else got
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(np.argsort(got, axis=1, kind="stable"), np.argsort(want, axis=1, kind="stable"))


CASES = [  # (Q, G, k1, k2, lambda, chunk)
    (6, 30, 20, 6, 0.3, 1024), (6, 30, 20, 6, 0.3, 4), (9, 41, 5, 3, 0.3, 7), (5, 37, 7, 1, 0.0, 3),
    (4, 50, 3, 2, 1.0, 5), (12, 20, 1, 1, 0.5, 2), (3, 8, 20, 6, 0.3, 1), (2, 60, 12, 30, 0.3, 16),
]


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("q, g, k1, k2, lam, chunk", CASES)
def test_matches_reference(seed, q, g, k1, k2, lam, chunk):
    rng = np.random.default_rng(seed)
    q_g, q_q, g_g = blocks(clustered(rng, q), clustered(rng, g))
    want = reference_rerank(q_g, q_q, g_g, k1, k2, lam)
    assert_same(k_reciprocal_rerank(q_g, q_q, g_g, k1, k2, lam, chunk=chunk), want)
    tensors = [torch.from_numpy(x).float() for x in (q_g, q_q, g_g)]
    got = k_reciprocal_rerank(*tensors, k1, k2, lam, chunk=chunk)
    assert isinstance(got, torch.Tensor) and got.device == tensors[0].device
    assert_same(got, want)


@pytest.mark.parametrize("k2", [1, 3])
def test_asymmetric_blocks_follow_the_column_convention(k2):
    # the classic normalises columns of the stacked matrix and transposes: non-symmetric input shows
    # it; a non-zero diagonal puts other items before an item itself, which k2 = 1 must respect
    rng = np.random.default_rng(7)
    q_g, q_q, g_g = rng.random((5, 23)) + 0.1, rng.random((5, 5)) + 0.1, rng.random((23, 23)) + 0.1
    assert_same(k_reciprocal_rerank(q_g, q_q, g_g, 6, k2, 0.3, chunk=4), reference_rerank(q_g, q_q, g_g, 6, k2, 0.3))


def test_near_ties():
    # distances on a coarse grid plus tiny distinct offsets: neighbour order decided by 1e-5 gaps
    rng = np.random.default_rng(3)
    q, g = 6, 40
    m = np.round(rng.random((q + g, q + g)) * 4) / 4 + 1
    m = m + m.T + rng.permutation((q + g) ** 2).reshape(q + g, q + g) * 1e-5
    np.fill_diagonal(m, 0)
    q_g, q_q, g_g = m[:q, q:], m[:q, :q], m[q:, q:]
    assert_same(k_reciprocal_rerank(q_g, q_q, g_g, 8, 4, 0.3, chunk=5), reference_rerank(q_g, q_q, g_g, 8, 4, 0.3))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("chunk", [3, 1024])
def test_features_equal_matrices(metric, chunk):
    rng = np.random.default_rng(11)
    qf, gf = clustered(rng, 14, 32), clustered(rng, 70, 32)
    dists = [pairwise_distance(a, b, metric) for a, b in ((qf, gf), (qf, qf), (gf, gf))]
    want = k_reciprocal_rerank(*dists, 10, 4, 0.3)
    assert_same(k_reciprocal_rerank_features(qf, gf, 10, 4, 0.3, metric=metric, chunk=chunk), want)
    got = k_reciprocal_rerank_features(torch.from_numpy(qf), torch.from_numpy(gf), 10, 4, 0.3, metric, chunk)
    assert isinstance(got, torch.Tensor)
    assert_same(got, want)


def test_pairwise_distance():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(9, 5))
    np.testing.assert_allclose(pairwise_distance(x, y, chunk=3), ((x[:, None] - y[None]) ** 2).sum(-1), atol=1e-12)
    cos = 1 - (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (y / np.linalg.norm(y, axis=1, keepdims=True)).T
    np.testing.assert_allclose(pairwise_distance(torch.from_numpy(x), torch.from_numpy(y), "cosine").numpy(), cos,
                               atol=1e-12)
    with pytest.raises(ValueError, match="metric"):
        pairwise_distance(x, y, "manhattan")


@pytest.mark.parametrize("bad, message", [
    (dict(q_q_dist=np.zeros((3, 3))), "q_q_dist"),
    (dict(g_g_dist=np.zeros((4, 5))), "g_g_dist"),
    (dict(q_g_dist=np.zeros(5)), "q_g_dist"),
    (dict(g_g_dist=np.full((5, 5), np.nan)), "g_g_dist contains NaN"),
    (dict(k2=0), "k2"),
])
def test_bad_input(bad, message):
    args = dict(q_g_dist=np.ones((2, 5)), q_q_dist=np.ones((2, 2)), g_g_dist=np.ones((5, 5))) | bad
    with pytest.raises(ValueError, match=message):
        k_reciprocal_rerank(**args)
    with pytest.raises(ValueError, match="g_feat"):
        k_reciprocal_rerank_features(np.ones((2, 4)), np.ones((3, 5)))


def test_block_rows_cross_copy_tiles():
    from attnreid.eval.rerank import _BlockSource

    rng = np.random.default_rng(2)
    q_g, q_q, g_g = rng.random((4, 9)), rng.random((4, 4)), rng.random((9, 9))
    stacked = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float32)
    src = _BlockSource(q_g, q_q, g_g)
    for s, e in ((0, 3), (3, 4), (4, 11), (11, 13)):
        got = src.rows(s, e, torch.empty(e - s, 13), tile=2)
        np.testing.assert_array_equal(got.numpy(), stacked[:, s:e].T)
