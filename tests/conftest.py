"""Shared fixtures: the repository root and a tiny Market-layout dataset made on the fly."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs two workers on two cores: one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# The modules whose tests use the shared smoke run (`smoke_run`): under `make test` they are one xdist
# scope, so one worker makes the run once (pytest-xdist's own `xdist_group` does not work with pytest 9).
SMOKE_RUN_MODULES = ("tests/test_dvc_remote.py", "tests/test_e2e.py", "tests/test_slurm_live.py")


def in_smoke_run_scope(nodeid: str) -> bool:
    return nodeid.split("::")[0] in SMOKE_RUN_MODULES


def pytest_collection_modifyitems(config, items):
    """The smoke run's modules first (with `--no-loadscope-reorder`, the worker that takes them starts
    with the long run while the other takes the unit tests); a test elsewhere that uses the run is an error."""
    smoke, rest = [], []
    for item in items:
        (smoke if in_smoke_run_scope(item.nodeid) else rest).append(item)
    stray = [item.nodeid for item in rest if "smoke_run" in getattr(item, "fixturenames", ())]
    if stray:
        raise pytest.UsageError(f"tests/conftest.py: SMOKE_RUN_MODULES lacks the module of {stray[0]}")
    items[:] = smoke + rest


class SmokeRunScope:
    """`make test` runs `-n 2 --dist loadscope --no-loadscope-reorder`: whole modules per worker (their
    module fixtures are made once), and SMOKE_RUN_MODULES together as one scope."""

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config, log):
        if config.getvalue("dist") != "loadscope":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class Scheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return "smoke_run" if in_smoke_run_scope(nodeid) else super()._split_scope(nodeid)

        return Scheduling(config, log)


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(SmokeRunScope())


def missing_part(why: str):
    """A test needs an optional part this machine lacks (a local SLURM, .venv-mediapipe): it skips saying
    why, except under CI=true, where every part must be there and it fails instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: every optional part must be present)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(autouse=True)
def _threads():
    import torch

    torch.set_num_threads(2)

@pytest.fixture
def one_thread():
    """For tests of tiny tensors: one thread is faster, and far faster on a loaded machine."""
    import torch

    torch.set_num_threads(1)


def params_grid(profile: str = "smoke"):
    """The grid of the repository's params.yaml under `profile`."""
    from attnreid import config
    from attnreid.grid import Grid

    return Grid(config.load(ROOT / "params.yaml", profile))


def tiny_cell_cfg(g, method: str, **train) -> dict:
    """The config of `method`'s cell on the Market stand-in, shrunk to ResNet-18 from scratch, then `train`."""
    from attnreid.grid import Cell

    cfg = g.cell_config(Cell(g.stand_in("market1501"), method, 0))
    cfg["train"].update({"backbone": "resnet18", "pretrained": "none", **train})
    return cfg


def write_market(root: Path, n_ids: int = 4, cams: int = 2, per_cam: int = 2, size=(32, 16)) -> Path:
    """A Market-1501-layout folder: ids 1..n train, n+1..2n test (query + gallery), a junk, a distractor."""
    rng = np.random.default_rng(0)
    for folder in ("bounding_box_train", "bounding_box_test", "query"):
        (root / folder).mkdir(parents=True, exist_ok=True)

    def img(path: Path):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)

    frame = 0
    for pid in range(1, 2 * n_ids + 1):
        for cam in range(1, cams + 1):
            for _ in range(per_cam):
                frame += 1
                folder = "bounding_box_train" if pid <= n_ids else "bounding_box_test"
                img(root / folder / f"{pid:04d}_c{cam}s1_{frame:06d}_01.jpg")
            if pid > n_ids:
                frame += 1
                img(root / "query" / f"{pid:04d}_c{cam}s1_{frame:06d}_00.jpg")
    img(root / "bounding_box_test" / "-1_c1s1_000999_01.jpg")
    img(root / "bounding_box_test" / "0000_c2s1_000998_01.jpg")
    return root


@pytest.fixture
def market_root(tmp_path) -> Path:
    return write_market(tmp_path / "market")


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)
    return ROOT


