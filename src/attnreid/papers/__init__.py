"""Registry of every declared table and figure: each module of this package that exports TABLES
and FIGURES is a paper (adding a paper adds a module here, nothing else); its CLAIMS (optional) are
its comparative claims."""
from __future__ import annotations

import importlib
import pkgutil

from attnreid.errors import InputError
from attnreid.papers.spec import Arm, Claim, Comparison, FactTable, Figure, PairedTable, Row, Table

_MODULES = [m for m in (importlib.import_module(f"{__name__}.{i.name}") for i in pkgutil.iter_modules(__path__))
            if hasattr(m, "TABLES")]
TABLES: dict[str, Table | FactTable] = {t.id: t for m in _MODULES for t in m.TABLES}
FIGURES: dict[str, Figure] = {f.id: f for m in _MODULES for f in m.FIGURES}
CLAIMS: dict[str, Claim] = {c.id: c for m in _MODULES for c in getattr(m, "CLAIMS", ())}


def table(table_id: str) -> Table | FactTable:
    if table_id not in TABLES:
        raise InputError(f"params.yaml: tables: unknown table '{table_id}' (have {sorted(TABLES)})")
    return TABLES[table_id]


def figure(figure_id: str) -> Figure:
    if figure_id not in FIGURES:
        raise InputError(f"params.yaml: figures: unknown figure '{figure_id}' (have {sorted(FIGURES)})")
    return FIGURES[figure_id]


__all__ = ["Arm", "Claim", "Comparison", "FactTable", "Figure", "PairedTable", "Row", "Table", "TABLES", "FIGURES", "CLAIMS", "table", "figure"]
