"""Two cells' train + extract + evaluate jobs, as the DAG runs them (`attnreid` subprocesses), on 2 cores:
(A) one job at a time with 2 torch threads each (the local profile's old setting), against
(B) the two cells' chains side by side with 1 thread each (what `resources.*.threads: 1` lets Snakemake do).

Arms alternate (A B A B ...) so that a change in the machine's load hits both. Prints, per arm and
round, the wall time and the CPU seconds of the jobs (user + sys, from the children's rusage), and
the ratio A / B of the wall times. Every job of a round starts from the same prepared index and writes
into a scratch folder. Usage (after synthesize + prepare of the default profile's synth-market):

    PYTHONPATH=src .venv/bin/python benchmarks/bench_job_threads.py --rounds 2 --epochs 1
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def chain(params: Path, index: str, cell: str, out: Path, threads: int) -> list[list[str]]:
    base = [sys.executable, "-m", "attnreid.cli"]
    common = ["--params", str(params), "--profile", "default", "--cell", cell]
    d = out / cell
    return [base + ["train", *common, "--index", index, "--pseudo", str(out / "pseudo"), "--out", str(d / "model.pt"),
                    "--live", str(d / "live"), "--threads", str(threads)],
            base + ["extract", *common, "--index", index, "--checkpoint", str(d / "model.pt"),
                    "--out", str(d / "features.npz"), "--threads", str(threads)],
            base + ["evaluate", *common, "--features", str(d / "features.npz"), "--out", str(d / "metrics.json")]]


def run_chain(cmds: list[list[str]]) -> None:
    for cmd in cmds:
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--cells", nargs=2, default=["synth-market/baseline/s0", "synth-market/pfsa-t2-ds-sa2/s0"])
    ap.add_argument("--index", default="work/default/prepared/synth-market/index.csv")
    ap.add_argument("--out", default=None, help="JSON file for the numbers")
    a = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profiles"]["default"]["cell_override"].update(epochs=a.epochs, milestones=[a.epochs])
    (scratch / "params.yaml").write_text(yaml.safe_dump(params))
    (scratch / "pseudo").mkdir()  # the baseline/PFSA models read no pseudo-labels
    rows = []
    try:
        for r in range(a.rounds):
            for arm, threads in (("A: one job at a time, 2 threads", 2), ("B: two chains side by side, 1 thread", 1)):
                out = scratch / f"r{r}-{threads}"
                out.mkdir()
                (out / "pseudo").mkdir()
                chains = [chain(scratch / "params.yaml", a.index, c, out, threads) for c in a.cells]
                c0, t0 = cpu(), time.perf_counter()
                if threads == 2:
                    for ch in chains:
                        run_chain(ch)
                else:
                    with ThreadPoolExecutor(2) as pool:
                        list(pool.map(run_chain, chains))
                rows.append({"round": r, "arm": arm, "wall_s": round(time.perf_counter() - t0, 1),
                             "cpu_s": round(cpu() - c0, 1), "load1": os.getloadavg()[0]})
                print(json.dumps(rows[-1]), flush=True)
                if a.out:  # after every arm: a stopped run keeps what it measured
                    Path(a.out).write_text(json.dumps({"cells": a.cells, "epochs": a.epochs, "rows": rows}, indent=1) + "\n")
                shutil.rmtree(out)
    finally:
        shutil.rmtree(scratch)
    for r in range(a.rounds):
        wa, wb = (x["wall_s"] for x in rows if x["round"] == r)
        print(f"round {r}: wall A / B = {wa / wb:.2f}")


if __name__ == "__main__":
    main()
