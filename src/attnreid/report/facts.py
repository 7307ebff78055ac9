"""Render a FactTable: facts of the prepared data or of the built model, each beside the paper's entry.

`dataset_stats` (SAG Table 2) counts the train, query and gallery splits of each dataset's prepared index; `layers` (DAAF
Table 1) reads the HAB and PAB layers of the model a method builds under the profile (backbone
not loaded: the layer shapes do not depend on the weights). Writes <table>.md and .csv.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from torch import nn

from attnreid import models
from attnreid.atomic import write_text
from attnreid.data import index as index_io
from attnreid.papers.spec import DATASET_TITLES, FactTable

SPLITS = ("train", "query", "gallery")


def dataset_stats(index_csv: str) -> dict[str, int]:
    """SAG Table 2's rows from a prepared index (its distractor gallery files included; prepare drops junk)."""
    df, _ = index_io.read(index_csv)
    df = df[df.split.isin(SPLITS)]
    train, query, gallery = (df[df.split == s] for s in SPLITS)
    return {"Number of IDs": train.pid.nunique() + query.pid.nunique(), "Number of Images": len(df),
            "Cameras": df.camid.nunique(), "#Train IDs": train.pid.nunique(), "#Train Images": len(train),
            "#Test IDs": query.pid.nunique(), "#Query Images": len(query), "#Gallery Images": len(gallery)}


def _conv(m: nn.Module) -> dict[str, str]:
    k, s = m.kernel_size, m.stride
    return {"#channels in": str(m.in_channels), "#channels out": str(m.out_channels),
            "kernel size": f"{k[0]}x{k[1]}", "stride": str(s[0])}


def branch_layers(model) -> dict[str, dict[str, str]]:
    """DAAF Table 1's rows from a built model: HAB's and PAB's (first) decoder deconvolutions and 1x1 convs."""
    hab = [m for m in model.hab.decoder if isinstance(m, nn.ConvTranspose2d)] + [model.hab.head]
    pab = [m for m in model.pab.decoders[0] if isinstance(m, nn.ConvTranspose2d)]
    rows = {}
    for i, (h, p) in enumerate(zip(hab, pab), start=1):
        h, p = _conv(h), _conv(p)
        rows[f"deconv {i}"] = {k: h[k] if h[k] == p[k] else f"{h[k]} (HAB) / {p[k]} (PAB)" for k in h}
    head = _conv(model.hab.head)
    groups = ", ".join(str(c.out_channels) for c in model.pab.heads)
    rows["1x1 conv"] = {**head, "#channels out": f"{head['#channels out']} (HAB) / {groups} (PAB, per group)"}
    return rows


def _facts(table: FactTable, grid) -> tuple[dict[str, dict[str, object]], list[str]]:
    """row -> column -> our entry, and the column headers."""
    if table.kind == "dataset_stats":
        per = {d: dataset_stats(grid.index(grid.stand_in(d))) for d in table.datasets}
        return ({label: {d: per[d][label] for d in table.datasets} for label in table.paper},
                [f"{DATASET_TITLES.get(d, d)} ({grid.stand_in(d)})" for d in table.datasets])
    cell = grid.cells_for([table.method], ["market1501"])[0]
    cfg = grid.cell_config(cell)
    cfg = {**cfg, "train": {**cfg["train"], "pretrained": "none"}}
    return branch_layers(models.build(cfg, num_classes=2)), list(table.columns)


def render(table: FactTable, grid, out_md: str) -> None:
    ours, headers = _facts(table, grid)
    body, recs = [], []
    for label, paper_row in table.paper.items():
        cells = []
        for col in table.columns:
            mine, theirs = ours[label][col], paper_row[col]
            cells.append(f"{mine:,}" if isinstance(mine, int) and not isinstance(theirs, str) else str(mine))
            cells[-1] += f"; paper {theirs:,}" if isinstance(theirs, int) else f"; paper {theirs}"
            recs.append({"row": label, "column": col, "ours": mine, "paper": theirs})
        body.append([label, *cells])
    md = [f"# {table.title}", "", "| | " + " | ".join(headers) + " |", "|" + "---|" * (len(headers) + 1)]
    md += ["| " + " | ".join(r) + " |" for r in body]
    md += ["", table.caption, f"Ours: profile `{grid.profile}`; 'paper': the paper's entry."]
    base = Path(out_md)
    write_text(base.with_suffix(".md"), "\n".join(md) + "\n")
    write_text(base.with_suffix(".csv"), pd.DataFrame(recs).to_csv(index=False))
    write_text(base.with_suffix(".tex"), _tex(table, headers, body))


def _tex(table: FactTable, headers: list[str], body: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("_", r"\_").replace("#", r"\#").replace("%", r"\%")  # noqa: E731
    lines = [r"\begin{table}", r"\centering", f"\\caption{{{esc(table.title)}. {esc(table.caption)}}}",
             r"\begin{tabular}{l" + "c" * len(headers) + "}", r"\hline", " & " + " & ".join(map(esc, headers)) + r" \\",
             r"\hline"] + [" & ".join(map(esc, r)) + r" \\" for r in body] + [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
