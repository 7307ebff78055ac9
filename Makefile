# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
# `make test-fast`: the unit tests only (no end-to-end DAG runs), for the edit loop; CI runs `make test`.
PY      := .venv/bin/python
PROFILE ?= default
CORES   ?= 2
STAMP   := .venv/.installed

.PHONY: run test test-fast venv dvc-yaml clean-work

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml requirements-mediapipe.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	# the mediapipe pseudo-label backend's own env (numpy < 2); optional: without it the backends report shows it unavailable
	test -x .venv-mediapipe/bin/python || python3 -m venv .venv-mediapipe
	.venv-mediapipe/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-mediapipe.txt \
	  || { rm -rf .venv-mediapipe; echo "$(MEDIAPIPE_MISSING)"; }
	touch $(STAMP)

run: $(STAMP)
	.venv/bin/snakemake --profile workflow/profiles/local --cores $(CORES) --config profile=$(PROFILE)
	@$(PY) -m attnreid.cli where --profile $(PROFILE)

MEDIAPIPE_MISSING := *** .venv-mediapipe could NOT be made (pip failed; rm $(STAMP) and rerun make to retry): the \
  mediapipe pseudo-label backend is unavailable, and its tests skip (under CI=true they fail).

test: $(STAMP)
	@test -x .venv-mediapipe/bin/python || echo "$(MEDIAPIPE_MISSING)"
	$(PY) -m pytest -q -n $(CORES) --dist loadscope --no-loadscope-reorder

test-fast: $(STAMP)
	@test -x .venv-mediapipe/bin/python || echo "$(MEDIAPIPE_MISSING)"
	$(PY) -m pytest -q -n $(CORES) --dist loadscope -m "not e2e"

dvc-yaml: $(STAMP)
	$(PY) -m attnreid.cli dvc-yaml --profile $(PROFILE) --out dvc.yaml
