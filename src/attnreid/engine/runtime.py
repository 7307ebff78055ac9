"""Device, threads, seeds and the provenance recorded beside every output."""
from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import numpy as np
import torch

from attnreid.atomic import write_text
from attnreid.pseudo.provenance import versions

PACKAGES = ("attnreid", "torch", "torchvision", "numpy", "pillow", "pandas", "scipy", "dvclive")


def setup(seed: int, threads: int, deterministic: bool) -> None:
    """Match torch threads to the rule's `threads:`, seed every RNG, optionally force determinism.

    Deterministic mode keeps torch's deterministic algorithms but not its filling of every new
    uninitialised tensor with NaN (`fill_uninitialized_memory`, a debugging aid): on the CPU those
    fills cost ~30% of a ResNet step (benchmarks/bench_deterministic.py) and change no result,
    since no op reads memory it has not written (two runs stay bit-identical, tests/test_resume.py).
    Off, cuDNN picks its fastest kernels (`cudnn.benchmark`)."""
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = not deterministic


def device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"train.device: '{name}' requested but CUDA is not available")
    return torch.device(name)


def code_version() -> str:
    """The git commit of the attnreid source, `+dirty` when tracked files differ from it; `unknown`
    outside a git checkout."""
    def git(*args: str) -> str:
        try:
            res = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, cwd=Path(__file__).parent)
        except (OSError, subprocess.SubprocessError):
            return ""
        return res.stdout.strip() if res.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def provenance() -> dict:
    """Python and package versions (flat: python, torch, ...), torch's build and CUDA, the code version."""
    return {**versions(*PACKAGES), "torch_build": torch.__version__, "cuda": torch.version.cuda or "none",
            "code_version": code_version()}


def write_record(path: str | Path, cell_cfg: dict, digest: str, meta: dict) -> None:
    """`run.json` beside a cell's outputs: its seed, code version, package versions, the params it
    ran with (the cell config and its digest), the [epoch, batch] positions later runs resumed
    from (a run killed before its first checkpoint leaves none) and the epoch whose weights are the
    model (the last, or the validation's pick) and the weight file it started from (`weights`: name
    and sha256, None from scratch); written atomically."""
    record = {"cell": cell_cfg["cell"], "seed": cell_cfg["seed"], "config_digest": digest, "params": cell_cfg,
              "resumed_at": meta["resumed_at"], "selected_epoch": meta["selected_epoch"],
              "pretrained": meta["pretrained"], "weights": meta["weights"], "device": meta["device"],
              "threads": meta["threads"],
              "versions": {k: meta[k] for k in ("code_version", "python", *PACKAGES, "torch_build", "cuda")}}
    write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
