"""The pseudo-label backends report: each compared dataset x backend against a reference.

Reference: synthreid's ground truth for a synthetic dataset (each backend folder's quality.json
already holds its comparison with the pure ground truth, whatever the oracle's degradation
settings), else the published keypoints (the `import` backend, keypoints only: its masks are
another backend's). Writes the table (md, csv) and copies each folder's overlay beside it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from attnreid.atomic import atomic_path, write_text
from attnreid.pseudo import quality, store


def rows(grid) -> list[dict]:
    out = []
    for dataset, backend in grid.pseudo_report_pairs():
        ref = grid.pseudo_reference(dataset)
        folder = grid.pseudo_compare(dataset, backend)
        if backend == ref and not grid.is_synthetic(dataset):
            continue  # published keypoints: the reference, not a row
        ref_why = None if backend == ref else _unavailable(grid.pseudo_compare(dataset, ref))
        why = _unavailable(folder) or (ref_why and f"its reference ({ref}) is unavailable: {ref_why}")
        if why:
            out.append({"dataset": dataset, "labels": f"{backend} (unavailable)", "reference": ref,
                        "reference_is_ground_truth": grid.is_synthetic(dataset), "unavailable": why})
        elif grid.is_synthetic(dataset):
            qual = store.read_json(folder, "quality.json")
            out.append({"dataset": dataset, "labels": backend, "reference": "synthreid",
                        "reference_is_ground_truth": True, "detection_rate": qual["detection_rate"],
                        **qual["vs_ground_truth"]})
        else:
            out.append(quality.compare_folders(folder, grid.pseudo_compare(dataset, ref)))
    return out


def _unavailable(folder: str) -> str | None:
    """The reason a compare stage left instead of labels (its backend could not run), or None."""
    return store.read_json(folder, "provenance.json").get("unavailable")


def render(grid, out_md: str) -> None:
    table = rows(grid)
    csv, *overlays = grid.pseudo_report_outs()[1:]
    rep = grid.params["pseudo_report"]
    text = (f"# Pseudo-label backends (first {rep['max_images']} images of each index)\n\n" + quality.markdown(table)
            + "\nPCK@0.1: share of the reference's keypoints found within 0.1 x the person's height; invented: share "
              "of predicted keypoints the reference lacks; `oracle` rows are synthreid's own labels (degraded as "
              "params.yaml pseudo_labels.oracle says). Overlays: results/pseudo/<dataset>/<backend>.png.\n"
            + "".join(f"\n**{r['labels']} on {r['dataset']}**: {r['unavailable']}; its row is empty.\n"
                      for r in table if r.get("unavailable")))
    flat = [{k: v for k, v in r.items() if not isinstance(v, dict)} for r in table]
    for (dataset, backend), dst in zip(grid.pseudo_report_pairs(), overlays, strict=True):
        with atomic_path(dst) as tmp:
            shutil.copyfile(Path(grid.pseudo_compare(dataset, backend)) / "overlay.png", tmp)
    with atomic_path(csv) as tmp:
        pd.DataFrame(flat).to_csv(tmp, index=False)
    write_text(out_md, text)
