#!/usr/bin/env bash
# The packages attnreid imports that the lent GPU machine's Python (3.12, PyTorch image, no network)
# lacks: jsonschema and its own needs (attrs and typing-extensions are there). Run here, where pip
# reaches the registry; the wheels land in .whl/ (git-ignored), which a device call carries and
# benchmarks/gpu_check.sh installs from when the machine's python cannot import jsonschema.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
ls .whl
