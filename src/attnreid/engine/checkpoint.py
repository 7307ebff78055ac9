"""Checkpoints: the full training state every epoch (for resume) and the final model.

Both carry the cell config digest; a checkpoint from another config is never loaded silently.
A killed write leaves only a temporary, never a truncated checkpoint.
"""
from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import torch

from attnreid.atomic import atomic_path
from attnreid.errors import InputError


def save(path: str | Path, payload: dict) -> None:
    """Write atomically (see attnreid.atomic). Serialised in memory first: torch's own file writer
    turns a full disk into an opaque RuntimeError, a plain write gives the OSError atomic_path names."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_model(path: str | Path, digest: str | None = None) -> dict:
    """Load a final model file; with `digest`, refuse one trained from another config."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if digest is not None and ckpt.get("digest") != digest:
        raise InputError(f"{path}: checkpoint was trained with another config (digest {ckpt.get('digest')} != {digest})")
    return ckpt
