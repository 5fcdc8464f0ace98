"""A vendor config's pipeline, run for real with the vendor swapped for a local collector.

``datadog.yaml`` is started with its three OTLP/HTTP endpoints overridden
(``--set``) to point at a second collector running ``local.yaml``, whose file
exporter shows what the "vendor" received. This exercises the parts the
vendor configs add: ``cumulativetodelta``, gzip, ``retry_on_failure`` and the
persistent ``sending_queue`` on ``file_storage``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ._collector import COLLECTOR_DIR, RunningCollector, free_loopback_ports, running_collector
from ._otlp_json import ReceivedTelemetry, poll_until
from ._sample_telemetry import check_sample_telemetry, send_sample_telemetry

pytestmark = pytest.mark.collector

ARRIVAL_TIMEOUT_S = 30.0
#: Shorter exporter-side batching than the shipped 5 s so that two collectors
#: in a row stay quick.
FAST_BATCH = "--set=exporters::otlp_http/datadog::sending_queue::batch::flush_timeout=200ms"


def _datadog_pointing_at(base: str) -> list[str]:
    exporter = "exporters::otlp_http/datadog"
    return [
        f"--set={exporter}::traces_endpoint={base}/v1/traces",
        f"--set={exporter}::metrics_endpoint={base}/v1/metrics",
        f"--set={exporter}::logs_endpoint={base}/v1/logs",
        FAST_BATCH,
    ]


def _wait_for_delivery(vendor: RunningCollector, edge: RunningCollector) -> ReceivedTelemetry:
    try:
        return poll_until(
            vendor.output_file,
            lambda got: check_sample_telemetry(got, delta=True),
            timeout=ARRIVAL_TIMEOUT_S,
            sleep=time.sleep,
            monotonic=time.monotonic,
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\n--- vendor collector log ---\n{vendor.log_tail()}"
            f"\n--- edge collector log ---\n{edge.log_tail()}"
        ) from exc


def test_datadog_pipeline_converts_to_delta(collector_binary: Path, tmp_path: Path) -> None:
    with running_collector(
        collector_binary,
        COLLECTOR_DIR / "local.yaml",
        tmp_path,
        name="vendor",
    ) as vendor:
        with running_collector(
            collector_binary,
            COLLECTOR_DIR / "datadog.yaml",
            tmp_path,
            name="edge",
            extra_args=_datadog_pointing_at(vendor.otlp_http_endpoint),
        ) as edge:
            send_sample_telemetry(edge.otlp_http_endpoint)
            _wait_for_delivery(vendor, edge)


def _wait_for_log_line(collector: RunningCollector, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in collector.log_tail(limit=200_000):
        assert collector.process.poll() is None, "collector exited:\n" + collector.log_tail()
        if time.monotonic() >= deadline:
            pytest.fail(f"{text!r} not logged within {timeout} s:\n" + collector.log_tail())
        time.sleep(0.2)


def test_persistent_queue_survives_outage_and_restart(
    collector_binary: Path, tmp_path: Path
) -> None:
    """Data accepted while the backend is down is delivered after a collector restart."""
    (vendor_port,) = free_loopback_ports(1)
    vendor_base = f"http://127.0.0.1:{vendor_port}"
    storage = tmp_path / "edge-queue"
    datadog = COLLECTOR_DIR / "datadog.yaml"

    # 1. Backend down: the edge collector accepts the data, fails to export it
    #    (connection refused), keeps it in the on-disk queue, and is stopped.
    with running_collector(
        collector_binary,
        datadog,
        tmp_path,
        name="edge-first",
        storage_dir=storage,
        extra_args=_datadog_pointing_at(vendor_base),
    ) as edge:
        send_sample_telemetry(edge.otlp_http_endpoint)
        _wait_for_log_line(edge, "Will retry", timeout=ARRIVAL_TIMEOUT_S)
    assert any(storage.iterdir()), "the persistent queue wrote nothing"

    # 2. Backend back, edge collector restarted on the same storage: the queued
    #    data is sent without anything being sent again by the SDK.
    with running_collector(
        collector_binary,
        COLLECTOR_DIR / "local.yaml",
        tmp_path,
        name="vendor",
        otlp_http_port=vendor_port,
    ) as vendor:
        assert not vendor.output_file.exists() or not vendor.output_file.read_text().strip()
        with running_collector(
            collector_binary,
            datadog,
            tmp_path,
            name="edge-second",
            storage_dir=storage,
            extra_args=_datadog_pointing_at(vendor_base),
        ) as edge:
            _wait_for_delivery(vendor, edge)
