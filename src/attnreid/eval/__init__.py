"""Evaluation: re-ID metrics (CMC, mAP, mINP) under the standard protocols, k-reciprocal re-ranking,
and pairwise distances."""
from __future__ import annotations

from .distance import pairwise_distance
from .metrics import evaluate, evaluate_multi_query, evaluate_partial
from .rerank import k_reciprocal_rerank, k_reciprocal_rerank_features

__all__ = [
    "evaluate",
    "evaluate_multi_query",
    "evaluate_partial",
    "k_reciprocal_rerank",
    "k_reciprocal_rerank_features",
    "pairwise_distance",
]
