# Two commands on a fresh machine:
#   make demo   - set everything up and watch the monitor run on the embedded emulator
#   make test   - set everything up and run lint, type checks and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit matrix setup clean collector browser proxy-tools test-random helm deploy-tools image promtool

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/genesys-pulse run --emulator --scenario congested --duration 60s --emulator-setting heartbeat_period=5

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples noxfile.py dashboards
	$(BIN)/ruff format --check src tests bench examples noxfile.py dashboards
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The host-fit test needs the service venv `matrix` builds; it runs there.
unit: $(STAMP) collector browser proxy-tools helm deploy-tools image promtool
	$(BIN)/python -m pytest -q --ignore=tests/instrumentor/test_host_fit.py

# Compatibility matrix (oldest deps on Python 3.11, newest on 3.13, a bare
# install) and the host-fit check, in real virtualenvs under .nox/ (reused:
# a second run only re-checks what is installed). See noxfile.py.
matrix: $(STAMP)
	$(BIN)/nox

test: lint typecheck unit matrix

# The property tests with fresh random examples, 10x as many (HYPOTHESIS_SCALE);
# `make test` runs them derandomised (tests/conftest.py).
test-random: $(STAMP)
	HYPOTHESIS_PROFILE=random $(BIN)/python -m pytest -q -m hypothesis $(PYTEST_ARGS)

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

# Debian's chromium, the real headless browser the report tests drive through
# playwright (no browser download: playwright uses this executable). Idempotent:
# nothing to do when chromium is on PATH. Without root or apt-get, locally, the
# browser tests skip; in CI (CI=true) a missing chromium fails them.
browser:
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	 elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	   apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	 elif [ "$$CI" = true ]; then echo "chromium missing and cannot be installed (need root and apt-get)" >&2; exit 1; \
	 else echo "chromium not installed (needs root + apt-get): the browser tests will skip"; fi

# tinyproxy (Debian package), the real HTTP proxy the proxy tests start on
# loopback. Idempotent: a no-op once installed. Without root or apt-get,
# locally, its tests skip; in CI (CI=true) a missing tinyproxy fails them.
# The tests start their own tinyproxy processes on free loopback ports, so the
# package's own service (started or not, depending on the machine) is not used.
proxy-tools:
	@if command -v tinyproxy >/dev/null 2>&1 || [ -x /usr/bin/tinyproxy ]; then :; \
	 elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	   apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tinyproxy; \
	 elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	   sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tinyproxy; \
	 elif [ "$$CI" = true ]; then echo "tinyproxy is missing and cannot be installed (needs root and apt-get)"; exit 1; \
	 else echo "tinyproxy not found: the proxy tests will skip"; fi

# helm, built from Go modules (cached like the collector), for the chart tests
# (helm lint / helm template). Without Go, locally, they skip; in CI they fail.
helm:
	@if command -v go >/dev/null 2>&1 || [ "$$CI" = true ]; then bash deploy/helm/build-helm.sh; \
	 else echo "Go not found: the Helm chart tests will skip"; fi

# Debian packages the deployment tests use: systemd (systemd-analyze verify of
# the unit), podman, runc and debootstrap (the container image, built over a
# Debian base made locally: no image registry; runc runs it in the tests).
# Installed in CI when missing (one apt-get update); locally only reported.
DEPLOY_TOOLS := systemd-analyze:systemd podman:podman runc:runc debootstrap:debootstrap
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deploy-tools:
	@missing=""; for pair in $(DEPLOY_TOOLS); do \
	   command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	 if [ -z "$$missing" ]; then :; \
	 elif [ "$$CI" = true ]; then $(SUDO) apt-get update -q && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	 else echo "not installed:$$missing - the tests needing them will skip (CI=true make deploy-tools installs them)"; fi

# The container image (podman), cached by a stamp: deploy/container/build-image.sh.
image: $(STAMP) deploy-tools
	@if command -v podman >/dev/null 2>&1 || [ "$$CI" = true ]; then bash deploy/container/build-image.sh; \
	 else echo "podman not found: the image tests will skip"; fi

clean:
	rm -rf $(VENV) .nox build dist .pytest_cache .mypy_cache .ruff_cache
