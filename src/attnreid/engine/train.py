"""The training loop: generic over models, resumable from its newest checkpoint.

Each epoch: batches from the sampler, the model's weighted loss terms summed, SGD/Adam step;
the scheduler steps per epoch. After each epoch the full state (model, optimiser, scheduler, RNG
states of torch, numpy, python and CUDA; the sampler's is (seed, epoch)) goes to `checkpoint.pt`
beside the model, atomically, as tensors and plain data (engine/checkpoint.py), and dvclive logs
the losses, learning rate and throughput. With `train.validation` on (engine/validation.py), held-out identities score the model every few epochs
and the best epoch's weights, kept in the checkpoint, become the model. SIGTERM,
SIGUSR1 or SIGINT checkpoints after the current batch, with the batch position, and stops; a rerun
continues from the newest complete checkpoint as if never stopped.
"""
from __future__ import annotations

import logging
import signal
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from attnreid import models
from attnreid.data import index as index_io
from attnreid.data.dataset import ReIDImages
from attnreid.data.samplers import build as build_sampler
from attnreid.data.transforms import PoseTrainTransform, train_transform
from attnreid.engine import checkpoint, cost, runtime, validation
from attnreid.engine.optim import build_optimizer, build_scheduler
from attnreid.errors import InputError, Interrupted
from attnreid.pseudo import store as pseudo_store

log = logging.getLogger("attnreid.train")


def _collate(items: list[dict]) -> dict:
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]}


def train_data(cell_cfg: dict, index_csv: str, pseudo_dir: str | None = None):
    """The training split of a cell as (dataset, batch sampler, loader, validation split or None).
    `pseudo_dir` is the dataset's pseudo-label folder (read by models that train on masks/keypoints)."""
    t = cell_cfg["train"]
    df, _ = index_io.read(index_csv)
    train_df, val = validation.hold_out(index_io.split(df, "train"), t["validation"], cell_cfg["seed"], index_csv)
    pseudo = _pseudo_labels(cell_cfg, pseudo_dir) if models.needs_pseudo_labels(cell_cfg) else None
    transform = train_transform(t) if pseudo is None else PoseTrainTransform(t)
    data = ReIDImages(train_df, transform, relabel=True, pseudo=pseudo)
    sampler = build_sampler(t, data.pids.tolist(), cell_cfg["seed"])
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, num_workers=t["workers"], collate_fn=_collate)
    return data, sampler, loader, val


def _pseudo_labels(cell_cfg: dict, pseudo_dir: str | None):
    """The pseudo-label masks and keypoints a cell's model trains on; backend `none` is refused."""
    who = f"methods.{cell_cfg['method']} (model {cell_cfg['model']}) trains on pseudo-label masks/keypoints"
    if pseudo_dir is None:
        raise InputError(f"{who}: no pseudo-label folder given (train --pseudo)")
    prov = Path(pseudo_dir) / "provenance.json"
    if prov.is_file() and pseudo_store.read_json(pseudo_dir, prov.name).get("backend") == "none":
        raise InputError(f"params.yaml: pseudo_labels.backend: none, but {who}; choose another backend")
    return pseudo_store.read(pseudo_dir)


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
    """Train one cell; write `run.json` (the record of the run) and then `model_out` (final weights +
    config + meta) beside it. Resumes from `checkpoint.pt` there when it holds this config; on a stop
    signal checkpoints after the current batch and raises Interrupted. Returns the meta."""
    t = cell_cfg["train"]
    runtime.setup(cell_cfg["seed"], threads, t["deterministic"])
    dev = runtime.device(t["device"])
    cost.reset_peak_memory(dev)
    data, sampler, loader, val = train_data(cell_cfg, index_csv, pseudo_dir)
    model, pretrained = build_model(cell_cfg, data.num_classes, dev)
    opt = build_optimizer(model, t, pretrained != "none")
    sched = build_scheduler(opt, t)

    ckpt_path = Path(model_out).with_name("checkpoint.pt")
    state = _resume(ckpt_path, digest, model, opt, sched)
    history, resumes, best = state["history"], state["resumes"], state.get("best")
    live = _live(live_dir, history)

    def save(position: list[int], partial: dict | None = None) -> Path:
        checkpoint.save(ckpt_path, {"digest": digest, "position": position, "partial": partial, "history": history,
                                    "resumes": resumes, "best": best, "model": model.state_dict(),
                                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                    "rng": checkpoint.rng_state()})
        return ckpt_path

    start, skip = state["position"]
    log.info("cell %s: %d images, %d ids, device %s, pretrained %s, epochs %d (from epoch %d batch %d)",
             cell_cfg["cell"], len(data), data.num_classes, dev, pretrained, t["epochs"], start + 1, skip)
    with StopSignals() as stop:
        for epoch in range(start, t["epochs"]):
            stats = _epoch(model, loader, sampler, opt, dev, epoch, t["epochs"], stop, save,
                           state if epoch == start and "rng" in state else None)
            stats["lr"] = opt.param_groups[-1]["lr"]
            if val is not None and validation.due(t["validation"], epoch, t["epochs"]):
                stats.update(validation.score(model, val, t, dev))
                if validation.better(stats, best, t["validation"]["metric"]):
                    best = validation.snapshot(model, epoch, stats, t["validation"]["metric"])
            sched.step()
            history.append(stats)
            _log(live, stats)
            save([epoch + 1, 0])
            if stop.signum and epoch + 1 < t["epochs"]:
                raise _interrupted(stop.signum, f"after epoch {epoch + 1}/{t['epochs']}", ckpt_path)
    live.end()
    if best is not None:
        model.load_state_dict(best["model"])
        log.info("model selection: epoch %d (validation %s %.4f)", best["epoch"], t["validation"]["metric"],
                 best["score"])
    meta = {"pretrained": pretrained, "device": str(dev), "threads": threads, "epochs": t["epochs"],
            "num_classes": data.num_classes, "train_images": len(data), "history": history, "resumed_at": resumes,
            "imgs_per_s": sum(h["imgs_per_s"] for h in history) / max(len(history), 1),
            "peak_memory": cost.peak_memory(dev),
            "selected_epoch": best["epoch"] if best else t["epochs"],
            "validation": {"ids": val.ids, "query": len(val.query), "gallery": len(val.gallery)} if val else None,
            **runtime.provenance()}
    runtime.write_record(Path(model_out).with_name("run.json"), cell_cfg, digest, meta)
    checkpoint.save(model_out, {"digest": digest, "config": cell_cfg, "model": model.state_dict(), "meta": meta})
    ckpt_path.unlink(missing_ok=True)
    return meta


