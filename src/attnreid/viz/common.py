"""Shared figure plumbing: headless matplotlib and atomic PNG writes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from attnreid.atomic import atomic_path  # noqa: E402


def save(fig, out_png: str) -> None:
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
