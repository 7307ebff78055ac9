# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
PY      := .venv/bin/python
PROFILE ?= default
CORES   ?= 2
STAMP   := .venv/.installed

.PHONY: run test venv dvc-yaml clean-work

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml requirements-mediapipe.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	# the mediapipe pseudo-label backend's own env (numpy < 2); optional: without it the backends report shows it unavailable
	test -x .venv-mediapipe/bin/python || python3 -m venv .venv-mediapipe
	.venv-mediapipe/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-mediapipe.txt \
	  || { rm -rf .venv-mediapipe; echo "warning: .venv-mediapipe not made: the mediapipe backend is unavailable"; }
	touch $(STAMP)

run: $(STAMP)
	.venv/bin/snakemake --profile workflow/profiles/local --cores $(CORES) --config profile=$(PROFILE)
	@$(PY) -m attnreid.cli where --profile $(PROFILE)

test: $(STAMP)
	$(PY) -m pytest -q

dvc-yaml: $(STAMP)
	$(PY) -m attnreid.cli dvc-yaml --profile $(PROFILE) --out dvc.yaml