class StopSignals:
    """While active, SIGTERM and SIGUSR1 (what SLURM sends before preemption or the time limit) and
    SIGINT (Ctrl-C) set `signum`: the loop finishes its batch, checkpoints and stops. The first signal
    restores the previous handler, so a second one kills at once (still safe: every write is atomic)."""

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)

    def __enter__(self):
        self.signum = None
        self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, _frame) -> None:
        self.signum = signum
        signal.signal(signum, self._previous[signum])

    def __exit__(self, *_exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def _interrupted(signum: int, where: str, ckpt_path: Path) -> Interrupted:
    return Interrupted(signum, f"{signal.Signals(signum).name} {where}: state saved to {ckpt_path}; "
                               f"run the same command again to resume")


def _live(live_dir: str, history: list[dict]):
    """A fresh dvclive folder holding exactly `history`: a resumed run's curves have no gap and no
    duplicate step, whatever the interruption (or Snakemake's removal of the folder) left."""
    from dvclive import Live

    live = Live(live_dir, resume=False, save_dvc_exp=False, dvcyaml=None)
    for stats in history:
        _log(live, stats)
    return live


def _log(live, stats: dict) -> None:
    for k, v in stats.items():
        live.log_metric(f"train/{k}", v)
    live.next_step()


def _resume(path: Path, digest: str, model, opt, sched) -> dict:
    """The training state to continue from: `position` [epoch, batches done in it], `history`, `rng`
    (restored by _epoch) and, mid-epoch, the `partial` loss sums. Fresh (no `rng`) when there is no
    checkpoint or it holds another config (a warning names it; the first save replaces it)."""
    fresh = {"position": [0, 0], "history": [], "resumes": []}
    if not path.is_file():
        return fresh
    state = checkpoint.load(path, "delete it to restart the cell from epoch 1, or restore the file you trust")
    if state.get("digest") != digest or "position" not in state:
        log.warning("%s: checkpoint of another config (digest %s, this cell %s), starting afresh",
                    path, state.get("digest"), digest)
        return fresh
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    state["resumes"].append(state["position"])
    log.info("resuming from %s at epoch %d batch %d", path, state["position"][0] + 1, state["position"][1])
    return state


def _epoch(model, loader, sampler, opt, dev, epoch: int, epochs: int, stop: StopSignals, save,
           resume: dict | None = None) -> dict:
    """One epoch. `resume` (the checkpoint a run starts from) restores the RNG states and, mid-epoch,
    skips the batches done: the sampler's order is a function of (seed, epoch), so the rest of the
    epoch is the one an uninterrupted run sees (exactly with `workers: 0`: worker processes' RNG
    states are not checkpointed). After a stop signal: checkpoint the batch position, raise Interrupted."""
    model.train()
    sampler.set_epoch(epoch)
    done, totals, n = 0, {}, 0
    if resume and resume["position"][1]:
        done, totals, n = resume["position"][1], resume["partial"]["totals"], resume["partial"]["n"]
        loader = torch.utils.data.DataLoader(loader.dataset, batch_sampler=list(sampler)[done:],
                                             num_workers=loader.num_workers, collate_fn=loader.collate_fn)
    elif resume:  # an epoch boundary: creating the loader's iterator draws from torch's RNG, as it did
        checkpoint.set_rng_state(resume["rng"])
    batches = iter(loader)
    if done:  # mid-epoch: the interrupted run had made that draw already
        checkpoint.set_rng_state(resume["rng"])
    n_here, t0 = 0, time.perf_counter()
    bar = tqdm(batches, total=len(sampler) - done, desc=f"epoch {epoch + 1}/{epochs}", leave=False, mininterval=5)
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
        n, n_here, done = n + bs, n_here + bs, done + 1
        for k, v in {"loss": loss, **terms}.items():
            totals[k] = totals.get(k, 0.0) + float(v.detach()) * bs
        bar.set_postfix(loss=f"{totals['loss'] / n:.3f}")
        if stop.signum:
            path = save([epoch, done], {"totals": totals, "n": n})
            raise _interrupted(stop.signum, f"in epoch {epoch + 1}/{epochs} after batch {done}/{len(sampler)}", path)
    secs = time.perf_counter() - t0
    stats = {k: v / max(n, 1) for k, v in totals.items()}
    stats["imgs_per_s"] = n_here / secs if secs > 0 else 0.0
    log.info("epoch %d/%d: %s", epoch + 1, epochs, " ".join(f"{k}={v:.4g}" for k, v in stats.items()))
    return stats
