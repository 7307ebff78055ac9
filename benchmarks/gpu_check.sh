#!/usr/bin/env bash
# The GPU check of the training engine, one prepared script (< 8 min on one GPU; no file beside the
# repository but the numbers it writes): (a) one step of every params.yaml method on CUDA, (b) PFSA
# paper-config training img/s, new engine vs today's per-image path vs the model-only ceiling,
# (c) extraction img/s, (d) a torch.compile'd step against the eager one. Prints its numbers and
# writes benchmarks/gpu_check.json (after every part).
#   benchmarks/gpu_check.sh            # on a GPU machine
#   benchmarks/gpu_check.sh --smoke    # the same code on the CPU at small scale (no GPU needed)
# Without CUDA and without --smoke it stops at once with one line (exit 2).
# On the lent device machine (its python3 holds PyTorch, not jsonschema; no network): first, here,
# benchmarks/gpu_wheels.sh, then one device call carrying .whl (< 1 MB) with the command
#   PYTHONUNBUFFERED=1 benchmarks/gpu_check.sh 2>&1 | tee $OUT/gpu_check.log
# With $OUT set, the json goes there (what comes back from the machine), unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if ! "$PY" -c "import jsonschema" 2>/dev/null && [ -d .whl ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/attnreid-site .whl/*.whl
  export PYTHONPATH="/tmp/attnreid-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "${OUT:-}" ] && [[ " $* " != *" --out "* ]]; then
  set -- "$@" --out "$OUT/gpu_check.json"
fi
case " $* " in
  *" --smoke "*) exec "$PY" benchmarks/gpu_check.py "$@" ;;            # CPU scale: as long as the CPU needs
  *) exec timeout 470 "$PY" benchmarks/gpu_check.py "$@" ;;            # the GPU check: 8 minutes at most
esac
