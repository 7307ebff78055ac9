"""Benchmark: k-reciprocal re-ranking, this package vs a straightforward transcription of the classic
loop algorithm, time and peak memory per backend and scale, on synthetic clustered features.

Each measurement runs in its own subprocess: it builds its inputs, resets the kernel's peak-RSS
mark (``/proc/self/clear_refs``), times the call, and reports ``VmHWM`` (peak resident memory of the
whole process during the call, inputs included) and the resident memory just before the call.

    PYTHONPATH=src python benchmarks/bench_rerank.py --plan market --out benchmarks/rerank_market.json
    PYTHONPATH=src python benchmarks/bench_rerank.py --plan msmt --out benchmarks/rerank_msmt.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SCALES = {  # name: (queries, gallery, identities)
    "common": (1000, 4500, 224),
    "market": (3368, 15913, 751),
    "msmt/4": (11659 // 4, 82161 // 4, 3060 // 4),  # a quarter of each: a sixteenth of the pairs
    "msmt": (11659, 82161, 3060),
}
PLANS = {
    "market": [("common", "classic", "numpy"), ("common", "blocks", "numpy"), ("common", "blocks", "torch"),
               ("common", "features", "numpy"), ("market", "classic", "numpy"), ("market", "blocks", "numpy"),
               ("market", "blocks", "torch"), ("market", "features", "numpy"), ("market", "features", "torch")],
    "msmt": [("msmt/4", "features", "torch"), ("msmt", "features", "torch")],
}


def classic_rerank(q_g, q_q, g_g, k1=20, k2=6, lambda_value=0.3):
    """The classic dense loop algorithm (re_ranking.py), step for step, minus its first np.power:
    like :func:`attnreid.eval.k_reciprocal_rerank` it takes the distances as given."""
    q = q_g.shape[0]
    dist = np.concatenate([np.concatenate([q_q, q_g], 1), np.concatenate([q_g.T, g_g], 1)], 0).astype(np.float32)
    dist = np.transpose(dist / np.max(dist, axis=0))
    n = dist.shape[0]
    v = np.zeros_like(dist)
    nearest = np.argsort(dist).astype(np.int32)
    half = int(np.around(k1 / 2.0))
    for i in range(n):
        forward = nearest[i, :k1 + 1]
        recip = forward[np.where(nearest[forward, :k1 + 1] == i)[0]]
        expanded = recip
        for cand in recip:
            c_forward = nearest[cand, :half + 1]
            c_recip = c_forward[np.where(nearest[c_forward, :half + 1] == cand)[0]]
            if len(np.intersect1d(c_recip, recip)) > 2.0 / 3 * len(c_recip):
                expanded = np.append(expanded, c_recip)
        expanded = np.unique(expanded)
        weight = np.exp(-dist[i, expanded])
        v[i, expanded] = weight / np.sum(weight)
    dist = dist[:q]
    if k2 != 1:
        v_qe = np.zeros_like(v)
        for i in range(n):
            v_qe[i] = np.mean(v[nearest[i, :k2]], axis=0)
        v = v_qe
        del v_qe
    del nearest
    inverted = [np.where(v[:, m] != 0)[0] for m in range(n)]
    jaccard = np.zeros_like(dist)
    for i in range(q):
        common = np.zeros((1, n), dtype=np.float32)
        nonzero = np.where(v[i] != 0)[0]
        for m in nonzero:
            common[0, inverted[m]] += np.minimum(v[i, m], v[inverted[m], m])
        jaccard[i] = 1 - common / (2.0 - common)
    return (jaccard * (1 - lambda_value) + dist * lambda_value)[:, q:]


def features(q: int, g: int, ids: int, dim: int, seed: int) -> tuple[np.ndarray, ...]:
    """Query and gallery features of identity clusters (centre + noise, L2-normalised, float32, built
    in slices to keep RSS low), then their identities 1..ids."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((ids, dim), dtype=np.float32)
    pids = [rng.integers(0, ids, n) for n in (q, g)]
    feats = [np.empty((n, dim), np.float32) for n in (q, g)]
    for x, p in zip(feats, pids):
        for s in range(0, len(x), 8192):
            x[s:s + 8192] = centres[p[s:s + 8192]] + rng.standard_normal((len(p[s:s + 8192]), dim), dtype=np.float32)
            x[s:s + 8192] /= np.linalg.norm(x[s:s + 8192], axis=1, keepdims=True)
    return feats[0], feats[1], pids[0] + 1, pids[1] + 1


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def measure(fn, *args) -> tuple[object, dict]:
    """Call ``fn(*args)``: its result, and wall and CPU seconds, peak RSS during the call and RSS
    before it (GB), and the machine's 1-minute load average before it (other users' work shows
    there, and as wall time well above CPU time / threads)."""
    before, load = _rss_kb("VmRSS"), os.getloadavg()[0]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS mark to the current RSS
    cpu, start = time.process_time(), time.perf_counter()
    out = fn(*args)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _rss_kb("VmHWM")
    return out, {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "load_before": load,
                 "peak_rss_gb": round(peak / 2 ** 20, 3), "rss_before_gb": round(before / 2 ** 20, 3),
                 "peak_increase_gb": round((peak - before) / 2 ** 20, 3)}


