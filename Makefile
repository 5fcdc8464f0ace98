# Two commands on a fresh machine:
#   make demo   - set everything up and watch the monitor run on the embedded emulator
#   make test   - set everything up and run lint, type checks and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit setup clean collector promtool

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/genesys-pulse run --emulator --scenario congested --duration 60s

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples dashboards
	$(BIN)/ruff format --check src tests bench examples dashboards

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) collector promtool
	$(BIN)/python -m pytest -q

test: lint typecheck unit

# The OpenTelemetry Collector the end-to-end tests use, built from Go modules
# (cached: a no-op when up to date). Without Go, locally, its tests skip; in CI
# (CI=true) a missing Go fails the build and the tests.
collector:
	@if command -v go >/dev/null 2>&1 || [ "$$CI" = true ]; then bash otel-collector/build.sh; \
	 else echo "Go not found: the collector tests will skip"; fi

# promtool (Prometheus v3.16.0) for the rule tests in tests/dashboards, built
# from Go modules into dashboards/prometheus/_build (cached by a stamp). Without
# Go, locally, those tests skip; in CI (CI=true) a missing Go fails.
promtool:
	@if command -v go >/dev/null 2>&1 || [ "$$CI" = true ]; then bash dashboards/prometheus/build-promtool.sh; \
	 else echo "Go not found: the promtool tests will skip"; fi

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
