"""What `train.deterministic` costs on the CPU, and which part of it: one training step of a cell
(default: the default profile's baseline, ResNet-18 at 64x32, batch 32, random data), side by side
in one run, rounds interleaved: deterministic algorithms off; on with torch's NaN-filling of
uninitialised memory (torch.utils.deterministic.fill_uninitialized_memory, torch's default); on
without it (what engine/runtime.setup sets). Prints ms/step and ratios; --profile adds the ops whose
self time differs most between the two deterministic settings (torch.profiler).

    python benchmarks/bench_deterministic.py [--threads 1] [--steps 10] [--rounds 3] [--profile]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from attnreid import config, models  # noqa: E402
from attnreid.engine.optim import build_optimizer  # noqa: E402
from attnreid.grid import Cell, Grid  # noqa: E402

MODES = {"nondeterministic": (False, False), "deterministic, NaN-fill (torch default)": (True, True),
         "deterministic, no fill (attnreid)": (True, False)}


def set_mode(det: bool, fill: bool) -> None:
    torch.use_deterministic_algorithms(det)
    torch.utils.deterministic.fill_uninitialized_memory = fill


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile-name", default="default", help="params.yaml profile")
    ap.add_argument("--method", default="baseline")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "deterministic.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    grid = Grid(config.load(ROOT / "params.yaml", args.profile_name))
    cfg = grid.cell_config(Cell(grid.stand_in("market1501"), args.method, 0))
    t = cfg["train"]
    torch.manual_seed(0)
    model = models.build(cfg, 60).train()
    opt = build_optimizer(model, t, False)
    x, y = torch.randn(args.batch, 3, t["height"], t["width"]), torch.randint(0, 60, (args.batch,))

    def step():
        loss = sum(model.losses(model(x), {"pid": y}).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times = {m: [] for m in MODES}
    for _ in range(args.rounds):
        for name, mode in MODES.items():
            set_mode(*mode)
            step()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append(1000 * (time.perf_counter() - t0) / args.steps)
    base = statistics.median(times["nondeterministic"])
    print(f"{args.method} {t['backbone']} {t['height']}x{t['width']} batch {args.batch}, {args.threads} thread(s):")
    for name, ts in times.items():
        print(f"  {name:40s} {statistics.median(ts):8.1f} ms/step  x{base / statistics.median(ts):.2f} of nondeterministic")
    result = {"cell": cfg["cell"], "batch": args.batch, "threads": args.threads,
              "ms_per_step": {k: statistics.median(v) for k, v in times.items()}, "runs": times}
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        self_ms = {}
        for fill in (True, False):
            set_mode(True, fill)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(args.steps):
                    step()
            self_ms[fill] = {e.key: e.self_cpu_time_total / 1000 / args.steps for e in prof.key_averages()}
        keys = set(self_ms[True]) | set(self_ms[False])
        top = sorted(keys, key=lambda k: self_ms[False].get(k, 0) - self_ms[True].get(k, 0))[:5]
        print("  ops with the largest self-time difference (ms/step, NaN-fill vs no fill):")
        for k in top:
            print(f"    {k:32s} {self_ms[True].get(k, 0):7.2f} vs {self_ms[False].get(k, 0):7.2f}")
        result["profile_top"] = {k: [self_ms[True].get(k, 0), self_ms[False].get(k, 0)] for k in top}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
