"""Helpers for the tests that run the locally built OpenTelemetry Collector."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = REPO_ROOT / "otel-collector"
DEFAULT_BINARY = COLLECTOR_DIR / "_build" / "otelcol-genesys-pulse"
BUILDER_MANIFEST = COLLECTOR_DIR / "builder-config.yaml"

#: Keys and settings the vendor configs read with ``${env:...}``. Dummies: the
#: tests never reach a vendor.
DUMMY_VENDOR_ENV: Mapping[str, str] = {
    "DD_API_KEY": "dummy-datadog-api-key",
    "DD_SITE": "datadoghq.com",
    "NEW_RELIC_LICENSE_KEY": "dummy-new-relic-license-key",
    "HONEYCOMB_API_KEY": "dummy-honeycomb-api-key",
    "HONEYCOMB_METRICS_DATASET": "genesys-pulse-test-metrics",
}


def in_ci() -> bool:
    """True when running in CI (``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def collector_configs() -> list[Path]:
    """Every collector config in ``otel-collector/`` (the builder manifest is not one)."""
    return sorted(p for p in COLLECTOR_DIR.glob("*.yaml") if p != BUILDER_MANIFEST)


def free_loopback_ports(count: int) -> list[int]:
    """Return ``count`` distinct TCP ports that were free on 127.0.0.1 a moment ago.

    All sockets are held open until every port is picked, so the ports are
    distinct; another process could still take one before the collector binds
    it, which the collector reports as a start-up failure.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def collector_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a collector process: ours, dummy vendor keys, then ``extra``."""
    env = dict(os.environ)
    env.update(DUMMY_VENDOR_ENV)
    env.update(extra)
    return env


def run_collector_command(
    binary: Path, args: list[str], env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the collector with ``args`` to completion (bounded by ``timeout`` seconds)."""
    return subprocess.run(
        [str(binary), *args],
        env=dict(env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
