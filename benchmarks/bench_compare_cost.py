"""Cost of each mechanism of compare/table1 at the paper profile's model size, side by side in one run:
parameters and inference FLOPs (engine/cost.py), training img/s of forward + losses + backward + Adam
step and inference img/s of a batch forward in eval mode (no gradients) on random data, the methods'
steps interleaved round-robin so that load from other jobs falls on all of them alike (ratios to the
base are the result, not the absolute speed).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_compare_cost.py --steps 3 --batch 8
"""
from __future__ import annotations

import argparse
import time

import torch

from attnreid import config, models
from attnreid.engine.cost import model_cost
from attnreid.engine.optim import build_optimizer
from attnreid.grid import Cell, Grid
from attnreid.papers import compare
from attnreid.pseudo import coco

CLASSES = 751  # Market-1501's training identities


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=8, help="P x K with K = 4")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = Grid(config.load("params.yaml", "paper"))
    runs = {}
    for _, method in compare.ROWS:
        cfg = g.cell_config(Cell("market1501", method, 0))
        cfg["train"] = {**cfg["train"], "pretrained": "none"}
        torch.manual_seed(0)
        model = models.build(cfg, CLASSES)
        t = cfg["train"]
        cost = model_cost(model, t["height"], t["width"])
        model.train()
        runs[method] = (model, build_optimizer(model, t, False), cost, t)
        print(f"{method}: {cost}", flush=True)
    h, w = next(iter(runs.values()))[3]["height"], next(iter(runs.values()))[3]["width"]
    gen = torch.Generator().manual_seed(0)
    batch = {"img": torch.randn(a.batch, 3, h, w, generator=gen), "pid": torch.arange(a.batch) // 4,
             "mask": torch.rand(a.batch, h, w, generator=gen) > 0.5,
             "keypoints": torch.rand(a.batch, coco.K, 3, generator=gen) * torch.tensor([w, h, 1.0])}

    def train_step(model, opt):
        opt.zero_grad(set_to_none=True)
        sum(model.losses(model(batch["img"]), batch).values()).backward()
        opt.step()

    def inference(model, _):
        model.eval()
        with torch.no_grad():
            model(batch["img"])
        model.train()

    secs = {kind: dict.fromkeys(runs, 0.0) for kind in ("train", "inference")}
    for model, opt, _, _ in runs.values():  # warm-up
        train_step(model, opt)
        inference(model, opt)
    for _ in range(a.steps):
        for method, (model, opt, _, _) in runs.items():
            for kind, fn in (("train", train_step), ("inference", inference)):
                t0 = time.perf_counter()
                fn(model, opt)
                secs[kind][method] += time.perf_counter() - t0
    base = compare.BASE
    speed = {kind: {m: a.batch * a.steps / s for m, s in by_method.items()} for kind, by_method in secs.items()}
    bc = runs[base][2]
    print(f"{h}x{w}, batch {a.batch}, {a.steps} steps, {a.threads} threads, {CLASSES} classes")
    print("| method | params (M) | added (M) | inference params (M) | added at inference (M) | inference GFLOPs (x base) "
          "| inference img/s (x base) | train img/s (x base) |")
    print("|---|---|---|---|---|---|---|---|")
    for method, (_, _, c, _) in runs.items():
        print(f"| {method} | {c['params'] / 1e6:.2f} | {(c['params'] - bc['params']) / 1e6:+.3f} | "
              f"{c['inference_params'] / 1e6:.2f} | {(c['inference_params'] - bc['inference_params']) / 1e6:+.3f} | "
              f"{c['inference_flops'] / 1e9:.2f} (x{c['inference_flops'] / bc['inference_flops']:.2f}) | "
              + " | ".join(f"{speed[k][method]:.2f} (x{speed[k][method] / speed[k][base]:.2f})"
                           for k in ("inference", "train")) + " |")

if __name__ == "__main__":
    main()
