"""Figures: one function per figure kind, `draw(figure, grid, out_png)`; chosen by Figure.kind."""
from __future__ import annotations

import importlib

KINDS = {"cmc": "attnreid.viz.cmc", "ranklist": "attnreid.viz.ranklist"}


def draw(figure, grid, out_png: str) -> None:
    importlib.import_module(KINDS[figure.kind]).draw(figure, grid, out_png)
