# The two commands of the README: `make run` (the product) and `make test` (the suite).
# Both create the environment they need from the package registry on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

.PHONY: run test lint simulate bench clean

$(READY): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(READY)

run: $(READY)  ## the product: Temporal dev server + Web UI, simulators, worker, API, a sample month
	$(BIN)/python -m devtools.stack

test: $(READY)  ## the whole suite
	$(BIN)/python -m pytest

lint: $(READY)  ## ruff and mypy (strict) over the source
	$(BIN)/ruff check .
	$(BIN)/mypy

simulate: $(READY)  ## a whole month for a sample cohort under time skipping, day by day
	$(BIN)/python -m devtools.simulate

bench: $(READY)  ## the benchmarks of the README's performance section
	$(BIN)/python -m benchmarks.cycles
	$(BIN)/python -m benchmarks.intake
	$(BIN)/python -m benchmarks.activation

clean:
	rm -rf $(VENV) .run *.egg-info
