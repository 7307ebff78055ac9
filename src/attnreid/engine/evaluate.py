"""The evaluate stage: features.npz -> metrics.json (CMC, mAP, mINP; plain and re-ranked; and
Market-1501 multi-query under `multi_query` when the features include gt_bbox images)."""
from __future__ import annotations

import json
import time

import numpy as np

from attnreid.atomic import write_text
from attnreid.errors import InputError
from attnreid.eval import evaluate, k_reciprocal_rerank
from attnreid.eval.distance import pairwise_distance
from attnreid.eval.metrics import multi_query_probes


def load_features(path: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable features file ({exc})") from None
    for split in ("query", "gallery"):
        if not np.isfinite(arrays[f"{split}_feat"]).all():
            raise InputError(f"{path}: {split} features contain NaN or inf")
    return arrays


def summarise(res: dict) -> dict:
    cmc = np.asarray(res["cmc"], dtype=float)
    at = lambda r: float(cmc[min(r, len(cmc)) - 1])  # noqa: E731  (past the gallery: its last value)
    return {"R1": at(1), "R3": at(3), "R5": at(5), "R10": at(10),
            "mAP": float(res["mAP"]), "mINP": float(res["mINP"]), "cmc": cmc.tolist()}


def _plain_and_reranked(q, g, ids: tuple, eval_cfg: dict) -> dict:
    """Metrics of probes `q` against gallery `g`, and {"rerank": the same after re-ranking}."""
    metric, rr = eval_cfg["metric"], eval_cfg["rerank"]
    qg = pairwise_distance(q, g, metric)
    plain = summarise(evaluate(qg, *ids, max_rank=eval_cfg["max_rank"]))
    reranked = k_reciprocal_rerank(qg, pairwise_distance(q, q, metric), pairwise_distance(g, g, metric),
                                   k1=rr["k1"], k2=rr["k2"], lambda_value=rr["lambda"])
    return {**plain, "rerank": summarise(evaluate(reranked, *ids, max_rank=eval_cfg["max_rank"]))}


def _multi_query(f: dict, path: str, eval_cfg: dict) -> dict:
    """Market-1501 multi-query: each query image's probe is the average feature of the gt_bbox
    images of its identity and camera (Market's evaluation), then as single-query."""
    try:
        probes, pids, camids = multi_query_probes(f["gt_bbox_feat"], f["gt_bbox_pid"], f["gt_bbox_camid"], "avg",
                                                  f["query_pid"], f["query_camid"])
    except ValueError as exc:
        raise InputError(f"{path}: multi-query: {exc}") from None
    ids = (pids, f["gallery_pid"], camids, f["gallery_camid"])
    return {**_plain_and_reranked(probes, f["gallery_feat"], ids, eval_cfg), "num_images": int(len(f["gt_bbox_feat"]))}


def evaluate_features(path: str, eval_cfg: dict) -> dict:
    """Single-query metrics (plain and re-ranked); `multi_query` too when the features have gt_bbox images."""
    f = load_features(path)
    q, g = f["query_feat"], f["gallery_feat"]
    ids = (f["query_pid"], f["gallery_pid"], f["query_camid"], f["gallery_camid"])
    t0 = time.perf_counter()
    out = _plain_and_reranked(q, g, ids, eval_cfg)
    if "gt_bbox_feat" in f:
        out["multi_query"] = _multi_query(f, path, eval_cfg)
    return {**out, "num_query": int(len(q)), "num_gallery": int(len(g)),
            "eval_seconds": time.perf_counter() - t0, "train": json.loads(str(f["train_meta"]))}


def run(features_path: str, out: str, eval_cfg: dict, cell_id: str) -> dict:
    metrics = {"cell": cell_id, **evaluate_features(features_path, eval_cfg)}
    write_text(out, json.dumps(metrics, indent=1))
    return metrics
