"""Fixtures for the tests that run the locally built OpenTelemetry Collector.

The collector is built by ``otel-collector/build.sh`` into
``otel-collector/_build/otelcol-genesys-pulse``. When it is missing these tests
skip with the reason on a developer machine and fail in CI (``CI=true``), where
``make test`` builds it first. ``GENESYS_PULSE_COLLECTOR_BINARY`` points the
tests at another build.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ._collector import DEFAULT_BINARY, in_ci


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    """Path of the built collector; skip locally / fail in CI when it is missing."""
    binary = Path(os.environ.get("GENESYS_PULSE_COLLECTOR_BINARY", str(DEFAULT_BINARY)))
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    reason = (
        f"collector binary {binary} not found: build it with `bash otel-collector/build.sh` "
        "(needs Go and the Go module proxy; a cold build takes several minutes)"
    )
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)
