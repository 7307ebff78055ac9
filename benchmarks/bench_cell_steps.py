"""A few training steps of one cell with its full recipe (no profile budget): proves the path at a
paper's input size and prints img/s. Data: any prepared index (e.g. the smoke profile's synthreid).

    .venv/bin/python benchmarks/bench_cell_steps.py --method pfsa-full --steps 3 \
        --index work/smoke/prepared/synth-market/index.csv --pseudo work/smoke/pseudo/synth-market
`--ids-per-batch` shrinks a P x K batch (recorded in the output as `batch`). Prints one JSON line: method, input size, batch, backbone, device, loss terms of each step, img/s.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from attnreid import config
from attnreid.engine import runtime
from attnreid.engine.optim import build_optimizer
from attnreid.engine.train import build_model, train_data
from attnreid.grid import Cell, Grid

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", required=True)
    ap.add_argument("--profile", default="paper", help="whose recipe (paper: the papers' hyperparameters)")
    ap.add_argument("--dataset", default=None, help="dataset name the cell is for (default: the Market stand-in)")
    ap.add_argument("--index", required=True)
    ap.add_argument("--pseudo", default=None)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ids-per-batch", type=int, default=None,
                    help="P of a P x K recipe, smaller than the paper's where the CPU's memory is short")
    ap.add_argument("--pretrained", default="none",
                    help="train.pretrained of the run (default none: from scratch, as the recorded numbers; "
                         "imagenet reads the torch cache: attnreid fetch-weights --profile paper)")
    args = ap.parse_args()

    grid = Grid(config.load(ROOT / "params.yaml", args.profile))
    cell = Cell(args.dataset or grid.stand_in("market1501"), args.method, 0)
    cfg = grid.cell_config(cell)
    t = cfg["train"]
    t["pretrained"] = args.pretrained
    if args.ids_per_batch:
        t["ids_per_batch"] = args.ids_per_batch
    runtime.setup(0, args.threads, t["deterministic"])
    dev = runtime.device(t["device"])
    data, _, loader, _ = train_data(cfg, args.index, args.pseudo)
    model, pretrained = build_model(cfg, data.num_classes, dev)
    opt = build_optimizer(model, t, pretrained != "none")
    model.train()
    steps, n, secs = [], 0, 0.0
    for i, batch in enumerate(loader):
        if i == args.steps:
            break
        batch = {k: v.to(dev) for k, v in batch.items()}
        t0 = time.perf_counter()
        terms = model.losses(model(batch["img"]), batch)
        opt.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i > 0:  # the first step warms up
            secs += time.perf_counter() - t0
            n += len(batch["img"])
        steps.append({k: round(float(v.detach()), 4) for k, v in terms.items()})
    print(json.dumps({"method": args.method, "input": [t["height"], t["width"]], "batch": len(batch["img"]),
                      "backbone": t["backbone"], "pretrained": pretrained, "device": str(dev),
                      "threads": args.threads, "steps": steps, "imgs_per_s": round(n / secs, 2) if secs else None}))


if __name__ == "__main__":
    main()
