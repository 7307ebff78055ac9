# attnreid: every table and figure of four attention re-ID papers, as a DAG.
#   snakemake --profile workflow/profiles/local --config profile=default
#   snakemake -n results/tables/baseline/table1.md     # the cells one table needs
# params.yaml is validated against workflow/schemas/params.schema.yaml when this file loads;
# every rule only calls an `attnreid <verb>` command built by src/attnreid/grid.py.
import os
import sys

sys.path.insert(0, os.path.join(workflow.basedir, "src"))
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]

from attnreid import config as params_io
from attnreid.errors import InputError
from attnreid.grid import Cell, Grid
from attnreid.pseudo import run as pseudo_run

try:
    PARAMS = params_io.load(os.path.join(workflow.basedir, "params.yaml"), config.get("profile"))
    G = Grid(PARAMS)
    TARGETS = G.targets()
except InputError as err:
    raise WorkflowError(str(err))

WORK = str(G.work)
RES = PARAMS["resources"]


def cell_of(w):
    return Cell(w.dataset, w.method, int(w.seed))


wildcard_constraints:
    dataset=r"[a-z0-9][a-z0-9_-]*",
    test=r"[a-z0-9][a-z0-9_-]*",
    method=r"[a-z0-9][a-z0-9_-]*",
    seed=r"\d+",
    height=r"\d+",
    width=r"\d+",
    backend=r"[a-z]+",


rule all:
    input:
        TARGETS,
    default_target: True


include: "workflow/rules/data.smk"
include: "workflow/rules/pseudo.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


onstart:
    # The cheap part of `attnreid check` (roots, weight files, the pseudo-label envs the DAG needs):
    # a missing dataset stops the run here, before any job is submitted.
    from attnreid import preflight

    _missing = preflight.failures(preflight.rows(G, cheap=True))
    if _missing:
        for _line in _missing:
            print(f"attnreid: missing: {_line}", file=sys.stderr)
        raise WorkflowError(f"attnreid check --profile {G.profile}: {len(_missing)} missing (lines above); "
                            "nothing was submitted")
