"""The GPU check of the training engine (run by benchmarks/gpu_check.sh; prints and writes its numbers).

(a) one training step of every method of params.yaml (paper profile: its model, input size,
    batch, precision and layout; from scratch) through the engine on the device: cache rows on
    the device, batched augmentation, the step; fails on any tensor left on the CPU;
(b) training images/s at the PFSA paper config (`pfsa-full`: ResNet-50, 384x128, batch 48 and 128):
    - new: the engine (TrainBatches over a decoded cache + Step, the paper profile's precision),
      and its host syncs per step (torch's CUDA sync debug mode; goal 0);
    - todays_path: a minimal copy of the per-image path this engine replaced (PIL decode + bicubic
      resize + torchvision flip/ToTensor/Normalize/RandomErasing per image in `workers` loader
      processes, fp32 step, a host sync per loss term) -- kept here only as the comparison;
    - ceiling: the model alone on a synthetic batch already on the device, same precision;
(c) extraction images/s (engine.extract.features: cache rows, flip averaging in one forward);
(d) `train.compile`: the PFSA paper config's step compiled by torch.compile (inductor) against the
    eager step, same weights and batch: the compile time, both losses, images/s of each.
Data: a synthreid set (synth-market knobs, `--ids` train identities) drawn on the machine.
`--smoke` runs the same code at CPU scale (ResNet-18, 128x64, batch 8, no loader worker, 2 timed steps).
"""
from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

from attnreid import config, models
from attnreid.data import cache as image_cache
from attnreid.data.datasets import prepare
from attnreid.data.synthreid import SynthConfig, generate
from attnreid.engine import runtime
from attnreid.engine.extract import features
from attnreid.engine.optim import build_optimizer
from attnreid.engine.step import Step, memory_format
from attnreid.engine.train import train_data
from attnreid.grid import Cell, Grid
from attnreid.pseudo.run import run as pseudo_run

ROOT = Path(__file__).resolve().parents[1]
# CPU scale; 128x64, not 64x32: oneDNN's bf16 3x3 stride-2 convolution of a 4x2 map (layer4 of a
# last-stride-2 ResNet at 64x32) returns non-finite values now and then on AMX CPUs
SMOKE = {"backbone": "resnet18", "height": 128, "width": 64, "batch_size": 8, "ids_per_batch": 2, "imgs_per_id": 4,
         "workers": 0}


def sync(dev) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def cell_cfg(grid: Grid, method: str, smoke: bool, dev, **train) -> dict:
    cfg = grid.cell_config(Cell("synth-market", method, 0))
    cfg["train"].update({"pretrained": "none", "device": str(dev), **(SMOKE if smoke else {}), **train})
    return cfg


def data(work: Path, grid: Grid, ids: int) -> tuple[str, str]:
    synth = {**grid.dataset_cfg("synth-market").get("synth", {}), "num_train_ids": ids, "num_test_ids": ids}
    generate(work / "raw", SynthConfig.from_dict(synth))
    index = work / "prepared" / "index.csv"
    prepare("synth-market", {"kind": "synthreid", "synth": synth}, work / "raw", index)
    pseudo_run("synth-market", index, work / "pseudo", {**grid.params["pseudo_labels"], "backend": "oracle"})
    return str(index), str(work / "pseudo")


def cached(index: str, t: dict, caches: dict) -> str:
    """The index's cache file at the cell's size, decoded on first use."""
    key = (t["height"], t["width"])
    if key not in caches:
        caches[key] = str(Path(index).parent / f"{key[0]}x{key[1]}.npy")
        image_cache.build(index, *key, caches[key], threads=8)
    return caches[key]


