"""Snakemake and DVC run one DAG: the committed dvc.yaml is fresh, and both declare the same outputs."""
import subprocess
import sys

import pytest
import yaml

from attnreid import config, dvcgen
from attnreid.grid import Grid
from conftest import ROOT, env_with_venv


def dry_run(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                         env=env_with_venv(), timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def snakemake_outputs(profile: str) -> set[str]:
    outs = set()
    for line in dry_run("--forceall", "--cores", "1", "--config", f"profile={profile}").splitlines():
        if line.startswith("    output: "):
            outs.update(p.strip() for p in line[len("    output: "):].split(","))
    return outs


def dvc_outputs(doc: dict) -> set[str]:
    outs = set()
    for stage in doc["stages"].values():
        for key in ("outs", "metrics"):
            for o in stage.get(key, []):
                outs.add(o if isinstance(o, str) else next(iter(o)))
    return outs


def test_committed_dvc_yaml_is_generated_from_params():
    raw = config.load_raw(ROOT / "params.yaml")
    grid = Grid(config.resolve(raw, raw["profile"]))
    assert (ROOT / "dvc.yaml").read_text() == dvcgen.render(grid, raw), \
        "dvc.yaml is stale: run `make dvc-yaml` (attnreid dvc-yaml --out dvc.yaml)"


@pytest.mark.parametrize("profile", ["smoke", "default", "synthetic", "paper"])
def test_snakemake_and_dvc_agree_on_outputs(profile):
    raw = config.load_raw(ROOT / "params.yaml")
    doc = yaml.safe_load(dvcgen.render(Grid(config.resolve(raw, profile)), raw))
    assert snakemake_outputs(profile) == dvc_outputs(doc)


def lookup(doc: dict, dotted: str):
    for part in dotted.split("."):
        assert isinstance(doc, dict) and part in doc, f"{dotted}: not in params.yaml"
        doc = doc[part]
    return doc


def test_dvc_params_keys_exist_in_params_yaml():
    """Every params key a DVC stage lists is in params.yaml (DVC fails on one that is not), and each train
    stage lists its method's block and the training defaults, so editing either reruns the cell."""
    raw = config.load_raw(ROOT / "params.yaml")
    grid = Grid(config.resolve(raw, "smoke"))
    doc = yaml.safe_load(dvcgen.render(grid, raw))
    listed = {name: stage.get("params", []) for name, stage in doc["stages"].items()}
    for keys in listed.values():
        for key in keys:
            lookup(raw, key)
    for cell in grid.cells():
        keys = listed[f"train-{cell.dataset}-{cell.method}-s{cell.seed}"]
        assert {f"methods.{cell.method}", "train"} <= set(keys), keys
    assert all(listed[name] for name in listed if name.startswith(("synthesize-", "prepare-", "table-")))


def test_slurm_profile_dry_run_asks_for_a_gpu_on_train():
    out = dry_run("--forceall", "--profile", "workflow/profiles/slurm", "--config", "profile=paper")
    jobs = out.split("\nrule ")
    train = [j for j in jobs if j.startswith("train:")]
    assert train and all("gpu=1" in j and "runtime=1440" in j and "--threads 8" in j for j in train)
    assert all("gpu=" not in j for j in jobs if j.startswith(("table:", "report:")))
