"""Model selection on a validation split held out of the training identities.

SAG (section 4.3): "We use a validation set to evaluate intermediate models and select the one
with maximum performance for testing"; how the set is made is not said. Chosen, in
`train.validation`: a share `ids` of the training identities (0: off, the last epoch is the model)
is drawn with the cell's seed and never trained on (the classifier has the remaining classes).
Each held-out identity gives one query per camera (its first image there, index order) and the
rest of its images are the gallery; they are scored like the test set (a query's same-camera
images of its identity are ignored), without flip, Euclidean, every `every` epochs and after the
last. The weights of the epoch with the highest `metric` (the earlier on a tie) are the model.
Scoring runs under a forked RNG, so turning validation on changes training only by the held-out
identities.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from attnreid.errors import InputError
from attnreid.eval import evaluate
from attnreid.eval.distance import pairwise_distance

METRICS = {"mAP": lambda r: float(r["mAP"]), "R1": lambda r: float(r["cmc"][0])}


@dataclass(frozen=True)
class Split:
    query: pd.DataFrame
    gallery: pd.DataFrame
    images: object = None  # data.cache.Images of the index (set by engine.train.train_data)

    @property
    def ids(self) -> int:
        return int(self.query.pid.nunique())


def hold_out(train: pd.DataFrame, cfg: dict, seed: int, where: str) -> tuple[pd.DataFrame, Split | None]:
    """The training rows left for training, and the validation split (None when `cfg['ids']` is 0)."""
    if not cfg["ids"]:
        return train, None
    ids = np.array(sorted(train.pid.unique()))
    n = max(1, round(cfg["ids"] * len(ids)))
    if len(ids) - n < 2:
        raise InputError(f"params.yaml: train.validation.ids: holding out {n} of the {len(ids)} training "
                         f"identities of {where} leaves fewer than 2 to train on")
    held = set(np.random.default_rng(seed).choice(ids, size=n, replace=False).tolist())
    val = train[train.pid.isin(held)]
    first = ~val.duplicated(["pid", "camid"])
    split = Split(val[first].reset_index(drop=True), val[~first].reset_index(drop=True))
    g = split.gallery
    if not any(((g.pid == p) & (g.camid != c)).any() for p, c in zip(split.query.pid, split.query.camid)):
        raise InputError(f"params.yaml: train.validation.ids: none of the {n} held-out identities of {where} "
                         "has images from two cameras (no cross-camera query)")
    return train[~train.pid.isin(held)].reset_index(drop=True), split


def due(cfg: dict, epoch: int, epochs: int) -> bool:
    """Whether the model after `epoch` (0-based) is scored."""
    return (epoch + 1) % cfg["every"] == 0 or epoch + 1 == epochs


@torch.no_grad()
def score(model, split: Split, train_cfg: dict, dev) -> dict:
    """{"val_mAP", "val_R1"} (fractions) of the model in eval mode; the model is left in eval mode."""
    from attnreid.engine.extract import features

    model.eval()
    devices = [dev] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        q, g = (features(model, split.images.array, split.images.rows(part.path), dev, train_cfg, train_cfg["batch_size"],
                         flip=False) for part in (split.query, split.gallery))
    res = evaluate(pairwise_distance(q, g, "euclidean"), split.query.pid.to_numpy(), split.gallery.pid.to_numpy(),
                   split.query.camid.to_numpy(), split.gallery.camid.to_numpy(), max_rank=1)
    return {f"val_{name}": pick(res) for name, pick in METRICS.items()}


def better(stats: dict, best: dict | None, metric: str) -> bool:
    return best is None or stats[f"val_{metric}"] > best["score"]


def snapshot(model, epoch: int, stats: dict, metric: str) -> dict:
    """The selection record: epoch (1-based), score and a CPU copy of the weights."""
    weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return {"epoch": epoch + 1, "score": stats[f"val_{metric}"], "model": weights}
