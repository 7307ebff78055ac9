"""What a model costs, for the cross-paper comparison (papers/compare.py): parameters, inference FLOPs,
and the training run's peak memory.

- Parameters: all of the model's (what training updates, training-only branches and classifiers
  included), and those the inference forward uses (eval mode: the parameters the embedding's gradient
  reaches), so a training-only branch adds to the first count only.
- Inference FLOPs: torch.utils.flop_counter on one image at the recipe's input size, eval mode
  (multiply-adds count 2; convolutions and matrix products, as fvcore/ptflops count them).
- Peak memory of a training run: on CUDA the peak of torch's allocated memory since the run began;
  on a CPU the process's maximum resident set size (Linux `ru_maxrss`), which also holds the data
  and the interpreter: comparable between runs of one profile on one machine, not across devices.
"""
from __future__ import annotations

import resource

import torch
from torch.utils.flop_counter import FlopCounterMode


def reset_peak_memory(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)


def peak_memory(dev: torch.device) -> dict:
    """{"mb": peak MiB, "kind": what was measured} since reset_peak_memory (CUDA) or the process began (CPU)."""
    if dev.type == "cuda":
        return {"mb": torch.cuda.max_memory_allocated(dev) / 2 ** 20, "kind": "cuda_max_allocated"}
    return {"mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "kind": "cpu_max_rss"}


def model_cost(model: torch.nn.Module, height: int, width: int) -> dict:
    """{"params": all parameters, "inference_params": those the eval-mode embedding uses,
    "inference_flops": FLOPs of one eval-mode forward of a [1, 3, height, width] image}; leaves the model in eval mode."""
    model.eval()
    x = torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(0))
    frozen = [p for p in model.parameters() if not p.requires_grad]  # e.g. BN necks' biases: used all the same
    for p in model.parameters():
        p.requires_grad_(True)
        p.grad = None
    model(x).sum().backward()
    used = sum(p.numel() for p in model.parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)
    for p in frozen:
        p.requires_grad_(False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x[:1])
    return {"params": sum(p.numel() for p in model.parameters()), "inference_params": used,
            "inference_flops": int(counter.get_total_flops())}
