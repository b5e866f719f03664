# The two commands of the README: `make run` (the product) and `make test` (the suite).
# Both create the environment they need from the package registry on first use, installing the
# exact versions of requirements/dev.lock (with their hashes), then the project without its
# dependencies. `make lock` recompiles the locks after pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
LOCKS := requirements/prod.lock requirements/dev.lock
# The locks are resolved for every platform (the image's Linux as well as a developer's machine).
COMPILE = UV_CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/uv pip compile pyproject.toml \
	--python-version 3.11 --universal --generate-hashes --quiet

.PHONY: run test lint lock lock-upgrade lock-check simulate bench clean

$(READY): pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(READY)

# uv compiles the locks; a fresh machine gets it with pip first (the lock pins it afterwards).
$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv

run: $(READY)  ## the product: Temporal dev server + Web UI, simulators, worker, API, a sample month
	$(BIN)/python -m devtools.stack

test: $(READY)  ## the whole suite
	$(BIN)/python -m pytest

lint: $(READY) lock-check  ## ruff and mypy (strict) over the source, the locks in sync
	$(BIN)/ruff check .
	$(BIN)/mypy

lock: $(BIN)/uv  ## recompile the locks from pyproject.toml, keeping the pins that still fit
	$(COMPILE) -o requirements/prod.lock
	$(COMPILE) --extra dev -o requirements/dev.lock

lock-upgrade: $(BIN)/uv  ## recompile the locks at the newest releases pyproject.toml allows
	$(COMPILE) --upgrade -o requirements/prod.lock
	$(COMPILE) --upgrade --extra dev -o requirements/dev.lock

# The locks as `make lock` would leave them now: a difference means pyproject.toml changed
# without `make lock` (existing pins are kept, so new releases alone change nothing).
lock-check: $(BIN)/uv  ## fail when the locks are out of sync with pyproject.toml
	rm -rf $(VENV)/lock-check && mkdir -p $(VENV)/lock-check
	cp $(LOCKS) $(VENV)/lock-check/
	$(COMPILE) -o $(VENV)/lock-check/prod.lock
	$(COMPILE) --extra dev -o $(VENV)/lock-check/dev.lock
	diff -u requirements/prod.lock $(VENV)/lock-check/prod.lock
	diff -u requirements/dev.lock $(VENV)/lock-check/dev.lock

CITIZENS ?= 400
simulate: $(READY)  ## a whole month for CITIZENS (split between gas and food) under time skipping
	$(BIN)/python -m devtools.simulate --citizens $(CITIZENS)

bench: $(READY)  ## every benchmark on SQLite and PostgreSQL: the README's performance table
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .run *.egg-info
