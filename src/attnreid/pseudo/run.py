"""The pseudo_labels stage: one backend labels every image of an index, into one folder.

DAAF (section 3.3.2) supervises its mask and keypoint branches with the outputs of detectors
pretrained on COCO (CPN keypoints, a ResNet-50 mask head). Backends: none (provenance.json only),
oracle (synthreid's ground truth), mediapipe, torchvision, import (published Market-1501 keypoints,
masks from another backend). The folder appears complete or not at all (see attnreid.pseudo.store).
"""
from __future__ import annotations

import logging
from importlib import import_module
from pathlib import Path

import pandas as pd

from attnreid.atomic import atomic_path
from attnreid.data import index as index_io
from attnreid.errors import InputError
from attnreid.pseudo import imported, oracle, overlay, quality, store
from attnreid.pseudo.provenance import sha256, versions
from attnreid.pseudo.store import Labels

log = logging.getLogger(__name__)
BACKENDS = {"oracle": "attnreid.pseudo.oracle", "mediapipe": "attnreid.pseudo.mediapipe_backend",
            "torchvision": "attnreid.pseudo.torchvision_backend"}


def label(backend: str, df: pd.DataFrame, meta: dict, cfg: dict) -> tuple[Labels, dict]:
    """Labels of every row of `df` by `backend` (cfg = params' pseudo_labels block) and its provenance."""
    if backend == "import":
        sub = cfg["import"]
        if sub["masks_from"] not in BACKENDS:
            raise InputError(f"params.yaml: pseudo_labels.import.masks_from: one of {sorted(BACKENDS)}")
        masked, mask_info = label(sub["masks_from"], df, meta, cfg)
        kps, info = imported.keypoints(df, meta, sub["keypoints"])
        info["masks"] = {"backend": sub["masks_from"], "parameters": cfg[sub["masks_from"]], **mask_info}
        return Labels(masked.paths, kps, masked.masks), info
    if backend not in BACKENDS:
        raise InputError(f"params.yaml: pseudo_labels.backend: unknown backend '{backend}'")
    return import_module(BACKENDS[backend]).label(df, meta, cfg[backend])


def unavailable(backend: str, cfg: dict) -> str | None:
    """Why `backend` cannot run on this machine (checked without running it: its env or weight
    files are missing), or None. cfg = params' pseudo_labels block."""
    if backend == "import":
        absent = [p for p in cfg["import"]["keypoints"] if not Path(p).is_file()]
        if absent:
            return f"{absent[0]}: published keypoints not found (pseudo_labels.import.keypoints)"
        return unavailable(cfg["import"]["masks_from"], cfg)
    module = import_module(BACKENDS[backend]) if backend in BACKENDS else None
    return module.unavailable(cfg[backend]) if hasattr(module, "unavailable") else None


def _describe(backend: str, cfg: dict) -> str:
    """How the overlay names its labels; ground truth is always called so."""
    if backend == "oracle":
        return f"oracle = GROUND TRUTH of synthreid {cfg['oracle']}"
    if backend == "import":
        masks = cfg["import"]["masks_from"]
        return f"import (published keypoints), masks from {_describe(masks, cfg) if masks == 'oracle' else masks}"
    return f"{backend} (machine labels)"


def run(dataset: str, index_csv: str | Path, out_dir: str | Path, cfg: dict, backend: str | None = None,
        max_images: int | None = None, optional: bool = False) -> dict:
    """Write the pseudo-label folder `out_dir` for the index; return its provenance record.

    `backend` overrides cfg's; `max_images` labels only the first rows of the index (the backends report).
    `optional` (the backends report): a backend that cannot run here leaves a folder saying so
    (provenance `unavailable`: the reason; overlay.png a card with it), which the report shows as its row.
    """
    df, meta = index_io.read(index_csv)
    if max_images is not None:
        df = df.head(max_images)
    backend = backend or cfg["backend"]
    prov = {"dataset": dataset, "backend": backend, "images": len(df), "index_sha256": sha256(index_csv),
            "attnreid": versions("attnreid")["attnreid"]}
    why = unavailable(backend, cfg) if optional else None
    if why:
        prov["unavailable"] = why
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            overlay.card(f"{dataset}: {backend} UNAVAILABLE: {why}", tmp / "overlay.png")
            store.write_json(tmp / "provenance.json", prov)
        log.warning("pseudo-labels for %s: backend %s unavailable (%s); the backends report shows it", dataset,
                    backend, why)
        return prov
    if backend == "none":
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            store.write_json(tmp / "provenance.json", prov)
        return prov
    labels, info = label(backend, df, meta, cfg)
    truth = backend == "oracle"
    prov.update(info, ground_truth=truth, parameters=cfg[backend])
    qual = {"backend": backend, "ground_truth": truth, **quality.report(labels)}
    if oracle.annotations_dir(meta) is not None:
        qual["vs_ground_truth"] = quality.compare(labels, oracle.ground_truth(df, meta)[0])
    overlay_title = f"{dataset}: {_describe(backend, cfg)}"
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        store.write(tmp, labels)
        store.write_json(tmp / "quality.json", qual)
        overlay.draw(labels, meta["root"], overlay_title, tmp / "overlay.png")
        store.write_json(tmp / "provenance.json", prov)
    log.info("pseudo-labels for %s (%s): person in %.1f%% of %d images", dataset, backend,
             100 * qual["detection_rate"], len(df))
    return prov
