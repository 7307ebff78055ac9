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

import dataclasses
import logging
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from attnreid import models
from attnreid.data import augment_cpu
from attnreid.data import cache as image_cache
from attnreid.data import index as index_io
from attnreid.data.batches import TrainBatches, pose_targets
from attnreid.data.samplers import build as build_sampler
from attnreid.engine import checkpoint, cost, runtime, validation
from attnreid.engine.optim import build_optimizer, build_scheduler
from attnreid.engine.step import Step, Totals
from attnreid.errors import InputError, Interrupted
from attnreid.pseudo import store as pseudo_store

log = logging.getLogger("attnreid.train")


@dataclass(frozen=True)
class TrainSplit:
    """The images a cell trains on: their count and the classes (relabelled identities)."""

    images: int
    num_classes: int

    def __len__(self) -> int:
        return self.images


def train_data(cell_cfg: dict, index_csv: str, pseudo_dir: str | None = None, cache: str | None = None,
               dev: torch.device | str = "cpu", threads: int = 1):
    """The training split of a cell as (TrainSplit, batch sampler, TrainBatches on `dev`, validation
    split or None). `cache` is the index's image cache at the cell's input size (data/cache.py;
    None: decoded in memory); `pseudo_dir` the dataset's pseudo-label folder (read by models that
    train on masks/keypoints)."""
    t = cell_cfg["train"]
    df, _ = index_io.read(index_csv)
    train_df, val = validation.hold_out(index_io.split(df, "train"), t["validation"], cell_cfg["seed"], index_csv)
    images = image_cache.load(index_csv, t["height"], t["width"], cache, threads)
    rows = images.rows(train_df.path)
    pose = None
    if models.needs_pseudo_labels(cell_cfg):
        labels = _pseudo_labels(cell_cfg, pseudo_dir)
        where = {p: i for i, p in enumerate(labels.paths)}
        absent = [p for p in train_df.path if p not in where]
        if absent:
            raise InputError(f"keypoints.csv: no pseudo-labels for {absent[0]} ({len(absent)} images)")
        pose = pose_targets(labels, [where[p] for p in train_df.path], train_df.path.tolist(), images.sizes[rows],
                            t["height"], t["width"])
    ids = {p: i for i, p in enumerate(sorted(set(train_df.pid.tolist())))}
    pids = torch.as_tensor([ids[p] for p in train_df.pid], dtype=torch.long)
    camids = torch.as_tensor(train_df.camid.to_numpy().copy(), dtype=torch.long)
    sampler = build_sampler(t, pids.tolist(), cell_cfg["seed"])
    batches = TrainBatches(images.array, rows, pids, camids, sampler, t, cell_cfg["seed"], torch.device(dev), pose)
    if val is not None:
        val = dataclasses.replace(val, images=images)
    return TrainSplit(len(train_df), len(ids)), sampler, batches, val


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
    """The cell's model on `dev`, and where its backbone weights came from (`imagenet`, a path or
    `none`; the file itself is `model.backbone.weights`); warnings logged."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = models.build(cell_cfg, num_classes).to(dev)
    for w in caught:
        log.warning("%s", w.message)
    return model, getattr(getattr(model, "backbone", None), "pretrained", "none")


def train(cell_cfg: dict, digest: str, index_csv: str, model_out: str, live_dir: str, threads: int,
          pseudo_dir: str | None = None, cache: str | None = None) -> dict:
    """Train one cell; write `run.json` (the record of the run) and then `model_out` (final weights +
    config + meta) beside it. `cache` is the index's image cache at the cell's input size (None:
    decoded in memory). Resumes from `checkpoint.pt` there when it holds this config; on a stop
    signal checkpoints after the current batch and raises Interrupted. Returns the meta."""
    t = cell_cfg["train"]
    runtime.setup(cell_cfg["seed"], threads, t["deterministic"])
    dev = runtime.device(t["device"])
    cost.reset_peak_memory(dev)
    data, sampler, loader, val = train_data(cell_cfg, index_csv, pseudo_dir, cache, dev, threads)
    model, pretrained = build_model(cell_cfg, data.num_classes, dev)
    opt = build_optimizer(model, t, pretrained != "none")
    sched = build_scheduler(opt, t)
    step = Step(model, opt, t, dev)

    ckpt_path = Path(model_out).with_name("checkpoint.pt")
    state = _resume(ckpt_path, digest, model, opt, sched)
    if state.get("scaler"):
        step.scaler.load_state_dict(state["scaler"])
    history, resumes, best = state["history"], state["resumes"], state.get("best")
    live = _live(live_dir, history)

    def save(position: list[int], partial: dict | None = None) -> Path:
        checkpoint.save(ckpt_path, {"digest": digest, "position": position, "partial": partial, "history": history,
                                    "resumes": resumes, "best": best, "model": model.state_dict(),
                                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                    "scaler": step.scaler.state_dict(), "rng": checkpoint.rng_state()})
        return ckpt_path

    start, skip = state["position"]
    log.info("cell %s: %d images, %d ids, device %s (%s%s), pretrained %s, epochs %d (from epoch %d batch %d)",
             cell_cfg["cell"], len(data), data.num_classes, dev, t["precision"],
             ", channels_last" if t["channels_last"] else "", pretrained, t["epochs"], start + 1, skip)
    with StopSignals() as stop:
        for epoch in range(start, t["epochs"]):
            stats = _epoch(step, loader, epoch, t, stop, save, state if epoch == start and "rng" in state else None)
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
    meta = {"pretrained": pretrained, "weights": getattr(getattr(model, "backbone", None), "weights", None),
            "device": str(dev), "threads": threads, "epochs": t["epochs"],
            "augment": augment_cpu.backend() if dev.type == "cpu" else "device",
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


def _epoch(step: Step, loader: TrainBatches, epoch: int, t: dict, stop: StopSignals, save,
           resume: dict | None = None) -> dict:
    """One epoch. `resume` (the checkpoint a run starts from) restores the RNG states and, mid-epoch,
    the batches done and their loss sums: the sampler's order is a function of (seed, epoch) and each
    batch's augmentation of (seed, epoch, batch), so the rest of the epoch is the one an uninterrupted
    run sees, whatever the loader's workers. Loss sums and the finite check stay on the device and
    are read every `log_every` steps and at the end. After a stop signal: checkpoint the batch
    position, raise Interrupted."""
    step.model.train()
    epochs, total = t["epochs"], len(loader)
    done, totals = 0, Totals(step.dev)
    if resume:
        checkpoint.set_rng_state(resume["rng"])
        if resume["position"][1]:
            done = resume["position"][1]
            totals = Totals(step.dev, resume["partial"]["totals"], resume["partial"]["n"])
    n_before, first, t0 = totals.n, done, time.perf_counter()

    def check() -> dict:
        finite, sums = totals.read()
        if not finite:
            raise FloatingPointError(f"epoch {epoch + 1}: loss is not finite in batches {first + 1}..{done} "
                                     f"(sums {sums})")
        return sums

    bar = tqdm(total=total - done, desc=f"epoch {epoch + 1}/{epochs}", leave=False, mininterval=5)
    for b, batch in loader.epoch(epoch, done, overwrite=True):  # one batch held at a time
        totals.add(step(batch), batch["img"].shape[0])
        done = b + 1
        bar.update()
        if done % t["log_every"] == 0:
            first = done - t["log_every"]
            bar.set_postfix(loss=f"{check()['loss'] / totals.n:.3f}")
        if stop.signum:
            path = save([epoch, done], {"totals": check(), "n": totals.n})
            raise _interrupted(stop.signum, f"in epoch {epoch + 1}/{epochs} after batch {done}/{total}", path)
    bar.close()
    sums = check()
    secs = time.perf_counter() - t0
    stats = {k: v / max(totals.n, 1) for k, v in sums.items()}
    stats["imgs_per_s"] = (totals.n - n_before) / secs if secs > 0 else 0.0
    log.info("epoch %d/%d: %s", epoch + 1, epochs, " ".join(f"{k}={v:.4g}" for k, v in stats.items()))
    return stats
