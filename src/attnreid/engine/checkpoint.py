"""Checkpoints: the full training state every epoch (for resume) and the final model.

Both carry the cell config digest; a checkpoint from another config is never loaded silently.
A killed write leaves only a temporary, never a truncated checkpoint.

Checkpoints travel (a DVC remote, a cluster's shared file system), so they are data, never code:
they hold only tensors and plain Python data (dicts, lists, tuples, strings, numbers; RNG states
included), and every read goes through `load`, i.e. `torch.load(weights_only=True)` (attnreid.torchfile), which
refuses any other object instead of running its pickle. The allow-listed extras (`LEGACY`) are the two
harmless types that checkpoints written before this rule hold (numpy's RNG key array and
torch's version string), so those still load and resume.
"""
from __future__ import annotations

import io
import random
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from attnreid import torchfile
from attnreid.atomic import atomic_path
from attnreid.errors import InputError

# What checkpoints written before plain-data checkpoints hold beyond it: numpy's RNG key (a uint32
# array; an object array's items would still need globals) and torch.__version__ (a str subclass).
LEGACY = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType,
          torch.torch_version.TorchVersion]


def save(path: str | Path, payload: dict) -> None:
    """Write atomically (see attnreid.atomic). Serialised in memory first: torch's own file writer
    turns a full disk into an opaque RuntimeError, a plain write gives the OSError atomic_path names.
    Numpy scalars become Python numbers; any other non-plain object is a TypeError naming its key
    (a file `load` would refuse is never written)."""
    buf = io.BytesIO()
    torch.save(plain(payload), buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


PLAIN = (torch.Tensor, str, int, float, bool, type(None), torch.dtype, torch.Size)


def plain(obj, where: str = "checkpoint"):
    """`obj` with numpy scalars and str/int/float/dict/list subclasses as their plain Python types
    (an OrderedDict stays one: state_dicts are); TypeError at the first object that is not a
    tensor, plain value or container of them (`where` is its key path)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float)) and type(obj) not in (str, int, float, bool):
        return type(obj).__mro__[-2](obj)  # a subclass (torch.__version__ is one) as its plain base
    if isinstance(obj, PLAIN):
        return obj
    if isinstance(obj, dict):
        out = (OrderedDict if isinstance(obj, OrderedDict) else dict)(
            (k, plain(v, f"{where}.{k}")) for k, v in obj.items())
        if hasattr(obj, "_metadata"):  # a state_dict's per-module versions
            out._metadata = obj._metadata
        return out
    if isinstance(obj, (list, tuple)):
        return (tuple if isinstance(obj, tuple) else list)(plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise TypeError(f"{where}: {type(obj).__module__}.{type(obj).__qualname__} is not plain data; "
                    f"a checkpoint holds tensors, numbers, strings, lists and dicts only")


def load(path: str | Path, remedy: str) -> dict:
    """The checkpoint at `path`, read as data (attnreid.torchfile); anything else is refused with
    one line naming the file, what it held and `remedy` (what to do)."""
    return torchfile.read(path, "checkpoint", remedy, LEGACY)


def rng_state() -> dict:
    """Every RNG state as tensors and plain data (numpy's key as a list of ints)."""
    np_state = np.random.get_state(legacy=False)
    np_state["state"] = {"key": np_state["state"]["key"].tolist(), "pos": int(np_state["state"]["pos"])}
    state = {"torch": torch.get_rng_state(), "numpy": np_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore `rng_state()`'s states; also a pre-plain-data checkpoint's numpy tuple."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    if isinstance(np_state, dict):
        np_state = {**np_state, "state": {**np_state["state"], "key": np.asarray(np_state["state"]["key"], np.uint32)}}
    np.random.set_state(np_state)
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_model(path: str | Path, digest: str | None = None) -> dict:
    """Load a final model file; with `digest`, refuse one trained from another config."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    ckpt = load(path, "delete it and rerun its train stage to retrain the cell")
    if digest is not None and ckpt.get("digest") != digest:
        raise InputError(f"{path}: checkpoint was trained with another config (digest {ckpt.get('digest')} != {digest})")
    return ckpt
