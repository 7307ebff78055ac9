"""One optimisation step, without a host sync: precision, memory layout, compilation, loss sums.

`train.precision`: fp32, bf16 (autocast; what the paper profile runs on GPUs) or fp16 (autocast
and a gradient scaler, whose state is checkpointed). `train.channels_last` puts the model and its
inputs in NHWC layout (faster convolutions on tensor cores). `train.compile` wraps the forward in
torch.compile. The loss terms are summed on the device (float64) and their finiteness is
accumulated there; the host reads both only when asked (`Totals.read`, every `train.log_every`
steps and at the epoch's end), so the GPU runs ahead of Python.
"""
from __future__ import annotations

import contextlib

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(dev: torch.device, precision: str):
    """The autocast context of a precision (none for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=DTYPES[precision])


def memory_format(cfg: dict) -> torch.memory_format:
    return torch.channels_last if cfg["channels_last"] else torch.contiguous_format


class Step:
    """Forward, losses, backward and the optimiser step of a batch; returns the detached terms."""

    def __init__(self, model: torch.nn.Module, opt, cfg: dict, dev: torch.device):
        self.model, self.opt, self.dev, self.precision = model, opt, dev, cfg["precision"]
        self.layout = memory_format(cfg)
        model.to(memory_format=self.layout)
        self.forward = torch.compile(model) if cfg["compile"] else model
        self.scaler = torch.amp.GradScaler(dev.type, enabled=self.precision == "fp16")

    def __call__(self, batch: dict) -> dict:
        x = batch["img"].contiguous(memory_format=self.layout)
        with autocast(self.dev, self.precision):
            terms = self.model.losses(self.forward(x), batch)
        loss = sum(terms.values())
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}}


class Totals:
    """Image-weighted sums of the loss terms and a not-finite flag, kept on the device."""

    def __init__(self, dev: torch.device, sums: dict | None = None, n: int = 0):
        self.dev, self.n = dev, n
        self.sums = {k: torch.tensor(v, dtype=torch.float64, device=dev) for k, v in (sums or {}).items()}
        self.bad = torch.zeros((), dtype=torch.bool, device=dev)

    def add(self, terms: dict, bs: int) -> None:
        for k, v in terms.items():
            v = v.to(torch.float64)
            self.bad |= ~torch.isfinite(v)
            self.sums[k] = self.sums[k] + v * bs if k in self.sums else v * bs
        self.n += bs

    def read(self) -> tuple[bool, dict]:
        """(all finite so far, {term: sum}) as Python numbers: one host sync."""
        vals = torch.stack([self.bad.double(), *self.sums.values()]).tolist() if self.sums else [0.0]
        return not vals[0], dict(zip(self.sums, vals[1:]))
