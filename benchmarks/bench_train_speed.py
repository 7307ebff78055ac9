"""Training throughput (img/s) of a torchvision ResNet on random data: forward + backward + SGD step.

    .venv/bin/python benchmarks/bench_train_speed.py --arch resnet18 --sizes 64x32 96x48 128x64
Prints one line per input size; used to size the smoke/default profiles' budgets.
"""
from __future__ import annotations

import argparse
import time

import torch
import torchvision


def img_per_s(arch: str, height: int, width: int, batch: int, steps: int) -> float:
    model = getattr(torchvision.models, arch)(num_classes=150)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(batch, 3, height, width), torch.randint(0, 150, (batch,))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    step()
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--sizes", nargs="+", default=["64x32", "96x48", "128x64"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    for size in a.sizes:
        h, w = map(int, size.split("x"))
        print(f"{a.arch} {h}x{w}: {img_per_s(a.arch, h, w, a.batch, a.steps):.1f} img/s", flush=True)


if __name__ == "__main__":
    main()
