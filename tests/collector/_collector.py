"""Helpers for the tests that run the locally built OpenTelemetry Collector."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

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


START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class RunningCollector:
    """A collector process started by :func:`running_collector`."""

    process: subprocess.Popen[bytes]
    otlp_http_endpoint: str
    health_url: str
    output_file: Path
    storage_dir: Path
    log_file: Path

    def log_tail(self, limit: int = 6000) -> str:
        """The end of the collector's own log, for failure messages."""
        try:
            return self.log_file.read_text(errors="replace")[-limit:]
        except OSError as exc:
            return f"<no collector log: {exc}>"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def running_collector(
    binary: Path,
    config: Path,
    work_dir: Path,
    *,
    name: str = "collector",
    otlp_http_port: int | None = None,
    storage_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[RunningCollector]:
    """Start the collector with ``config`` on free loopback ports; always stop it.

    Waits (bounded) until the health_check extension answers 200. The queue
    directory defaults to ``work_dir/<name>-queue`` and the file exporter
    output (``local.yaml``) to ``work_dir/<name>.jsonl``; the collector's log
    goes to ``work_dir/<name>.log``. On exit the process gets SIGTERM, then
    SIGKILL if it has not exited within ``STOP_TIMEOUT_S``. ``extra_env`` is
    added to the environment last.
    """
    grpc_port, http_port, health_port, metrics_port = free_loopback_ports(4)
    if otlp_http_port is not None:
        http_port = otlp_http_port
    output_file = work_dir / f"{name}.jsonl"
    log_file = work_dir / f"{name}.log"
    storage = storage_dir if storage_dir is not None else work_dir / f"{name}-queue"
    env = collector_env(
        {
            "GENESYS_PULSE_COLLECTOR_LISTEN_ADDRESS": "127.0.0.1",
            "GENESYS_PULSE_COLLECTOR_OTLP_GRPC_PORT": str(grpc_port),
            "GENESYS_PULSE_COLLECTOR_OTLP_HTTP_PORT": str(http_port),
            "GENESYS_PULSE_COLLECTOR_HEALTH_PORT": str(health_port),
            "GENESYS_PULSE_COLLECTOR_METRICS_PORT": str(metrics_port),
            "GENESYS_PULSE_COLLECTOR_STORAGE": str(storage),
            "GENESYS_PULSE_COLLECTOR_FILE": str(output_file),
            **(extra_env or {}),
        }
    )
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(binary), f"--config={config}", *extra_args],
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    collector = RunningCollector(
        process=process,
        otlp_http_endpoint=f"http://127.0.0.1:{http_port}",
        health_url=f"http://127.0.0.1:{health_port}/",
        output_file=output_file,
        storage_dir=storage,
        log_file=log_file,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(collector.health_url):
            if process.poll() is not None:
                pytest.fail(
                    f"{name} exited with {process.returncode} during start-up:\n"
                    + collector.log_tail()
                )
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"{name} not healthy after {START_TIMEOUT_S} s:\n" + collector.log_tail()
                )
            time.sleep(0.2)
        yield collector
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, bounded wait, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
