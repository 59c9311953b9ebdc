# toymodels: the two commands a new user types are `make reproduce` and `make test`.
# Only python3 and make are needed; everything else is installed into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.toymodels-installed
# FULL=1 runs every figure at full (paper) size instead of the fast mode.
FULL   ?= 0
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k ghost"`.
PYTEST_ARGS ?=
# Test processes (pytest-xdist); tests are spread over the workers one by one.
JOBS ?= 2

.PHONY: setup reproduce figures report test test-slow test-all lint bench clean

setup: $(STAMP)

# The installed packages are byte-compiled by compileall on every core rather than by pip's
# one process (the same work: ~60 CPU-s; about half the wall time on 2 cores).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test,sweep,dev]'
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
		|| echo "compileall: some files were not byte-compiled (Python compiles them on import)"
	touch $(STAMP)

## The main job: every figure script (fast mode unless FULL=1), then the report.
reproduce: $(STAMP)
	$(BIN)/python -m figures $(if $(filter 1,$(FULL)),--full,)

figures: reproduce

report: $(STAMP)
	$(BIN)/python -m figures --report-only

## Default test run (under 10 minutes on 2 cores); slow checks are excluded.
test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist load --durations=15 $(PYTEST_ARGS)

## Long checks only.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist load -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist load -m 'slow or not slow' $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

## Benchmarks against other tools and the machine's limits -> bench/out/BENCH.md (about 15
## minutes on 2 cores); installs the `bench` extra (CPU torch, PyHessian, hessian-eigenthings,
## loss-landscapes), which the core install and `make test` never do. `python -m bench` runs
## every bench_*.py; `python -m bench --report` rebuilds BENCH.md from the stored JSONs.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench peers scaling

clean:
	rm -rf figures/out figures/cache bench/out .pytest_cache
