"""`attnreid check`: everything a profile needs, checked before any job is submitted.

One row per need: each dataset's root (and, in the full check, its file counts against the
published statistics, as prepare will check them) or the command that fetches it; each weight file
the profile's cells and pseudo-label backends read from the torch cache (present; full check: its
published hash); the mediapipe env where a backend uses it; a GPU where the profile's train jobs
ask for one; free disk against an estimate of what the run writes. Status `ok`, `missing` (the
run would fail: `check` exits 1) or `unavailable` (an optional part, the backends report's row,
that the run shows as unavailable and completes without). The cheap part (no scanning, no hashing,
no GPU or disk) is what the Snakefile runs on start.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from attnreid.errors import InputError
from attnreid.grid import Grid
from attnreid.pseudo import run as pseudo_run

# Parameters per backbone (torchvision ResNets): checkpoints are estimated from these.
CONCURRENT = 8  # training jobs assumed to run at once (their checkpoints coexist)
PARAMS_M = {"resnet18": 11.7, "resnet34": 21.8, "resnet50": 25.6, "resnet101": 44.5}


@dataclass(frozen=True)
class Row:
    need: str
    item: str
    status: str  # ok | missing | unavailable
    detail: str


def weight_keys(g: Grid) -> list[str]:
    """The published weight files (models.weights keys) the profile's jobs read."""
    keys = {f"imagenet:{t['backbone']}" for t in (g.cell_config(c)["train"] for c in g.cells())
            if t["pretrained"] == "imagenet"}
    if "torchvision" in required_backends(g) | optional_backends(g):
        keys |= {"coco:maskrcnn", "coco:keypointrcnn"}
    return sorted(keys)


def required_backends(g: Grid) -> set[str]:
    """Pseudo-label backends the DAG's pseudo_labels stages run (every trained dataset has one)."""
    lab = g.params["pseudo_labels"]
    out = {lab["backend"]} if g.datasets() else set()
    if "import" in out:
        out.add(lab["import"]["masks_from"])
    return out


def optional_backends(g: Grid) -> set[str]:
    """Backends only the backends report compares: the report shows one it cannot run as unavailable."""
    return {b for _, b in g.pseudo_report_pairs()} - {"oracle"}


def data_needed(g: Grid) -> list[str]:
    """Every dataset the profile's DAG prepares."""
    return sorted({*g.datasets(), *g.params["pseudo_report"]["datasets"], *(t for _, t in g.cross_tests())})


def _dataset_row(g: Grid, name: str, cheap: bool) -> Row:
    from attnreid.data import stats
    from attnreid.data.datasets import resolve

    cfg = g.dataset_cfg(name)
    kind, opts = resolve(name, cfg)
    if g.is_synthetic(name):
        return Row("dataset", name, "ok", "synthreid: made by the DAG's synthesize stage")
    root = Path(g.raw_root(name))
    if not root.is_dir():
        arch = Path(cfg.get("archive") or f"{root}.zip")
        how = (f"run: attnreid fetch --profile {g.profile} --dataset {name}" if arch.is_file() or cfg.get("url")
               else f"place {arch.name} in {arch.parent}/ ({kind.source}), then run: "
                    f"attnreid fetch --profile {g.profile} --dataset {name}")
        return Row("dataset", name, "missing", f"{root}: not found; {how}")
    if cheap or not kind.stats or not cfg.get("check_counts", True):
        return Row("dataset", name, "ok", f"{root} present")
    try:
        df = kind.scan(root, **opts)
        stats.check(df, stats.lookup(kind.stats, opts.get("variant")), str(root), f"datasets.{name}.check_counts")
    except InputError as err:
        return Row("dataset", name, "missing", str(err))
    found = ", ".join(f"{split} {n['images']}" for split, n in stats.counts(df)["splits"].items())
    return Row("dataset", name, "ok", f"{root}: counts match the published ones ({found})")


def _weight_rows(g: Grid, cheap: bool) -> list[Row]:
    from attnreid.models import weights

    rows = []
    for key in weight_keys(g):
        path = weights.cache_file(weights.published(key))
        if not path.is_file():
            rows.append(Row("weights", key, "missing", f"{path} not found; run: attnreid fetch-weights --profile "
                                                       f"{g.profile}"))
        elif not cheap and not weights.sha256_file(path).startswith(weights.published_prefix(path)):
            rows.append(Row("weights", key, "missing", f"{path}: does not match its published hash; delete it and "
                                                       f"run: attnreid fetch-weights --profile {g.profile}"))
        else:
            rows.append(Row("weights", key, "ok", f"{path}" + ("" if cheap else " (published hash matches)")))
    for path in sorted({t["pretrained"] for t in (g.cell_config(c)["train"] for c in g.cells())} - {"imagenet", "none"}):
        ok = Path(path).is_file()
        rows.append(Row("weights", path, "ok" if ok else "missing", "train.pretrained file" + ("" if ok else " not found")))
    return rows


