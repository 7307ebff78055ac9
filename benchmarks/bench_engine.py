"""The training engine against the per-image path it replaced, side by side in one run.

    python benchmarks/bench_engine.py [--ref COMMIT] [--part input|step|all] [--out benchmarks/engine.json]

Both versions run from their own source tree: this checkout's `src/`, and `--ref`'s (default: the
last commit with the per-image path) unpacked with `git archive` into a temporary folder. Each
measurement is a subprocess with that tree on PYTHONPATH, old and new alternating, `--rounds` times.

- input: training images/s of the input pipeline on one core (one torch thread, no loader
  worker), over synthreid's synth-market train split (JPEGs, 60 ids): the old path (PIL decode,
  bicubic resize, per-image flip / pad + crop / ToTensor / Normalize / RandomErasing, collate) against
  the new (rows of the decode-once cache, batched augmentation), at the PFSA recipe (method
  `pfsa-full`: 384x128, flip + random erasing, batch 48) and DAAF's (`daaf-trinet`: 256x128, pad
  + crop, masks and keypoints, P x K 18 x 4), and the CPU's share of the new path when the cell
  trains on a GPU (the gather of the batch's uint8 cache rows; augmentation runs on the device).
  The one-off decode of the cache is timed apart.
- step: whole training runs (`attnreid train`) of the baseline cell of the smoke and default
  profiles on their synth-market, each version with its own params.yaml (the new one with the old
  one's `eval` section: test-time flip as then): mean images/s over the epochs (the run's
  `imgs_per_s`, data loading included), and for default, R1/mAP after extract and evaluate (seed
  r in round r).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REF = "b1daa25"  # the last commit whose training read images one at a time (data/transforms.py)
RECIPES = {"pfsa": "pfsa-full", "daaf": "daaf-trinet"}


def tree_of(ref: str, dst: Path) -> Path:
    """`ref`'s src/, params.yaml and workflow/ unpacked into dst."""
    dst.mkdir(parents=True)
    tar = subprocess.run(["git", "archive", ref, "src", "params.yaml", "workflow"], cwd=ROOT, capture_output=True,
                         check=True).stdout
    tmp = dst / "ref.tar"
    tmp.write_bytes(tar)
    with tarfile.open(tmp) as tf:
        tf.extractall(dst, filter="data")
    tmp.unlink()
    return dst


