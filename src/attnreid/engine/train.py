"""The training loop: generic over models, resumable from the newest epoch checkpoint.

Each epoch: batches from the sampler, the model's weighted loss terms summed, SGD/Adam step;
the scheduler steps per epoch. After each epoch the full state goes to `checkpoint.pt` beside the
model (atomically) and dvclive logs the losses, learning rate and throughput.
"""
from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from attnreid import models
from attnreid.data import index as index_io
from attnreid.data.dataset import ReIDImages
from attnreid.data.samplers import build as build_sampler
from attnreid.data.transforms import train_transform
from attnreid.engine import checkpoint, runtime
from attnreid.engine.optim import build_optimizer, build_scheduler

log = logging.getLogger("attnreid.train")


def _collate(items: list[dict]) -> dict:
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}


def train_data(cell_cfg: dict, index_csv: str, pseudo_dir: str | None = None):
    """The training split of a cell as (dataset, batch sampler, loader). `pseudo_dir` is the
    dataset's pseudo-label folder (read by models that train on masks/keypoints)."""
    t = cell_cfg["train"]
    df, _ = index_io.read(index_csv)
    data = ReIDImages(index_io.split(df, "train"), train_transform(t), relabel=True)
    sampler = build_sampler(t, data.pids.tolist(), cell_cfg["seed"])
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, num_workers=t["workers"], collate_fn=_collate)
    return data, sampler, loader


def build_model(cell_cfg: dict, num_classes: int, dev) -> tuple[torch.nn.Module, str]:
    """The cell's model on `dev`, and where its backbone weights came from (warnings logged)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = models.build(cell_cfg, num_classes).to(dev)
    for w in caught:
        log.warning("%s", w.message)
    return model, getattr(getattr(model, "backbone", None), "pretrained", "none")


def train(cell_cfg: dict, digest: str, index_csv: str, model_out: str, live_dir: str, threads: int,
          pseudo_dir: str | None = None) -> dict:
    """Train one cell; write `model_out` (final weights + config + provenance). Returns its meta."""
    from dvclive import Live

    t = cell_cfg["train"]
    runtime.setup(cell_cfg["seed"], threads, t["deterministic"])
    dev = runtime.device(t["device"])
    data, sampler, loader = train_data(cell_cfg, index_csv, pseudo_dir)
    model, pretrained = build_model(cell_cfg, data.num_classes, dev)
    opt = build_optimizer(model, t, pretrained != "none")
    sched = build_scheduler(opt, t)

    ckpt_path = Path(model_out).with_name("checkpoint.pt")
    start, history = _resume(ckpt_path, digest, model, opt, sched)
    live = Live(live_dir, resume=start > 0, save_dvc_exp=False, dvcyaml=None)
    log.info("cell %s: %d images, %d ids, device %s, pretrained %s, epochs %d (from %d)",
             cell_cfg["cell"], len(data), data.num_classes, dev, pretrained, t["epochs"], start)
    for epoch in range(start, t["epochs"]):
        stats = _epoch(model, loader, sampler, opt, dev, epoch, t["epochs"])
        stats["lr"] = opt.param_groups[-1]["lr"]
        sched.step()
        history.append(stats)
        for k, v in stats.items():
            live.log_metric(f"train/{k}", v)
        live.next_step()
        checkpoint.save(ckpt_path, {"digest": digest, "epoch": epoch, "model": model.state_dict(),
                                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                    "rng": checkpoint.rng_state(), "history": history})
    live.end()
    meta = {"pretrained": pretrained, "device": str(dev), "threads": threads, "epochs": t["epochs"],
            "num_classes": data.num_classes, "train_images": len(data), "history": history,
            "imgs_per_s": sum(h["imgs_per_s"] for h in history) / max(len(history), 1),
            **runtime.provenance()}
    checkpoint.save(model_out, {"digest": digest, "config": cell_cfg, "model": model.state_dict(), "meta": meta})
    ckpt_path.unlink(missing_ok=True)
    return meta


def _resume(path: Path, digest: str, model, opt, sched) -> tuple[int, list]:
    if not path.is_file():
        return 0, []
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("digest") != digest:
        log.warning("%s: checkpoint of another config (digest %s), starting afresh", path, state.get("digest"))
        return 0, []
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    checkpoint.set_rng_state(state["rng"])
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return state["epoch"] + 1, state["history"]


def _epoch(model, loader, sampler, opt, dev, epoch: int, epochs: int) -> dict:
    model.train()
    sampler.set_epoch(epoch)
    totals, n, t0 = {}, 0, time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", leave=False, mininterval=5)
    for batch in bar:
        batch = {k: v.to(dev) for k, v in batch.items()}
        terms = model.losses(model(batch["img"]), batch)
        loss = sum(terms.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"epoch {epoch + 1}: loss is {loss.item()} ({ {k: float(v) for k, v in terms.items()} })")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bs = batch["img"].shape[0]
        n += bs
        for k, v in {"loss": loss, **terms}.items():
            totals[k] = totals.get(k, 0.0) + float(v) * bs
        bar.set_postfix(loss=f"{totals['loss'] / n:.3f}")
    secs = time.perf_counter() - t0
    stats = {k: v / max(n, 1) for k, v in totals.items()}
    stats["imgs_per_s"] = n / secs if secs > 0 else 0.0
    log.info("epoch %d/%d: %s", epoch + 1, epochs, " ".join(f"{k}={v:.4g}" for k, v in stats.items()))
    return stats
