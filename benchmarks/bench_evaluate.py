"""Benchmark: ``evaluate`` (Market-1501 protocol) time and peak memory per backend and scale, on
distances between synthetic clustered features, next to a per-query loop (argsort per row, as
torchreid's python fallback does) at Market scale as a baseline and exactness check.

    PYTHONPATH=src python benchmarks/bench_evaluate.py --out benchmarks/evaluate.json
"""
from __future__ import annotations

import json
import os

import numpy as np

from bench_rerank import SCALES, features, measure, parse_args, spawn

PLAN = [("market", "loop", "numpy"), ("market", "vectorised", "numpy"), ("market", "vectorised", "torch"),
        ("msmt", "vectorised", "numpy")]


def loop_evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    """One query at a time: stable argsort, drop junk and same-id-same-camera, score the rest."""
    cmc, aps, inps = np.zeros(max_rank), [], []
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind="stable")
        keep = (g_pids[order] != -1) & ~((g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i]))
        hits = (g_pids[order] == q_pids[i])[keep]
        if not hits.any():
            continue
        pos = np.flatnonzero(hits) + 1
        cmc[pos[0] - 1:] += 1
        aps.append(np.mean(np.arange(1, len(pos) + 1) / pos))
        inps.append(len(pos) / pos[-1])
    return {"cmc": cmc / len(aps), "mAP": float(np.mean(aps)), "mINP": float(np.mean(inps)),
            "num_valid_queries": len(aps)}


def worker(spec: dict) -> dict:
    import torch

    from attnreid.eval import evaluate, pairwise_distance

    torch.set_num_threads(spec["threads"])
    q, g, ids = SCALES[spec["scale"]]
    qf, gf, q_pids, g_pids = features(q, g, ids, spec["dim"], spec["seed"])
    distmat = pairwise_distance(qf, gf)
    del qf, gf
    rng = np.random.default_rng(spec["seed"] + 1)
    g_pids[rng.random(g) < 0.15] = 0     # Market-like distractors and junk
    g_pids[rng.random(g) < 0.05] = -1
    ids_ = (q_pids, g_pids, rng.integers(0, 6, q), rng.integers(0, 6, g))
    if spec["backend"] == "torch":
        distmat, ids_ = torch.from_numpy(distmat), tuple(torch.from_numpy(x) for x in ids_)
    fn = loop_evaluate if spec["impl"] == "loop" else evaluate
    out, stats = measure(fn, distmat, *ids_)
    return {**spec, "queries": q, "gallery": g, **stats, "mAP": out["mAP"], "mINP": out["mINP"],
            "rank1": float(out["cmc"][0]), "num_valid_queries": out["num_valid_queries"]}


def main() -> None:
    args = parse_args(__doc__, worker)
    if args is None:
        return
    rows = []
    for scale, impl, backend in PLAN:
        rows.append(spawn(__file__, {"scale": scale, "impl": impl, "backend": backend, "dim": args.dim,
                                     "threads": args.threads, "seed": args.seed}, args.max_wait))
        print(json.dumps(rows[-1]), flush=True)
    with open(args.out, "w") as f:
        json.dump({"threads": args.threads, "dim": args.dim, "cpu_count": os.cpu_count(), "results": rows}, f, indent=1)
    for r in rows:
        print(f"{r['scale']:>7} {r['impl']:>10} {r['backend']:>5}  {r['seconds']:8.3f} s  peak {r['peak_rss_gb']:6.2f} GB"
              f"  (+{r['peak_increase_gb']:.2f})  mAP {r['mAP']:.6f}  mINP {r['mINP']:.6f}  R1 {r['rank1']:.4f}")


if __name__ == "__main__":
    main()
