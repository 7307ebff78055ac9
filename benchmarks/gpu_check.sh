#!/usr/bin/env bash
# The GPU check of the training engine, one prepared script (< 8 min on one GPU; no file beside the
# repository but the numbers it writes): (a) one step of every params.yaml method on CUDA, (b) PFSA
# paper-config training img/s, new engine vs today's per-image path vs the model-only ceiling,
# (c) extraction img/s, (d) a torch.compile'd step against the eager one. Prints its numbers and
# writes benchmarks/gpu_check.json (after every part).
#   benchmarks/gpu_check.sh            # on a GPU machine
#   benchmarks/gpu_check.sh --smoke    # the same code on the CPU at small scale (no GPU needed)
# Without CUDA and without --smoke it stops at once with one line (exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
case " $* " in
  *" --smoke "*) exec "$PY" benchmarks/gpu_check.py "$@" ;;            # CPU scale: as long as the CPU needs
  *) exec timeout 470 "$PY" benchmarks/gpu_check.py "$@" ;;            # the GPU check: 8 minutes at most
esac
