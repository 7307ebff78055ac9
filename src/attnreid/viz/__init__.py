"""Figures: the module `attnreid.viz.<Figure.kind>` draws a figure with `draw(figure, grid, out_png)`."""
from __future__ import annotations

import importlib


def draw(figure, grid, out_png: str) -> None:
    importlib.import_module(f"{__name__}.{figure.kind}").draw(figure, grid, out_png)