def env_with_venv(base: dict | None = None) -> dict:
    """`base` (default: this process's environment) with the venv's bin folder first on PATH."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


COPY = ("Snakefile", "params.yaml", "workflow", "src")


def copy_repo(dst: Path) -> Path:
    """The files a run needs, copied to `dst` (a run there never touches the repository's work/ or results/)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst / name)
    return dst


def run(cmd, cwd, timeout=600, env: dict | None = None) -> str:
    """Run a command with the venv on PATH (in `env`, default this process's environment); fail the test with
    its output tail unless it succeeds."""
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env_with_venv(env), timeout=timeout)
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout + res.stderr


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> tuple[Path, str]:
    """The smoke DAG, run once under the local profile in a temporary copy: (its root, Snakemake's log)."""
    root = copy_repo(tmp_path_factory.mktemp("smoke") / "repo")
    log = run([sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/local", "--cores", "2",
               "--config", "profile=smoke"], root, timeout=1200)
    return root, log


@pytest.fixture
def saved_figures(monkeypatch) -> list:
    """Every matplotlib figure saved while the test runs, in order: figure tests check what a figure
    shows (its panels, the values plotted), not only that a PNG was written."""
    from matplotlib.figure import Figure

    figures = []
    savefig = Figure.savefig

    def keep(self, *args, **kwargs):
        figures.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures


def image_panels(fig) -> dict[tuple[int, int], list[np.ndarray]]:
    """(row, column) of each panel of `fig` that shows an image -> the arrays drawn there (the image,
    then any map overlaid on it)."""
    panels = {}
    for ax in fig.axes:
        if ax.images:
            spec = ax.get_subplotspec()
            panels[spec.rowspan.start, spec.colspan.start] = [np.asarray(im.get_array()) for im in ax.images]
    return panels


def panel_grid(fig, rows: int, cols: int, has_map=lambda r, c: c > 0) -> dict:
    """Assert `fig` is a full rows x cols grid of image panels, those where `has_map(row, column)` with one
    map in [0, 1] overlaid on the image (the others with none); returns the panels."""
    panels = image_panels(fig)
    assert sorted(panels) == [(r, c) for r in range(rows) for c in range(cols)], sorted(panels)
    for (r, c), arrays in panels.items():
        assert len(arrays) == (2 if has_map(r, c) else 1), (r, c, len(arrays))
        if has_map(r, c):
            assert arrays[1].ndim == 2 and 0 <= arrays[1].min() and arrays[1].max() <= 1, (r, c)
    return panels


def bar_heights(fig) -> list[list[float]]:
    """The bar heights of each panel of `fig` that has bars, in drawing order."""
    return [[float(p.get_height()) for p in ax.patches] for ax in fig.axes if ax.patches]


def untrained_cells(g, methods, cfg_of, featured=()) -> str:
    """For figure tests: a tiny Market-layout stand-in prepared under the cwd, an untrained
    checkpoint per method (config `cfg_of(method)`), and features for the `featured` methods.
    Returns the stand-in's name."""
    from attnreid import models
    from attnreid.data.datasets import prepare
    from attnreid.engine import checkpoint
    from attnreid.engine.extract import extract
    from attnreid.grid import Cell

    g.params["seeds"] = [0]
    stand_in = g.stand_in("market1501")
    write_market(Path("raw"), n_ids=3, cams=2, per_cam=2, size=(32, 16))
    prepare(stand_in, {"kind": "synthreid"}, Path("raw"), g.index(stand_in))
    for method in methods:
        cell = Cell(stand_in, method, 0)
        cfg = cfg_of(method)
        checkpoint.save(g.checkpoint(cell), {"digest": g.config_digest(cell), "config": cfg,
                                             "model": models.build(cfg, 3).state_dict(), "meta": {"num_classes": 3}})
        if method in featured:
            extract(g.checkpoint(cell), g.config_digest(cell), g.index(stand_in), g.features(cell),
                    {"batch_size": 16, "flip": False}, threads=1)
    return stand_in
