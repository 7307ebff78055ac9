"""Train once, regenerate anywhere: a Snakemake run recorded for DVC, a pull that names what is
missing, and Snakemake told that what DVC restored is up to date.

- `record`: after Snakemake (local or SLURM) has built every output of a profile, `dvc commit`
  over dvc.yaml stores their hashes in dvc.lock and the files in the DVC cache without running
  anything, so `dvc push` uploads them and `dvc repro` sees nothing to do.
- `pull`: `dvc pull`; an output whose object is not on the remote is one line naming it and its stage.
- `sync_snakemake`: Snakemake decides staleness from modification times and its own metadata
  (`.snakemake/`, never versioned). DVC restores files in no particular order, so a pulled
  checkpoint can look older than its index and Snakemake would retrain it. Once `dvc status`
  is clean (every file is what dvc.lock records), `snakemake --touch --forceall` touches every
  output in DAG order and records the current params and code as Snakemake's metadata: after
  it Snakemake plans nothing, and a later params change reruns exactly what it touches.
  Directory outputs get a `.snakemake_timestamp` file, which `.dvcignore` hides from DVC.
"""
from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

from attnreid import config, dvcgen
from attnreid.errors import InputError
from attnreid.grid import Grid

DVC_YAML = "dvc.yaml"


def _grid(params_path: str, profile: str | None) -> tuple[Grid, dict]:
    raw = config.load_raw(params_path)
    return Grid(config.resolve(raw, profile)), raw


def check_pipeline(params_path: str, profile: str | None) -> Grid:
    """The profile's grid, once dvc.yaml is exactly what `attnreid dvc-yaml` makes for it."""
    grid, raw = _grid(params_path, profile)
    fix = f"run `attnreid dvc-yaml --profile {grid.profile} --out {DVC_YAML}` and commit it"
    path = Path(DVC_YAML)
    if not path.is_file():
        raise InputError(f"{DVC_YAML}: missing; {fix}")
    text = path.read_text()
    if text != dvcgen.render(grid, raw):
        named = re.search(r"--profile (\S+?)`", text)
        what = f"is the pipeline of profile {named.group(1)}" if named and named.group(1) != grid.profile \
            else "is stale"
        raise InputError(f"{DVC_YAML}: {what}, not of profile {grid.profile} as params.yaml says now; {fix}")
    return grid


def _stage_of(grid: Grid) -> dict[str, str]:
    """Output path -> the dvc.yaml stage that makes it."""
    return {o: dvcgen.stage_name(st.name) for st in grid.stages() for o in st.outs}


def _repo():
    from dvc.repo import Repo

    logging.getLogger("dvc").setLevel(logging.ERROR)  # our one line says what failed, not DVC's warnings
    return Repo(".")


def record(params_path: str, profile: str | None) -> int:
    """Record every output of the profile in dvc.lock (and the DVC cache); nothing is run."""
    grid = check_pipeline(params_path, profile)
    missing = [o for o in _stage_of(grid) if not Path(o).exists()]
    if missing:
        raise InputError(f"{missing[0]}: missing ({len(missing)} outputs of profile {grid.profile} are); "
                         "finish the Snakemake run first; nothing recorded")
    with _repo() as repo:
        stages = repo.commit(None, force=True, relink=False)  # files stay as Snakemake left them
    return len(stages)


def pull(params_path: str, profile: str | None) -> dict:
    """`dvc pull` of every output; a missing remote object is an InputError naming its output and stage."""
    from dvc.exceptions import CheckoutError, DvcException

    grid, _ = _grid(params_path, profile)
    logging.disable(logging.WARNING)  # DVC's and dvc_data's warnings: the line below names what is missing
    with _repo() as repo:
        try:
            return repo.pull()
        except CheckoutError as exc:
            stage = _stage_of(grid)
            failed = [str(t) for t in exc.target_infos]
            named = ", ".join(f"{f} (stage {stage.get(f, '?')})" for f in failed[:3])
            more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
            raise InputError(f"dvc pull: {len(failed)} output(s) not on the remote nor in the cache: {named}{more}; "
                             "`dvc push` them from the machine that made them, or rerun those stages") from None
        except DvcException as exc:
            raise InputError(f"dvc pull: {str(exc).splitlines()[0]}") from None
        finally:
            logging.disable(logging.NOTSET)


def sync_snakemake(params_path: str, profile: str | None) -> None:
    """Make Snakemake take the outputs DVC restored as up to date (see the module docstring)."""
    grid = check_pipeline(params_path, profile)
    with _repo() as repo:
        changed = repo.status()
    if changed:
        name, why = next(iter(changed.items()))
        raise InputError(f"dvc status: {len(changed)} stage(s) differ from dvc.lock (first: {name}: {_reason(why)}); "
                         "Snakemake left as it was: `dvc pull` or rebuild them first")
    res = subprocess.run([sys.executable, "-m", "snakemake", "--touch", "--forceall", "--cores", "1",
                          "--config", f"profile={grid.profile}"], capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"snakemake --touch failed: {tail}")


def _reason(changes) -> str:
    """DVC's status entry for a stage, e.g. [{'changed outs': {'model.pt': 'deleted'}}], as text."""
    parts = []
    for change in changes:
        if isinstance(change, dict):
            for kind, files in change.items():
                parts.append(f"{kind} {', '.join(files) if isinstance(files, dict) else files}")
        else:
            parts.append(str(change))
    return "; ".join(parts)
