"""attnreid: the tables and figures of four attention person re-ID papers, regenerated as a DAG.

`attnreid.evaluate` and `attnreid.k_reciprocal_rerank` are the public evaluation API; they are
imported lazily so that reading params (the Snakefile does) stays fast.
"""
from __future__ import annotations

__all__ = ["evaluate", "k_reciprocal_rerank"]


def __getattr__(name: str):
    if name in __all__:
        from attnreid import eval as _eval

        return getattr(_eval, name)
    raise AttributeError(f"module 'attnreid' has no attribute {name!r}")
