"""End to end: OTLP/HTTP from the OpenTelemetry SDK, through the built collector, to its file.

The collector runs ``otel-collector/local.yaml`` on free loopback ports with
its queue and output in ``tmp_path``. The sending and checking live in
``_sample_telemetry`` so that the monitor's own telemetry can replace them.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._collector import COLLECTOR_DIR, REPO_ROOT, collector_env, free_loopback_ports
from ._otlp_json import ReceivedTelemetry, poll_until
from ._sample_telemetry import SERVICE_NAME, check_sample_telemetry, send_sample_telemetry

pytestmark = pytest.mark.collector

START_TIMEOUT_S = 30.0
ARRIVAL_TIMEOUT_S = 30.0  # the batch processor holds data up to 5 s, the file exporter 1 s
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class RunningCollector:
    """A collector process started from ``local.yaml``."""

    process: subprocess.Popen[bytes]
    otlp_http_endpoint: str
    health_url: str
    output_file: Path
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
def running_collector(binary: Path, tmp_path: Path) -> Iterator[RunningCollector]:
    """Start the collector with ``local.yaml``, wait until healthy, always stop it."""
    grpc_port, http_port, health_port, metrics_port = free_loopback_ports(4)
    output_file = tmp_path / "telemetry.jsonl"
    log_file = tmp_path / "collector.log"
    env = collector_env(
        {
            "GENESYS_PULSE_COLLECTOR_LISTEN_ADDRESS": "127.0.0.1",
            "GENESYS_PULSE_COLLECTOR_OTLP_GRPC_PORT": str(grpc_port),
            "GENESYS_PULSE_COLLECTOR_OTLP_HTTP_PORT": str(http_port),
            "GENESYS_PULSE_COLLECTOR_HEALTH_PORT": str(health_port),
            "GENESYS_PULSE_COLLECTOR_METRICS_PORT": str(metrics_port),
            "GENESYS_PULSE_COLLECTOR_STORAGE": str(tmp_path / "queue"),
            "GENESYS_PULSE_COLLECTOR_FILE": str(output_file),
        }
    )
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [str(binary), f"--config={COLLECTOR_DIR / 'local.yaml'}"],
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
        log_file=log_file,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(collector.health_url):
            if process.poll() is not None:
                pytest.fail(
                    f"collector exited with {process.returncode} during start-up:\n"
                    + collector.log_tail()
                )
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"collector not healthy after {START_TIMEOUT_S} s:\n" + collector.log_tail()
                )
            time.sleep(0.2)
        yield collector
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)


def _check_collector_added_resource(got: ReceivedTelemetry) -> None:
    """resourcedetection (env, system) ran in every pipeline."""
    for kind, items in (("metrics", got.metrics), ("spans", got.spans), ("logs", got.logs)):
        ours = [i for i in items if i.resource.get("service.name") == SERVICE_NAME]
        assert ours, f"no {kind} from {SERVICE_NAME}"
        for item in ours:
            assert item.resource.get("host.name"), f"{kind} without host.name: {item.resource}"
            assert item.resource.get("os.type"), f"{kind} without os.type: {item.resource}"


def test_sdk_telemetry_arrives_in_the_file_exporter(collector_binary: Path, tmp_path: Path) -> None:
    with running_collector(collector_binary, tmp_path) as collector:
        send_sample_telemetry(collector.otlp_http_endpoint)

        def check(got: ReceivedTelemetry) -> None:
            check_sample_telemetry(got)
            _check_collector_added_resource(got)

        try:
            poll_until(
                collector.output_file,
                check,
                timeout=ARRIVAL_TIMEOUT_S,
                sleep=time.sleep,
                monotonic=time.monotonic,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- collector log ---\n{collector.log_tail()}") from exc
        assert collector.process.poll() is None, "collector died while exporting"
