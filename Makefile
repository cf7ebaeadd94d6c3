# Two commands do all the set-up: `make run` (the product) and `make test` (the suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-http bench-matching bench-audit bench-scale clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	exec $(BIN)/alliance run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite runs in one process per core (pytest-xdist): each has its own PostgreSQL, Temporal and mail server.
# The cluster tests (whole stacks of processes, timed against faults) then run alone, one at a time.
# A process that runs out of tests takes some from the other's queue (worksteal); the long ones are queued first.
# MARKS narrows both (e.g. MARKS=storage); pytest's exit status 5 (no test selected) is not a failure.
MARKS ?=
only = $(if $(MARKS),($(MARKS)) and ,)
test: lint
	$(BIN)/pytest -q -n auto --dist worksteal -m "$(only)not cluster" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -q -n 0 -m "$(only)cluster" $(PYTEST_ARGS) || [ $$? -eq 5 ]

bench: $(STAMP)
	$(BIN)/python -m bench.cases $(BENCH_ARGS)

bench-http: $(STAMP)
	$(BIN)/python -m bench.http_actions $(BENCH_ARGS)

bench-matching: $(STAMP)
	$(BIN)/python -m bench.matching $(BENCH_ARGS)

bench-audit: $(STAMP)
	$(BIN)/python -m bench.audit $(BENCH_ARGS)

bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .alliance .pytest_cache .mypy_cache .ruff_cache
