# Two commands on a fresh machine:
#   make demo   - set everything up and watch the monitor run on the embedded emulator
#   make test   - set everything up and run lint, type checks and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit matrix setup clean collector

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/genesys-pulse run --emulator --scenario congested --duration 60s

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples noxfile.py
	$(BIN)/ruff format --check src tests bench examples noxfile.py

typecheck: $(STAMP)
	$(BIN)/mypy

# The host-fit test needs the service venv `matrix` builds; it runs there.
unit: $(STAMP) collector
	$(BIN)/python -m pytest -q --ignore=tests/instrumentor/test_host_fit.py

# Compatibility matrix (oldest deps on Python 3.11, newest on 3.13, a bare
# install) and the host-fit check, in real virtualenvs under .nox/ (reused:
# a second run only re-checks what is installed). See noxfile.py.
matrix: $(STAMP)
	$(BIN)/nox

test: lint typecheck unit matrix

# The OpenTelemetry Collector the end-to-end tests use, built from Go modules
# (cached: a no-op when up to date). Without Go, locally, its tests skip; in CI
# (CI=true) a missing Go fails the build and the tests.
collector:
	@if command -v go >/dev/null 2>&1 || [ "$$CI" = true ]; then bash otel-collector/build.sh; \
	 else echo "Go not found: the collector tests will skip"; fi

clean:
	rm -rf $(VENV) .nox build dist .pytest_cache .mypy_cache .ruff_cache
