# Two commands matter on a fresh machine: `make demo` and `make test`. Both create .venv and install.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PARTS := persistence agents graphs evals app
# setuptools installs this layout (root folders mapped into the `accord` namespace) editable
# through an import hook, and each time says "Please be careful with folders in your working
# directory with the same name as your package": an InformationOnly notice, true of every such
# install. No such folder exists here (tests/test_packaging.py keeps it so), so it is not shown.
EDITABLE_NOTICE := PYTHONWARNINGS="ignore:Editable installation"

.PHONY: demo test lint format typecheck check smoke bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(EDITABLE_NOTICE) $(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/accord demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# mypy cannot follow setuptools' editable import hook, so it reads the parts through a link tree
# that spells the `accord` namespace the way the wheel does.
typecheck: $(STAMP)
	rm -rf .build/typecheck && mkdir -p .build/typecheck/accord
	for p in $(PARTS); do ln -s ../../../$$p .build/typecheck/accord/$$p; done
	cd .build/typecheck && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml -p accord
	MYPYPATH=.build/typecheck:tests $(VENV)/bin/mypy tests

check: lint typecheck test

# A plain `pip install .` in a fresh venv works (no extras): see .ci/smoke.
smoke:
	.ci/smoke

# The comparisons, each printed with its ratios. Run alone (long, or model-bound): bench/models.py,
# bench/routing_model.py (fills the model router's answers for routing_quality), bench/soak.py,
# bench/scale.py; bench/hwu64*.py and bench/routing_calibration.py are helpers.
BENCHES := overhead patterns checkpointer sessions roundtrips replication router failover faults \
	server evals startup routing_quality

bench: $(STAMP)
	for b in $(BENCHES); do $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .build build *.egg-info