def part_a(grid, index, pseudo, dev, smoke, caches) -> dict:
    """One engine step per method; {method: {ok, loss | error, batch, input}}."""
    out = {}
    for method in grid.params["methods"]:
        cfg = cell_cfg(grid, method, smoke, dev)
        t = cfg["train"]
        try:
            split, _, batches, _ = train_data(cfg, index, pseudo, cached(index, t, caches), dev, 4)
            model = models.build(cfg, split.num_classes).to(dev)
            step = Step(model, build_optimizer(model, t, False), t, dev)
            model.train()
            _, batch = next(batches.epoch(0))
            terms = step(batch)
            loss = float(terms["loss"])
            bad = [n for n, p in model.named_parameters() if p.device != batch["img"].device]
            assert not bad, f"parameters off the device: {bad[:3]}"
            assert np.isfinite(loss), f"loss {loss}"
            out[method] = {"ok": True, "loss": loss, "batch": len(batch["img"]), "input": [t["height"], t["width"]]}
        except Exception as err:  # noqa: BLE001 - every method is tried, failures are reported
            out[method] = {"ok": False, "error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()[-1500:]}
        print(f"(a) {method:32s} {'ok  loss %.4f' % out[method]['loss'] if out[method]['ok'] else 'FAIL ' + out[method]['error']}",
              flush=True)
        del cfg
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return out


def todays_path_loader(index: str, t: dict, batch: int, workers: int):
    """A minimal copy of the per-image input path this engine replaced (reference only)."""
    from torchvision import transforms as T

    from attnreid.data import index as index_io
    from attnreid.data.augment import NORMALIZE
    from attnreid.data.dataset import ReIDImages

    size = (t["height"], t["width"])
    steps = [T.Resize(size, interpolation=T.InterpolationMode.BICUBIC)]
    if t["flip"] > 0:
        steps.append(T.RandomHorizontalFlip(t["flip"]))
    if t["pad"] > 0:
        steps += [T.Pad(t["pad"]), T.RandomCrop(size)]
    steps += [T.ToTensor(), T.Normalize(*NORMALIZE[t["normalize"]])]
    if t["random_erasing"] > 0:
        steps.append(T.RandomErasing(p=t["random_erasing"], value="random"))
    df = index_io.split(index_io.read(index)[0], "train")
    data = ReIDImages(df, T.Compose(steps), relabel=True)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    return data, loader


def timed(fn, steps: int, warm: int, dev) -> float:
    """Images/s of `fn()` (returns the batch size) over `steps` after `warm` untimed calls."""
    for _ in range(warm):
        fn()
    sync(dev)
    n, t0 = 0, time.perf_counter()
    for _ in range(steps):
        n += fn()
    sync(dev)
    return n / (time.perf_counter() - t0)


def host_syncs(fn, calls: int, dev) -> float | None:
    """Host syncs per call of `fn`, counted by torch's CUDA sync debug mode (None off CUDA)."""
    if dev.type != "cuda":
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for _ in range(calls):
                fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught) / calls