def busy_share(seconds: float = 1.0) -> float:
    """Share of all CPU time that was not idle over the next ``seconds`` (from /proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, total
    (i0, t0), _, (i1, t1) = sample(), time.sleep(seconds), sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def spawn(script: str, spec: dict, max_wait: float = 120) -> dict:
    """Run ``script --worker spec`` in a fresh interpreter once the machine is quiet (other users'
    jobs share its 2 cores: waits up to ``max_wait`` s for < 10 % busy); its result, with the
    busy share seen just before."""
    deadline = time.monotonic() + max_wait
    while (busy := busy_share()) >= 0.1 and time.monotonic() < deadline:
        time.sleep(5)
    res = subprocess.run([sys.executable, script, "--out", "-", "--worker", json.dumps(spec)],
                         capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"{spec} failed:\n{res.stderr}")
    return {**json.loads(res.stdout.splitlines()[-1]), "machine_busy_before": round(busy, 2)}


def worker(spec: dict) -> dict:
    import torch

    from attnreid.eval import k_reciprocal_rerank, k_reciprocal_rerank_features, pairwise_distance

    torch.set_num_threads(spec["threads"])
    q, g, ids = SCALES[spec["scale"]]
    qf, gf, _, _ = features(q, g, ids, spec["dim"], spec["seed"])
    wrap = torch.from_numpy if spec["backend"] == "torch" else (lambda x: x)
    if spec["impl"] == "features":
        args, fn = (wrap(qf), wrap(gf)), k_reciprocal_rerank_features
    else:
        args = tuple(wrap(pairwise_distance(a, b)) for a, b in ((qf, gf), (qf, qf), (gf, gf)))
        fn = classic_rerank if spec["impl"] == "classic" else k_reciprocal_rerank
        del qf, gf
    out, stats = measure(fn, *args)
    if spec.get("save"):
        np.save(spec["save"], np.asarray(out))
    return {**spec, "queries": q, "gallery": g, **stats}


def agreement(mine: np.ndarray, ref: np.ndarray) -> dict:
    """Max |difference|; share of rows whose full ranking is identical; and the largest inversion:
    how far ``mine``, read in ``ref``'s order, ever drops below an earlier value (rows differ only
    where two distances are closer than that — float32 rounding of a differently ordered sum)."""
    order = np.argsort(ref, axis=1, kind="stable")
    seen = np.take_along_axis(mine, order, 1)
    same = np.mean([np.array_equal(o, np.argsort(x, kind="stable")) for o, x in zip(order, mine)])
    return {"max_abs_diff": float(np.abs(mine - ref).max()), "rows_with_identical_ranking": float(same),
            "max_inversion": float((np.maximum.accumulate(seen, axis=1) - seen).max())}


def parse_args(doc: str, worker_fn, extra=lambda ap: None):
    """The options both benchmarks share; in `--worker` mode run one measurement, print it, return None."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    extra(ap)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-wait", type=float, default=120, help="seconds to wait for a quiet machine per run")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker_fn(json.loads(args.worker))))
        return None
    return args


def main() -> None:
    args = parse_args(__doc__, worker, lambda ap: ap.add_argument("--plan", choices=PLANS, default="market"))
    if args is None:
        return
    rows, saved, plan = [], {}, PLANS[args.plan]
    with tempfile.TemporaryDirectory() as tmp:
        for scale, impl, backend in plan:
            compare = (scale, "classic", "numpy") in plan  # keep outputs where the classic ran too
            path = os.path.join(tmp, f"{len(rows)}.npy") if compare else None
            spec = {"scale": scale, "impl": impl, "backend": backend, "dim": args.dim, "threads": args.threads,
                    "seed": args.seed, "save": path}
            row = spawn(__file__, spec, args.max_wait)
            row.pop("save")
            if compare:
                saved[scale, impl, backend] = path
                if impl != "classic":
                    classic = next(r for r in rows if r["scale"] == scale and r["impl"] == "classic")
                    row["speedup_vs_classic"] = round(classic["seconds"] / row["seconds"], 1)
                    row.update(agreement(np.load(path), np.load(saved[scale, "classic", "numpy"])))
            rows.append(row)
            print(json.dumps(row), flush=True)
            with open(args.out, "w") as f:  # after every run, so that a cut-short plan keeps its results
                json.dump({"threads": args.threads, "dim": args.dim, "cpu_count": os.cpu_count(), "results": rows},
                          f, indent=1)
    for r in rows:
        print(f"{r['scale']:>7} {r['impl']:>8} {r['backend']:>5}  {r['seconds']:9.2f} s  peak {r['peak_rss_gb']:6.2f} GB"
              f"  (+{r['peak_increase_gb']:.2f})  x{r.get('speedup_vs_classic', '-')}")


if __name__ == "__main__":
    main()
