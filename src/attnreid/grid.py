"""params -> cells -> paths and commands: the one function that builds the experiment grid.

A cell is (dataset, method, seed); its id `<dataset>/<method>/s<seed>` names every path it
produces. The cells of a profile are those its tables and figures need, each trained once. A
cross-dataset table (`Table.train_on`) tests its cells on other datasets: a `test` dataset adds
`features-<test>.npz` beside the cell's features and `<cell>@<test>.json` beside its metrics.
Snakemake rules, dvc.yaml and the tests all ask this module for paths and commands.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attnreid import papers
from attnreid.config import deep_merge, digest
from attnreid.data import cache as image_cache
from attnreid.errors import InputError

RESULTS = Path("results")
CLI = "attnreid"


@dataclass(frozen=True, order=True)
class Cell:
    dataset: str
    method: str
    seed: int

    @property
    def id(self) -> str:
        return f"{self.dataset}/{self.method}/s{self.seed}"

    @classmethod
    def parse(cls, cell_id: str) -> "Cell":
        try:
            dataset, method, seed = cell_id.split("/")
            assert seed.startswith("s")
            return cls(dataset, method, int(seed[1:]))
        except (ValueError, AssertionError):
            raise InputError(f"cell id '{cell_id}': expected <dataset>/<method>/s<seed>") from None


@dataclass(frozen=True)
class Stage:
    """One job of the DAG, as both Snakemake and DVC see it."""

    name: str
    cmd: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: tuple[str, ...]  # dotted params.yaml keys the job reads (DVC `params:`)
    kind: str  # synthesize | prepare | cache | pseudo_labels | pseudo_compare | train | extract | evaluate | table | figure | claims | report


class Grid:
    """The resolved params of one profile, seen as cells, paths and stages."""

    def __init__(self, params: dict):
        self.params = params
        self.profile = params["profile"]
        self.work = Path("work") / self.profile

    # -- datasets ---------------------------------------------------------------------------
    def stand_in(self, paper_dataset: str) -> str:
        name = self.params["stand_ins"].get(paper_dataset)
        if name is None:
            raise InputError(f"params.yaml: stand_ins.{paper_dataset}: no dataset stands for it in profile {self.profile}")
        self.dataset_cfg(name)
        return name

    def dataset_cfg(self, name: str) -> dict:
        cfg = self.params["datasets"].get(name)
        if cfg is None:
            raise InputError(f"params.yaml: datasets.{name}: unknown dataset")
        if "kind" not in cfg:
            raise InputError(f"params.yaml: datasets.{name}.kind: missing")
        return cfg

    def is_synthetic(self, name: str) -> bool:
        return self.dataset_cfg(name)["kind"] == "synthreid"

    def raw_root(self, name: str) -> str:
        cfg = self.dataset_cfg(name)
        if cfg["kind"] == "synthreid":
            return str(self.work / "raw" / name)
        if "root" not in cfg:
            raise InputError(f"params.yaml: datasets.{name}.root: missing")
        return cfg["root"]

    # -- cells ------------------------------------------------------------------------------
    def method_cfg(self, method: str) -> dict:
        cfg = self.params["methods"].get(method)
        if cfg is None:
            raise InputError(f"params.yaml: methods.{method}: unknown method")
        return cfg

    def cell_config(self, cell: Cell) -> dict:
        """Everything a cell's training reads; its digest guards checkpoints and ids."""
        m = self.method_cfg(cell.method)
        train = deep_merge(deep_merge(self.params["train"], m.get("train", {})), self.params.get("cell_override", {}))
        return {
            "cell": cell.id,
            "dataset": cell.dataset,
            "dataset_cfg": self.dataset_cfg(cell.dataset),
            "method": cell.method,
            "model": m["model"],
            "args": m.get("args", {}),
            "seed": cell.seed,
            "train": train,
        }

    def eval_config(self, method: str) -> dict:
        """`eval` with the method's own test-time choices (`methods.<m>.eval`, e.g. flip) over it."""
        return deep_merge(self.params["eval"], self.method_cfg(method).get("eval", {}))

    def cells_for(self, methods, paper_datasets) -> list[Cell]:
        return [Cell(self.stand_in(d), m, s) for m in methods for d in paper_datasets for s in self.params["seeds"]]

    def table_test(self, table: papers.Table, paper_dataset: str, method: str, seed: int) -> tuple[Cell, str | None]:
        """The cell a table's (method, column dataset, seed) reads, and the dataset it is tested on
        there (None: its own; a cross-dataset table trains on `train_on` and tests on the column's)."""
        if table.train_on:
            return Cell(self.stand_in(table.train_on), method, seed), self.stand_in(paper_dataset)
        return Cell(self.stand_in(paper_dataset), method, seed), None

    def table_tests(self, table_id: str) -> list[tuple[Cell, str | None]]:
        """Every (cell, test dataset) pair a table reads."""
        t = papers.table(table_id)
        return sorted({self.table_test(t, d, m, s) for m in t.methods() for d in t.datasets
                       for s in self.params["seeds"]}, key=lambda p: (p[0], p[1] or ""))

    def table_cells(self, table_id: str) -> list[Cell]:
        return sorted({c for c, _ in self.table_tests(table_id)})

    def cross_tests(self) -> list[tuple[Cell, str]]:
        """Every (cell, other dataset) pair the profile's tables test on."""
        return sorted({(c, test) for t in self.params["tables"] for c, test in self.table_tests(t) if test})

    def figure_cells(self, figure_id: str) -> list[Cell]:
        f = papers.figure(figure_id)
        return sorted(set(self.cells_for(f.methods, f.datasets)))

    def cells(self) -> list[Cell]:
        out = set()
        for t in self.params["tables"]:
            out.update(self.table_cells(t))
        for f in self.params["figures"]:
            out.update(self.figure_cells(f))
        for c in out:
            self.method_cfg(c.method)
        return sorted(out)

    def datasets(self) -> list[str]:
        return sorted({c.dataset for c in self.cells()})

    # -- paths ------------------------------------------------------------------------------
    def index(self, dataset: str) -> str:
        return str(self.work / "prepared" / dataset / "index.csv")

    def cache(self, dataset: str, height: int, width: int) -> tuple[str, str]:
        """The decoded images of a dataset's index at one input size: (array .npy, rows .json)."""
        return image_cache.paths(self.work / "cache", dataset, height, width)

    def cell_cache(self, cell: Cell, test: str | None = None) -> tuple[str, str]:
        """The cache a cell trains on (or is tested on, for `test`): its dataset at its input size."""
        return self.cache(test or cell.dataset, *self._size(cell))

    def pseudo(self, dataset: str) -> str:
        """A folder: provenance.json always; masks and keypoints when the backend makes them."""
        return str(self.work / "pseudo" / dataset)

    def pseudo_compare(self, dataset: str, backend: str) -> str:
        """A pseudo-label folder of one backend on the first rows of an index (the backends report)."""
        return str(self.work / "pseudo_compare" / dataset / backend)

    def pseudo_reference(self, dataset: str) -> str:
        """What a dataset's labels are compared with: synthreid's ground truth, else published keypoints."""
        return "oracle" if self.is_synthetic(dataset) else "import"

    def pseudo_report_pairs(self) -> list[tuple[str, str]]:
        """(dataset, backend) folders the backends report reads, references included."""
        rep = self.params["pseudo_report"]
        return [(d, b) for d in rep["datasets"] for b in sorted({*rep["backends"], self.pseudo_reference(d)})]

    def run_dir(self, cell: Cell) -> Path:
        return self.work / "runs" / cell.id

    def checkpoint(self, cell: Cell) -> str:
        return str(self.run_dir(cell) / "model.pt")

    def live_dir(self, cell: Cell) -> str:
        return str(self.run_dir(cell) / "live")

    def features(self, cell: Cell, test: str | None = None) -> str:
        return str(self.run_dir(cell) / (f"features-{test}.npz" if test else "features.npz"))

    def metrics(self, cell: Cell, test: str | None = None) -> str:
        return str(self.work / "metrics" / f"{self.job(cell, test)}.json")

    @staticmethod
    def job(cell: Cell, test: str | None = None) -> str:
        """A cell's id, `@<test dataset>` appended when it is tested on another dataset."""
        return cell.id + (f"@{test}" if test else "")

    @staticmethod
    def table_outs(table_id: str) -> list[str]:
        return [str(RESULTS / "tables" / f"{table_id}.{ext}") for ext in ("md", "csv", "tex")]

    @staticmethod
    def figure_out(figure_id: str) -> str:
        return str(RESULTS / "figures" / f"{figure_id}.png")

    @staticmethod
    def claims_outs() -> list[str]:
        return [str(RESULTS / f"claims.{ext}") for ext in ("md", "csv")]

    @staticmethod
    def report() -> str:
        return str(RESULTS / "REPORT.md")

    def pseudo_report_outs(self) -> list[str]:
        """The backends table (md, csv) and one overlay per (dataset, backend); none when no dataset is compared."""
        if not self.params["pseudo_report"]["datasets"]:
            return []
        return ([str(RESULTS / "pseudo" / f"backends.{ext}") for ext in ("md", "csv")]
                + [str(RESULTS / "pseudo" / d / f"{b}.png") for d, b in self.pseudo_report_pairs()])

    def targets(self) -> list[str]:
        outs = [o for t in self.params["tables"] for o in self.table_outs(t)]
        outs += [self.figure_out(f) for f in self.params["figures"]]
        return outs + self.pseudo_report_outs() + self.claims_outs() + [self.report()]

    # -- stages (the commands both Snakemake and DVC run) -----------------------------------
    def _cli(self, verb: str, *args: str) -> str:
        return " ".join([CLI, verb, "--profile", self.profile, *args])

    def synthesize(self, dataset: str) -> Stage:
        out = self.raw_root(dataset)
        return Stage(f"synthesize@{dataset}", self._cli("synthesize", "--dataset", dataset, "--out", out),
                     (), (out,), (f"datasets.{dataset}", f"profiles.{self.profile}.datasets"), "synthesize")

    def prepare(self, dataset: str) -> Stage:
        root = self.raw_root(dataset)
        out = self.index(dataset)
        meta = str(Path(out).with_name("meta.json"))  # written beside the index; every reader of it reads both
        return Stage(f"prepare@{dataset}", self._cli("prepare", "--dataset", dataset, "--root", root, "--out", out),
                     (root,), (out, meta), (f"datasets.{dataset}",), "prepare")

    def pseudo_labels(self, dataset: str) -> Stage:
        idx, out = self.index(dataset), self.pseudo(dataset)
        return Stage(f"pseudo_labels@{dataset}",
                     self._cli("pseudo-labels", "--dataset", dataset, "--index", idx, "--out", out),
                     (idx,), (out,), ("pseudo_labels",), "pseudo_labels")

    def pseudo_compare_stage(self, dataset: str, backend: str) -> Stage:
        idx, out = self.index(dataset), self.pseudo_compare(dataset, backend)
        n = str(self.params["pseudo_report"]["max_images"])
        return Stage(f"pseudo_compare@{dataset}/{backend}",
                     self._cli("pseudo-labels", "--dataset", dataset, "--index", idx, "--out", out,
                               "--backend", backend, "--max-images", n, "--optional"),
                     (idx,), (out,), (f"pseudo_labels.{backend}", "pseudo_report.max_images"), "pseudo_compare")

    def pseudo_report_stage(self) -> Stage:
        outs = self.pseudo_report_outs()
        deps = tuple(self.pseudo_compare(d, b) for d, b in self.pseudo_report_pairs())
        return Stage("pseudo_report", self._cli("pseudo-report", "--out", outs[0]), deps, tuple(outs),
                     ("pseudo_report",), "table")

    def cache_stage(self, dataset: str, height: int, width: int) -> Stage:
        idx, (npy, rows) = self.index(dataset), self.cache(dataset, height, width)
        threads = self.params["resources"]["extract"]["threads"]
        return Stage(f"cache@{dataset}/{height}x{width}",
                     self._cli("cache", "--dataset", dataset, "--index", idx, "--height", str(height), "--width",
                               str(width), "--out", npy, "--threads", str(threads)),
                     (idx,), (npy, rows), (), "cache")

    def train(self, cell: Cell) -> Stage:
        idx, pseudo, out = self.index(cell.dataset), self.pseudo(cell.dataset), self.checkpoint(cell)
        cache = self.cell_cache(cell)
        threads = self.params["resources"]["train"]["threads"]
        return Stage(f"train@{cell.id}",
                     self._cli("train", "--cell", cell.id, "--index", idx, "--pseudo", pseudo, "--cache", cache[0],
                               "--out", out, "--threads", str(threads)),
                     (idx, pseudo, *cache), (out, self.live_dir(cell)),
                     ("train", "cell_override", f"methods.{cell.method}", f"profiles.{self.profile}.cell_override"),
                     "train")

    def extract(self, cell: Cell, test: str | None = None) -> Stage:
        """Its params include the whole `methods.<m>`: DVC tracks only keys present when dvc.yaml is
        written, and a `methods.<m>.eval` added later (`dvc exp run -S`) must rerun the extraction
        (a training key reruns it anyway, through the model)."""
        idx, ckpt, out = self.index(test or cell.dataset), self.checkpoint(cell), self.features(cell, test)
        cache = self.cell_cache(cell, test)
        threads = self.params["resources"]["extract"]["threads"]
        return Stage(f"extract@{self.job(cell, test)}",
                     self._cli("extract", "--cell", cell.id, "--index", idx, "--checkpoint", ckpt, "--cache", cache[0],
                               "--out", out, "--threads", str(threads)),
                     (idx, ckpt, *cache), (out,), ("eval.flip", "eval.batch_size", f"methods.{cell.method}"), "extract")

    def evaluate(self, cell: Cell, test: str | None = None) -> Stage:
        feats, out = self.features(cell, test), self.metrics(cell, test)
        return Stage(f"evaluate@{self.job(cell, test)}",
                     self._cli("evaluate", "--cell", cell.id, "--features", feats, "--out", out),
                     (feats,), (out,), ("eval.metric", "eval.max_rank", "eval.rerank"), "evaluate")

    def fact_datasets(self) -> list[str]:
        """The datasets whose prepared index a dataset-statistics table (papers.FactTable) reads."""
        return sorted({self.stand_in(d) for t in self.params["tables"] for d in papers.table(t).datasets
                       if isinstance(papers.table(t), papers.FactTable)})

    def table(self, table_id: str) -> Stage:
        t = papers.table(table_id)
        deps = tuple(self.metrics(c, test) for c, test in self.table_tests(table_id))
        keys: tuple[str, ...] = ("seeds", "stand_ins")
        if isinstance(t, papers.FactTable):
            deps = tuple(sorted({self.index(self.stand_in(d)) for d in t.datasets}))
            keys = ("stand_ins",) + ((f"methods.{t.method}", "train", f"profiles.{self.profile}.cell_override")
                                     if t.method else ())
        outs = tuple(self.table_outs(table_id))
        return Stage(f"table@{table_id}", self._cli("table", "--table", table_id, "--out", outs[0]),
                     deps, outs, keys, "table")

    def figure(self, figure_id: str) -> Stage:
        cells = self.figure_cells(figure_id)
        deps = tuple(self.metrics(c) for c in cells) + tuple(self.features(c) for c in cells)
        deps += tuple(self.checkpoint(c) for c in cells)
        deps += tuple(sorted({self.index(c.dataset) for c in cells}))
        out = self.figure_out(figure_id)
        return Stage(f"figure@{figure_id}", self._cli("figure", "--figure", figure_id, "--out", out),
                     deps, (out,), ("seeds", "stand_ins"), "figure")

    def claims_stage(self) -> Stage:
        """The claims ledger: reads the metrics of the cells this profile's tables already evaluate."""
        from attnreid.report.claims import metrics_files

        outs = self.claims_outs()
        return Stage("claims", self._cli("claims", "--out", outs[0]), tuple(metrics_files(self)), tuple(outs),
                     ("seeds", "stand_ins"), "claims")

    def report_stage(self) -> Stage:
        deps = tuple(o for o in self.targets() if o != self.report())
        return Stage("report", self._cli("report", "--out", self.report()), deps, (self.report(),),
                     ("tables", "figures"), "report")

    def stages(self) -> list[Stage]:
        """Every job of this profile's DAG, in dependency order."""
        ds = self.datasets()
        cross = self.cross_tests()
        data = sorted({*ds, *self.params["pseudo_report"]["datasets"], *(test for _, test in cross),
                       *self.fact_datasets()})
        cells = self.cells()
        out = [self.synthesize(d) for d in data if self.is_synthetic(d)]
        out += [self.prepare(d) for d in data] + [self.pseudo_labels(d) for d in ds]
        sizes = {(c.dataset, *self._size(c)) for c in cells} | {(test, *self._size(c)) for c, test in cross}
        out += [self.cache_stage(*key) for key in sorted(sizes)]
        tested_at_home = {c for t in self.params["tables"] for c, test in self.table_tests(t) if test is None}
        tested_at_home.update(c for f in self.params["figures"] for c in self.figure_cells(f))
        out += [self.train(c) for c in cells]
        out += [step(c) for step in (self.extract, self.evaluate) for c in cells if c in tested_at_home]
        out += [step(c, test) for step in (self.extract, self.evaluate) for c, test in cross]
        out += [self.table(t) for t in self.params["tables"]]
        out += [self.figure(f) for f in self.params["figures"]] + [self.claims_stage()]
        if self.pseudo_report_outs():
            out += [self.pseudo_compare_stage(d, b) for d, b in self.pseudo_report_pairs()]
            out.append(self.pseudo_report_stage())
        return out + [self.report_stage()]

    def _size(self, cell: Cell) -> tuple[int, int]:
        t = self.cell_config(cell)["train"]
        return t["height"], t["width"]

    def config_digest(self, cell: Cell) -> str:
        return digest(self.cell_config(cell))