def _backend_rows(g: Grid) -> list[Row]:
    rows = []
    required = required_backends(g)
    for backend in sorted(required | optional_backends(g)):
        why = pseudo_run.unavailable(backend, g.params["pseudo_labels"])
        use = "pseudo_labels stage (training)" if backend in required else "backends report only"
        if why is None:
            rows.append(Row("pseudo-labels", backend, "ok", use))
        else:
            rows.append(Row("pseudo-labels", backend, "missing" if backend in required else "unavailable",
                            f"{use}: {why}"))
    return rows


def _gpu_row(g: Grid) -> Row | None:
    if not g.params["resources"]["train"].get("gpu", 0):
        return None
    import torch

    if torch.cuda.is_available():
        return Row("gpu", "train", "ok", f"{torch.cuda.device_count()} visible ({torch.cuda.get_device_name(0)})")
    sinfo = shutil.which("sinfo")
    if sinfo:
        res = subprocess.run([sinfo, "-h", "-o", "%G"], capture_output=True, text=True, timeout=30)
        if "gpu" in res.stdout:
            return Row("gpu", "train", "ok", "none here; SLURM offers GPUs (sinfo: gres "
                                             f"{' '.join(sorted(set(res.stdout.split())))})")
    return Row("gpu", "train", "missing", "resources.train.gpu asks for one: no CUDA device visible and no SLURM "
                                          "partition with gres gpu (sinfo)")


def _test_images(g: Grid, name: str) -> int:
    """Query + gallery images of a dataset: the published counts, or synthreid's knobs."""
    from attnreid.data import stats
    from attnreid.data.datasets import resolve

    kind, opts = resolve(name, g.dataset_cfg(name))
    if kind.stats is None:
        return 10_000
    splits = stats.lookup(kind.stats, opts.get("variant")).splits
    return sum(splits.get(s, {}).get("images", 0) for s in ("query", "gallery", "gt_bbox"))


def disk_estimate(g: Grid) -> int:
    """Bytes the run writes beside the datasets, estimated: per cell its model (the backbone's
    parameters x 4 B, x 1.5 for heads) and its features (test images x 2,048 float32); the
    checkpoints of up to CONCURRENT training cells (x 3: weights and two optimizer moments; each is
    deleted when its cell ends); per dataset 1 GB of indexes, pseudo-labels and logs."""
    sizes = [(PARAMS_M.get(g.cell_config(c)["train"]["backbone"], 50) * 1e6 * 4 * 1.5, c) for c in g.cells()]
    total = sum(model + _test_images(g, c.dataset) * 2048 * 4 for model, c in sizes)
    total += 3 * sum(sorted((m for m, _ in sizes), reverse=True)[:CONCURRENT])
    return int(total) + len(data_needed(g)) * 1_000_000_000


def _disk_row(g: Grid) -> Row:
    need = disk_estimate(g)
    where = Path.cwd()
    free = shutil.disk_usage(where).free
    status = "ok" if free >= need else "missing"
    return Row("disk", str(where), status, f"{free / 1e9:.1f} GB free, the run writes up to ~{need / 1e9:.1f} GB "
                                           "(checkpoints, features, indexes)")


def rows(g: Grid, cheap: bool = False) -> list[Row]:
    out = [_dataset_row(g, d, cheap) for d in data_needed(g)] + _weight_rows(g, cheap) + _backend_rows(g)
    if not cheap:
        out += [r for r in (_gpu_row(g), _disk_row(g)) if r is not None]
    return out


def table(g: Grid, checked: list[Row]) -> str:
    lines = [f"attnreid check, profile {g.profile}:", "| need | item | status | detail |", "|---|---|---|---|"]
    lines += [f"| {r.need} | {r.item} | {r.status} | {r.detail} |" for r in checked]
    return "\n".join(lines)


def failures(checked: list[Row]) -> list[str]:
    """One line per missing need (what stops the run)."""
    return [f"{r.need} {r.item}: {r.detail}" for r in checked if r.status == "missing"]
