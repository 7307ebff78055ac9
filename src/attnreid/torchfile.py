"""Torch files read as data, never code: `torch.load(weights_only=True)`, which refuses any object
but tensors and plain data instead of running its pickle. A refusal or an unreadable file is one
line naming the file, what it held and what to do; nothing has been run or read further by then.
Checkpoints (engine/checkpoint.py) and pretrained weight files (models/weights.py) are read here."""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch

from attnreid.errors import InputError


def read(path: str | Path, what: str, remedy: str, allowed: list | tuple = ()) -> dict:
    """The `what` (e.g. "checkpoint") at `path`; `allowed`: extra globals the file may hold."""
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise InputError(f"{path}: refused to load: it holds {_held(err)}, not only tensors and plain data "
                         f"(a file that is not a {what}, or a tampered one); {remedy}") from None
    except (RuntimeError, EOFError, OSError) as err:
        first = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: not a readable {what} ({first}); {remedy}") from None
    except Exception as err:  # noqa: BLE001 - whatever else torch.load raises on a malformed file
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise InputError(f"{path}: not a readable {what} ({type(err).__name__}: {first}); {remedy}") from None


def _held(err: pickle.UnpicklingError) -> str:
    """What torch's weights-only unpickler refused, e.g. 'the global builtins.open'."""
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)|but got <class '([\w.]+)'>", str(err))
    if found:
        return f"the global {found.group(1) or found.group(2)}"
    detail = re.search(r"WeightsUnpickler error: ([^\n]+)", str(err))
    return f"an object the safe loader refused ({detail.group(1).strip() if detail else 'unknown'})"
