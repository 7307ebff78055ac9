"""Device, threads, seeds and the provenance recorded beside every output."""
from __future__ import annotations

import os
import platform
import random
import subprocess

import numpy as np
import torch


def setup(seed: int, threads: int, deterministic: bool) -> None:
    """Match torch threads to the rule's `threads:`, seed every RNG, optionally force determinism."""
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"train.device: '{name}' requested but CUDA is not available")
    return torch.device(name)


def provenance() -> dict:
    import torchvision

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": np.__version__, "code_version": commit or "unknown"}
