# Two commands on a fresh machine:
#   make demo   - set everything up and watch the monitor run on the embedded emulator
#   make test   - set everything up and run lint, type checks and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit setup clean collector helm systemd-tools

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/genesys-pulse run --emulator --scenario congested --duration 60s

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) collector helm systemd-tools
	$(BIN)/python -m pytest -q

test: lint typecheck unit

# The OpenTelemetry Collector the end-to-end tests use, built from Go modules
# (cached: a no-op when up to date). Without Go, locally, its tests skip; in CI
# (CI=true) a missing Go fails the build and the tests.
collector:
	@if command -v go >/dev/null 2>&1 || [ "$$CI" = true ]; then bash otel-collector/build.sh; \
	 else echo "Go not found: the collector tests will skip"; fi

# helm, built from Go modules (cached like the collector), for the chart tests
# (helm lint / helm template). Without Go, locally, they skip; in CI they fail.
helm:
	@if command -v go >/dev/null 2>&1 || [ "$$CI" = true ]; then bash deploy/helm/build-helm.sh; \
	 else echo "Go not found: the Helm chart tests will skip"; fi

# systemd-analyze (Debian's systemd package) for `systemd-analyze verify` of the
# unit. Installed in CI when missing; locally only reported.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
systemd-tools:
	@if command -v systemd-analyze >/dev/null 2>&1; then :; \
	 elif [ "$$CI" = true ]; then $(SUDO) apt-get update -q && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd; \
	 else echo "systemd-analyze not found: the unit-file tests will skip (make systemd-tools CI=true installs it)"; fi

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