def sub(tree: Path, args: list[str], threads: int = 1, cwd: Path | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": str(threads)}
    res = subprocess.run([sys.executable, *args], cwd=cwd or tree, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed in {tree}:\n{res.stderr[-3000:]}")
    return res.stdout


def cli(tree: Path, *args: str, threads: int = 1) -> str:
    return sub(tree, ["-m", "attnreid.cli", *args], threads)


# -- measurements, run in a subprocess under one tree ---------------------------------------------
def measure_input(version: str, recipe: str, index: str, pseudo: str, cache: str | None, images: int) -> dict:
    """old: per-image decode + transforms (what the loader's workers did); new: cache rows + batched
    augmentation, both on the CPU (a CPU-trained cell); gather: the CPU's share when the cell trains
    on a GPU -- the loader gathers the batch's uint8 cache rows and the augmentation runs on the device.
    Timed from the second epoch on, each arm alike (steady state: the first epoch touches every JPEG
    file or cached row once)."""
    import torch

    from attnreid import config
    from attnreid.grid import Cell, Grid

    torch.set_num_threads(1)
    grid = Grid(config.load("params.yaml", "paper"))
    cfg = grid.cell_config(Cell("synth-market", RECIPES[recipe], 0))
    t = cfg["train"]
    t.update(workers=0, device="cpu")
    from attnreid.engine.train import train_data

    if version == "old":  # a DataLoader over per-image transforms
        _, _, loader, _ = train_data(cfg, index, pseudo)
        epoch = lambda e: iter(loader)
    else:  # TrainBatches over the cache
        _, _, loader, _ = train_data(cfg, index, pseudo, cache, "cpu", 1)
        if version == "gather":
            epoch = lambda e: ({"img": raw} for _, _, raw in loader.raw_epoch(e))
        else:
            epoch = lambda e: (b for _, b in loader.epoch(e, overwrite=True))  # as the training loop draws them
    for _ in epoch(0):  # one untimed epoch: every file or cached row read once, as after a run's first epoch
        pass
    e, n, t0 = 1, 0, time.perf_counter()
    batches = epoch(e)
    while n < images:
        batch = next(batches, None)
        if batch is None:
            e += 1
            batches = epoch(e)
            continue
        n += len(batch["img"])
    secs = time.perf_counter() - t0
    return {"imgs_per_s": n / secs, "images": n, "batch": len(batch["img"]), "input": [t["height"], t["width"]],
            "pose": "mask" in batch}


# -- driver ----------------------------------------------------------------------------------------
def prepare_data(tree: Path, work: Path, profile: str) -> tuple[str, str]:
    raw, index, pseudo = work / profile / "raw", work / profile / "prepared" / "index.csv", work / profile / "pseudo"
    common = ["--params", str(tree / "params.yaml"), "--profile", profile]
    cli(tree, "synthesize", *common, "--dataset", "synth-market", "--out", str(raw))
    cli(tree, "prepare", *common, "--dataset", "synth-market", "--root", str(raw), "--out", str(index))
    cli(tree, "pseudo-labels", *common, "--dataset", "synth-market", "--index", str(index), "--out", str(pseudo),
        "--backend", "oracle")
    return str(index), str(pseudo)


def build_cache(tree: Path, index: str, h: int, w: int, out: Path, threads: int = 1) -> float:
    t0 = time.perf_counter()
    cli(tree, "cache", "--params", str(tree / "params.yaml"), "--dataset", "synth-market", "--index", index,
        "--height", str(h), "--width", str(w), "--out", str(out), "--threads", str(threads), threads=threads)
    return time.perf_counter() - t0


def input_part(old: Path, new: Path, work: Path, index: str, pseudo: str, rounds: int, images: int, out: dict,
               save) -> dict:
    for recipe, method in RECIPES.items():
        size = {"pfsa": (384, 128), "daaf": (256, 128)}[recipe]
        npy = work / "cache" / f"{size[0]}x{size[1]}.npy"
        decode_s = build_cache(new, index, *size, npy)
        runs = {"old": [], "new": [], "gather": []}
        for _ in range(rounds):
            for version, tree in (("old", old), ("new", new), ("gather", new)):
                res = json.loads(sub(tree, [__file__, "--measure-input", version, "--recipe", recipe, "--index", index,
                                            "--pseudo", pseudo, "--cache", str(npy), "--images", str(images)]))
                runs[version].append(res["imgs_per_s"])
                if version == "new":
                    shape = res
        old_v, new_v, gather_v = (statistics.median(runs[k]) for k in ("old", "new", "gather"))
        out[recipe] = {"method": method, "input": list(size), "batch": shape["batch"], "pose": shape["pose"],
                       "old_imgs_per_s": old_v, "new_imgs_per_s": new_v, "ratio": new_v / old_v,
                       "gather_imgs_per_s": gather_v, "gather_ratio": gather_v / old_v, "runs": runs,
                       "cache_decode_s": decode_s}
        print(f"input {recipe:5s} {size[0]}x{size[1]} batch {shape['batch']:3d}{' +pose' if shape['pose'] else '      '}: "
              f"old {old_v:8.1f} img/s | new, augmented on the CPU {new_v:8.1f} img/s x{new_v / old_v:.1f} | "
              f"new, CPU share when augmenting on a GPU {gather_v:8.1f} img/s x{gather_v / old_v:.0f}  "
              f"(cache decode {decode_s:.1f} s)", flush=True)
        save()
    return out


def with_eval_of(params: Path, other: Path, out: Path) -> Path:
    """`params` with `other`'s `eval` section, written to `out`: the old tree averaged test features
    with the mirror image (eval.flip, turned off since by issue 18), so the new tree's runs are
    extracted the same way and the metrics differ by the engine only."""
    doc = yaml.safe_load(params.read_text())
    doc["eval"] = yaml.safe_load(other.read_text())["eval"]
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def step_part(old: Path, new: Path, work: Path, rounds: int, threads: int, profiles: list[str], out: dict,
              save) -> dict:
    from attnreid.engine import checkpoint  # reads the old tree's model files too (its legacy types are allow-listed)

    params = {"old": old / "params.yaml",
              "new": with_eval_of(new / "params.yaml", old / "params.yaml", work / "params-new.yaml")}
    for profile in profiles:
        index, pseudo = prepare_data(new, work, profile)
        npy = work / profile / "cache" / "64x32.npy"
        decode_s = build_cache(new, index, 64, 32, npy)
        runs, metrics = {"old": [], "new": []}, {"old": [], "new": []}
        for seed in range(rounds):
            cell = f"synth-market/baseline/s{seed}"
            for version, tree in (("old", old), ("new", new)):
                run = work / profile / version / f"s{seed}"
                common = ["--params", str(params[version]), "--profile", profile, "--cell", cell]
                extra = ["--cache", str(npy)] if version == "new" else []
                cli(tree, "train", *common, "--index", index, "--pseudo", pseudo, "--out", str(run / "model.pt"),
                    "--live", str(run / "live"), "--threads", str(threads), *extra, threads=threads)
                runs[version].append(checkpoint.load(run / "model.pt", "rerun the benchmark")["meta"]["imgs_per_s"])
                if profile == "default":
                    cli(tree, "extract", *common, "--index", index, "--checkpoint", str(run / "model.pt"),
                        "--out", str(run / "features.npz"), "--threads", str(threads), *extra, threads=threads)
                    cli(tree, "evaluate", *common, "--features", str(run / "features.npz"), "--out", str(run / "m.json"))
                    m = json.loads((run / "m.json").read_text())
                    metrics[version].append({"R1": m["R1"], "mAP": m["mAP"]})
        old_v, new_v = statistics.median(runs["old"]), statistics.median(runs["new"])
        out[profile] = {"cell": "synth-market/baseline", "old_imgs_per_s": old_v, "new_imgs_per_s": new_v,
                        "ratio": new_v / old_v, "runs": runs, "metrics": metrics, "cache_decode_s": decode_s}
        line = f"step  {profile:7s} baseline 64x32, {threads} thread(s): old {old_v:7.1f} img/s | new {new_v:7.1f} img/s | x{new_v / old_v:.2f}"
        if metrics["old"]:
            fmt = lambda ms: " ".join(f"{100 * m['R1']:.1f}/{100 * m['mAP']:.1f}" for m in ms)
            line += f"  R1/mAP per seed: old {fmt(metrics['old'])} | new {fmt(metrics['new'])}"
        print(line, flush=True)
        save()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default=REF, help="the commit of the old path")
    ap.add_argument("--part", default="all", choices=["input", "step", "all"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--images", type=int, default=1000, help="images per input-pipeline measurement")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the training runs")
    ap.add_argument("--profiles", nargs="+", default=["smoke", "default"], help="profiles of the step part")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "engine.json"))
    ap.add_argument("--measure-input", choices=["old", "new", "gather"], help=argparse.SUPPRESS)
    ap.add_argument("--recipe", choices=sorted(RECIPES), help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    ap.add_argument("--pseudo", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_input:
        print(json.dumps(measure_input(args.measure_input, args.recipe, args.index, args.pseudo, args.cache, args.images)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        work = Path(tmp)
        old = tree_of(args.ref, work / "old")
        new = ROOT
        result = {"ref": args.ref, "machine": f"{os.cpu_count()} CPUs, shared with other jobs",
                  "torch_threads_input": 1, "torch_threads_step": args.threads}
        save = lambda: Path(args.out).write_text(json.dumps(result, indent=1) + "\n")  # after every row
        if args.part in ("input", "all"):
            index, pseudo = prepare_data(new, work, "default")
            input_part(old, new, work, index, pseudo, args.rounds, args.images, result.setdefault("input", {}), save)
        if args.part in ("step", "all"):
            step_part(old, new, work, args.rounds, args.threads, args.profiles, result.setdefault("step", {}), save)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