def part_b(grid, index, dev, smoke, steps, caches) -> dict:
    out = {}
    for batch in ((8, 16) if smoke else (48, 128)):
        cfg = cell_cfg(grid, "pfsa-full", smoke, dev, batch_size=batch)
        t = cfg["train"]
        row = {"input": [t["height"], t["width"]], "batch": batch, "precision": t["precision"],
               "channels_last": t["channels_last"], "workers": t["workers"]}
        split, _, batches, _ = train_data(cfg, index, None, cached(index, t, caches), dev, 4)
        model = models.build(cfg, split.num_classes).to(dev).train()
        step = Step(model, build_optimizer(model, t, False), t, dev)
        it, epoch = iter(()), 0

        def new() -> int:
            nonlocal it, epoch
            nxt = next(it, None)
            if nxt is None:
                it, epoch = (b for _, b in batches.epoch(epoch)), epoch + 1
                nxt = next(it)
            step(nxt)
            return len(nxt["img"])

        row["new"] = timed(new, steps, 3, dev)
        row["new_host_syncs_per_step"] = host_syncs(new, 5, dev)  # goal 0: the host runs ahead of the GPU
        x = torch.randn(batch, 3, t["height"], t["width"], device=dev).contiguous(memory_format=memory_format(t))
        synthetic = {"img": x, "pid": torch.randint(0, split.num_classes, (batch,), device=dev)}

        def ceiling() -> int:
            step(synthetic)
            return batch

        row["ceiling"] = timed(ceiling, steps, 3, dev)
        old_model = models.build(cfg, split.num_classes).to(dev).train()
        old_opt = build_optimizer(old_model, t, False)
        _, loader = todays_path_loader(index, t, batch, t["workers"])
        loader_it = iter(())

        def todays_path() -> int:  # the replaced loop: fp32, a host sync per loss term
            nonlocal loader_it
            b = next(loader_it, None)
            if b is None:
                loader_it = iter(loader)
                b = next(loader_it)
            b = {k: v.to(dev) for k, v in b.items()}
            terms = old_model.losses(old_model(b["img"]), b)
            loss = sum(terms.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss {loss.item()}")
            old_opt.zero_grad(set_to_none=True)
            loss.backward()
            old_opt.step()
            _ = {k: float(v.detach()) for k, v in terms.items()}
            return len(b["img"])

        row["todays_path"] = timed(todays_path, steps, 3, dev)
        row["new_vs_ceiling"] = row["new"] / row["ceiling"]
        row["new_vs_todays_path"] = row["new"] / row["todays_path"]
        print(f"(b) pfsa-full {row['input'][0]}x{row['input'][1]} batch {batch:3d} {t['precision']}: "
              f"new {row['new']:8.1f} img/s | today's path {row['todays_path']:8.1f} | ceiling {row['ceiling']:8.1f} | "
              f"new/ceiling {row['new_vs_ceiling']:.2f} | new/today's {row['new_vs_todays_path']:.2f} | "
              f"host syncs per new step {row['new_host_syncs_per_step']}", flush=True)
        out[str(batch)] = row
        del model, step, old_model, old_opt, loader
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return out


def part_c(grid, index, dev, smoke, eval_batch, caches) -> dict:
    cfg = cell_cfg(grid, "pfsa-full", smoke, dev)
    t = cfg["train"]
    images = image_cache.load(index, t["height"], t["width"], cached(index, t, caches))
    model = models.build(cfg, 10).to(dev).eval().to(memory_format=memory_format(t))
    rows = np.arange(len(images.paths))
    features(model, images.array, rows[:eval_batch], dev, t, eval_batch, flip=True)  # warm-up
    sync(dev)
    t0 = time.perf_counter()
    f = features(model, images.array, rows, dev, t, eval_batch, flip=True)
    sync(dev)
    rate = len(rows) / (time.perf_counter() - t0)
    print(f"(c) extraction pfsa-full {t['height']}x{t['width']} batch {eval_batch} flip {t['precision']}: "
          f"{rate:.1f} img/s over {len(rows)} images, features {f.shape}", flush=True)
    return {"imgs_per_s": rate, "images": len(rows), "input": [t["height"], t["width"]], "batch": eval_batch,
            "precision": t["precision"], "dim": int(f.shape[1])}


def part_d(grid, index, dev, smoke, steps, caches) -> dict:
    cfg = cell_cfg(grid, "pfsa-full", smoke, dev)
    t = cfg["train"]
    split, _, batches, _ = train_data(cfg, index, None, cached(index, t, caches), dev, 4)
    _, batch = next(batches.epoch(0))
    eager = models.build(cfg, split.num_classes).to(dev).train()
    models_ = {"eager": eager, "compiled": copy.deepcopy(eager)}
    runs = {k: Step(m, build_optimizer(m, t, False), {**t, "compile": k == "compiled"}, dev) for k, m in models_.items()}
    row = {"input": [t["height"], t["width"]], "batch": t["batch_size"], "precision": t["precision"]}
    for k, run in runs.items():
        torch.manual_seed(0)  # one dropout draw for both
        sync(dev)
        t0 = time.perf_counter()
        row[f"{k}_first_loss"] = float(run(batch)["loss"])
        sync(dev)
        row[f"{k}_first_step_s"] = time.perf_counter() - t0

        def one_step(run=run) -> int:
            run(batch)
            return len(batch["img"])

        row[f"{k}_imgs_per_s"] = timed(one_step, steps, 2, dev)
    row["loss_rel_diff"] = abs(row["compiled_first_loss"] - row["eager_first_loss"]) / abs(row["eager_first_loss"])
    row["compiled_vs_eager"] = row["compiled_imgs_per_s"] / row["eager_imgs_per_s"]
    print(f"(d) compile pfsa-full {row['input'][0]}x{row['input'][1]} batch {row['batch']} {t['precision']}: "
          f"first step {row['compiled_first_step_s']:.1f} s (eager {row['eager_first_step_s']:.1f} s), loss "
          f"{row['compiled_first_loss']:.4f} vs eager {row['eager_first_loss']:.4f} | {row['compiled_imgs_per_s']:.1f} vs "
          f"{row['eager_imgs_per_s']:.1f} img/s, x{row['compiled_vs_eager']:.2f}", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="CPU scale: ResNet-18, 128x64, batch 8")
    ap.add_argument("--ids", type=int, default=60)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--parts", default="abcd", help="which of (a)-(d) to run")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "gpu_check.json"))
    args = ap.parse_args()
    grid = Grid(config.load(ROOT / "params.yaml", "paper"))
    cuda = torch.cuda.is_available()
    if not cuda and not args.smoke:
        print("gpu_check: no CUDA device visible to torch (torch.cuda.is_available() is False); "
              "parts (a)-(d) need one. `--smoke` runs the same code on the CPU at small scale.")
        return 2
    dev = torch.device("cuda" if cuda else "cpu")
    runtime.setup(0, 4, grid.params["train"]["deterministic"])
    steps = 2 if args.smoke else args.steps
    result = {"device": torch.cuda.get_device_name(dev) if cuda else "cpu", "torch": torch.__version__,
              "smoke": args.smoke}
    t0 = time.perf_counter()
    save = lambda: Path(args.out).write_text(json.dumps(result, indent=1) + "\n")  # after every part
    eval_batch = 8 if args.smoke else grid.params["eval"]["batch_size"]
    parts = {"a": lambda: part_a(grid, index, pseudo, dev, args.smoke, caches),
             "b": lambda: part_b(grid, index, dev, args.smoke, steps, caches),
             "c": lambda: part_c(grid, index, dev, args.smoke, eval_batch, caches),
             "d": lambda: part_d(grid, index, dev, args.smoke, steps, caches)}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        index, pseudo = data(Path(tmp), grid, 12 if args.smoke else args.ids)
        caches = {}
        for part in args.parts:
            result[part] = parts[part]()
            result["seconds"] = time.perf_counter() - t0
            save()
    failed = [m for m, r in result.get("a", {}).items() if not r["ok"]]
    if "a" in result:
        print(f"(a) {len(result['a']) - len(failed)}/{len(result['a'])} methods stepped" +
              (f"; FAILED: {', '.join(failed)}" if failed else ""))
    print(f"-> {args.out} ({result['seconds']:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
