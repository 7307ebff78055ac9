"""Quality of pseudo-labels: a report on their own, and a comparison against reference labels.

A person is found in an image when it has at least one keypoint or a non-empty mask.
Against a reference (synthreid's ground truth, or published keypoints): mask IoU averaged over
images whose reference mask is non-empty; PCK@0.1 = share of the reference's keypoints that the
labels have within 0.1 x the box height, a keypoint they miss counting as wrong. The box height is
that of the reference mask's bounding box, or the image height where there is no reference mask
(re-ID crops are person boxes). `invented` = share of predicted keypoints the reference lacks, among
the names the reference ever has (MATLAB-14 published keypoints have no face points).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from attnreid.errors import InputError
from attnreid.pseudo import coco, store
from attnreid.pseudo.store import Labels

PCK_ALPHA = 0.1


def _rate(num, den) -> float | None:
    return round(float(num) / float(den), 4) if den else None


def report(labels: Labels) -> dict:
    present = labels.keypoints[..., 2] > 0
    area = labels.masks.area()
    person = present.any(axis=1) | (area > 0)
    n = len(labels.paths)
    return {
        "images": n,
        "detection_rate": _rate(person.sum(), n),
        "no_person_share": _rate((~person).sum(), n),
        "keypoint_rate": _rate(present.sum(), present.size),
        "keypoint_rate_per_name": {k: _rate(present[:, i].sum(), n) for i, k in enumerate(coco.NAMES)},
        "mean_confidence": _rate(labels.keypoints[..., 2][present].sum(), present.sum()),
        "mean_mask_area": _rate(area[person].sum(), person.sum()),
    }


def _box_height(mask: np.ndarray) -> float:
    rows = np.flatnonzero(mask.any(axis=1))
    return float(rows[-1] - rows[0] + 1) if len(rows) else float(mask.shape[0])


def compare(labels: Labels, ref: Labels, use_masks: bool = True) -> dict:
    """Compare `labels` with `ref` over the images both have (matched by path)."""
    at = {p: i for i, p in enumerate(labels.paths)}
    pairs = [(at[p], j) for j, p in enumerate(ref.paths) if p in at]
    if not pairs:
        raise InputError("pseudo-label comparison: the two label sets share no image path")
    ious, hits, labelled, invented, predicted = [], np.zeros(coco.K), np.zeros(coco.K), 0, 0
    covered = ref.keypoints[[j for _, j in pairs], :, 2].max(axis=0) > 0  # names the reference's layout has
    for i, j in pairs:
        ref_mask = ref.masks[j]
        if use_masks and ref_mask.any():
            m = labels.masks[i]
            ious.append((m & ref_mask).sum() / (m | ref_mask).sum())
        height = _box_height(ref_mask) if use_masks else float(ref.masks.shape[j][0])
        p, r = labels.keypoints[i], ref.keypoints[j]
        have_p, have_r = p[:, 2] > 0, r[:, 2] > 0
        near = have_p & have_r & (np.linalg.norm(np.nan_to_num(p[:, :2] - r[:, :2], nan=np.inf), axis=1)
                                  <= PCK_ALPHA * height)
        hits += near
        labelled += have_r
        invented += (have_p & ~have_r & covered).sum()
        predicted += (have_p & covered).sum()
    out = {"images": len(pairs), f"pck@{PCK_ALPHA}": _rate(hits.sum(), labelled.sum()),
           f"pck@{PCK_ALPHA}_per_name": {k: _rate(hits[i], labelled[i]) for i, k in enumerate(coco.NAMES)},
           "invented": _rate(invented, predicted)}
    if use_masks:
        out["mask_iou"] = round(float(np.mean(ious)), 4) if ious else None
    return out


def compare_folders(folder: str | Path, ref_folder: str | Path) -> dict:
    """Compare two pseudo-label folders; masks count unless the reference's are borrowed (import)."""
    ref_prov = store.read_json(ref_folder, "provenance.json")
    prov = store.read_json(folder, "provenance.json")
    out = compare(store.read(folder), store.read(ref_folder), use_masks=ref_prov["backend"] != "import")
    return {"dataset": prov["dataset"], "labels": prov["backend"], "reference": ref_prov["backend"],
            "reference_is_ground_truth": bool(ref_prov.get("ground_truth")),
            "detection_rate": store.read_json(folder, "quality.json")["detection_rate"], **out}


COLUMNS = (("dataset", "dataset", "{}"), ("labels", "labels", "{}"), ("reference", "reference", "{}"),
           ("images", "images", "{}"), ("detection_rate", "person found", "{:.3f}"), ("mask_iou", "mask IoU", "{:.3f}"),
           (f"pck@{PCK_ALPHA}", f"PCK@{PCK_ALPHA}", "{:.3f}"), ("invented", "invented", "{:.3f}"))


def markdown(rows: list[dict]) -> str:
    """A table of comparison rows (compare_folders' keys), one row each; n/a where a number is missing."""
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|" + "|".join("---" if fmt == "{}" and key != "images" else "---:" for key, _, fmt in COLUMNS) + "|"]
    for r in rows:
        cells = []
        for key, _, fmt in COLUMNS:
            val = r.get(key)
            if key == "reference" and r["reference_is_ground_truth"]:
                val = f"{val} (ground truth)"
            cells.append("n/a" if val is None else fmt.format(val))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
