"""Published weight files: read from the torch cache only; fetched in an explicit step.

Nothing here downloads while a model is built: a train (or pseudo-label) job runs on compute nodes
that often have no network, and a cell that silently trained from scratch would print its numbers
beside the paper's. `pretrained: imagenet` reads torchvision's file from `<torch hub dir>/checkpoints/`
(torchvision's own file name, e.g. resnet50-0676ba61.pth), checks it against the hash torchvision
publishes in that name (the first hex digits of its sha256, as torch.hub does) and stops with one
line naming the file and the command that fetches it when it is absent or altered.
`attnreid fetch-weights` is that command (the only download): torch.hub's `download_url_to_file`
with the published hash, written to a temporary and renamed only when it matches.

`pretrained: <path>` loads a state_dict file into the backbone by name. Chosen, deliberately:
a wrapper dict's `model` / `state_dict` entry is the state_dict (this project's model.pt holds it
under `model`); a `module.` prefix on every key (DataParallel) is removed; when keys carry a
`backbone.` prefix (a re-ID model, this project's included), only those are the backbone's, the
prefix up to it removed and the rest counted as unexpected; this project's stem names (`stem.0`,
`stem.1`) map to torchvision's (`conv1`, `bn1`). torchvision's `fc.` is never loaded. A file that
lacks any backbone weight, or holds one of another shape, is refused with the counts.
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from urllib.parse import urlparse

import torch

from attnreid import torchfile
from attnreid.errors import InputError

log = logging.getLogger(__name__)
HASH = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's HASH_REGEX: the published sha256 prefix in the name
STEM = {"stem.0.": "conv1.", "stem.1.": "bn1."}


def published(key: str):
    """torchvision's weights enum for a key: `imagenet:<resnet>` (IMAGENET1K_V1, what every recipe's
    `pretrained: imagenet` means), `coco:maskrcnn` / `coco:keypointrcnn` (the torchvision pseudo-label backend)."""
    from torchvision import models as tvm
    from torchvision.models import detection as det

    table = {"imagenet:resnet18": tvm.ResNet18_Weights, "imagenet:resnet34": tvm.ResNet34_Weights,
             "imagenet:resnet50": tvm.ResNet50_Weights, "imagenet:resnet101": tvm.ResNet101_Weights,
             "coco:maskrcnn": det.MaskRCNN_ResNet50_FPN_Weights, "coco:keypointrcnn": det.KeypointRCNN_ResNet50_FPN_Weights}
    if key not in table:
        raise InputError(f"weights '{key}': no published file known (one of {sorted(table)})")
    enum = table[key]
    return enum.COCO_V1 if key.startswith("coco:") else enum.IMAGENET1K_V1


def cache_file(weights) -> Path:
    """Where torch.hub keeps a published weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def published_prefix(path: Path) -> str:
    m = HASH.search(path.name)
    return m.group(1) if m else ""


def fetch_hint(key: str) -> str:
    return f"attnreid fetch-weights --only {key}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_published(key: str) -> tuple[dict, dict]:
    """The state_dict of a published file (see `published`) from the torch cache, and its record
    {source, file, sha256}; one line naming the file and the fetch command when it is absent or
    does not match its published hash."""
    path = cache_file(published(key))
    if not path.is_file():
        raise InputError(f"{path}: {key} weights not found (no download inside a job); "
                         f"fetch them first: {fetch_hint(key)}")
    sha = sha256_file(path)
    if not sha.startswith(published_prefix(path)):
        raise InputError(f"{path}: sha256 {sha[:12]}... does not match the published hash {published_prefix(path)}; "
                         f"delete it and run: {fetch_hint(key)}")
    state = torchfile.read(path, "weights file", f"delete it and run: {fetch_hint(key)}")
    return state, {"source": key, "file": path.name, "sha256": sha}


def fetch(key: str) -> tuple[Path, str]:
    """Put a published file into the torch cache (checked against its published hash); return it and
    `present` or `fetched`. Nothing is left in the cache unless it matches."""
    weights = published(key)
    path = cache_file(weights)
    prefix = published_prefix(path)
    if path.is_file():
        sha = sha256_file(path)
        if not sha.startswith(prefix):
            raise InputError(f"{path}: sha256 {sha[:12]}... does not match the published hash {prefix}; delete it "
                             "and fetch again")
        return path, "present"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(weights.url, str(path), hash_prefix=prefix, progress=False)
    except RuntimeError as exc:  # torch.hub's hash mismatch (its temporary is removed)
        raise InputError(f"{weights.url}: {str(exc).splitlines()[0]} (nothing written)") from None
    except OSError as exc:  # URLError included: no network, blocked host
        raise InputError(f"{weights.url}: download failed ({exc}); nothing written") from None
    return path, "fetched"


def _unwrap(raw, path: Path) -> dict:
    if isinstance(raw, dict):
        for key in ("model", "state_dict"):
            if isinstance(raw.get(key), dict):
                raw = raw[key]
                break
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise InputError(f"{path}: not a state_dict (a dict of tensors, or one under 'model' / 'state_dict')")
    return raw


def _backbone_keys(state: dict) -> tuple[dict, list[str], int]:
    """state renamed to torchvision's backbone names; the prefixes removed; keys outside the backbone."""
    stripped, outside = [], 0
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
        stripped.append("module.")
    marked = {k for k in state if re.match(r"^(?:\w+\.)*?backbone\.", k)}
    if marked:
        prefixes = {re.match(r"^(?:\w+\.)*?backbone\.", k).group(0) for k in marked}
        stripped += sorted(prefixes)
        outside = len(state) - len(marked)
        state = {re.sub(r"^(?:\w+\.)*?backbone\.", "", k): v for k, v in state.items() if k in marked}
    renamed = {}
    for k, v in state.items():
        for ours, theirs in STEM.items():
            if k.startswith(ours):
                k = theirs + k[len(ours):]
        renamed[k] = v
    return renamed, stripped, outside


def load_file(path: str | Path, net: torch.nn.Module) -> dict:
    """Load a state_dict file into torchvision ResNet `net` (its `fc` excluded); return the record
    {source, file, sha256, missing, unexpected, stripped}. Refuses (one line, with the counts) a file
    missing any backbone weight or holding one of another shape."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: pretrained weights not found (train.pretrained)")
    state = torchfile.read(path, "weights file", "check train.pretrained")
    state, stripped, outside = _backbone_keys(_unwrap(state, path))
    target = {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}
    missing = [k for k in target if k not in state]
    shape = [k for k in target if k in state and tuple(state[k].shape) != tuple(target[k].shape)]
    unexpected = outside + sum(k not in target for k in state)
    counts = (f"{len(missing)} of {len(target)} backbone weights missing, {len(shape)} of another shape, "
              f"{unexpected} unexpected keys; prefixes removed: {', '.join(stripped) or 'none'}")
    if missing or shape:
        first = (missing or shape)[0]
        raise InputError(f"{path}: {counts} (first: {first}); refusing to train from a partial backbone")
    net.load_state_dict({k: state[k] for k in target}, strict=False)
    log.info("%s: %s", path, counts)
    return {"source": "file", "file": str(path), "sha256": sha256_file(path), "missing": 0,
            "unexpected": unexpected, "stripped": stripped}
