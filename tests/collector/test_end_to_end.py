"""End to end: OTLP/HTTP from the OpenTelemetry SDK, through the built collector, to its file.

The collector runs ``otel-collector/local.yaml`` on free loopback ports with
its queue and output in ``tmp_path``. The sending and checking live in
``_sample_telemetry`` so that the monitor's own telemetry can replace them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ._collector import COLLECTOR_DIR, running_collector
from ._otlp_json import ReceivedTelemetry, poll_until
from ._sample_telemetry import SERVICE_NAME, check_sample_telemetry, send_sample_telemetry

pytestmark = pytest.mark.collector

ARRIVAL_TIMEOUT_S = 30.0  # the file exporter flushes every 1 s


def _check_collector_added_resource(got: ReceivedTelemetry) -> None:
    """resourcedetection (env, system) ran in every pipeline."""
    for kind, items in (("metrics", got.metrics), ("spans", got.spans), ("logs", got.logs)):
        ours = [i for i in items if i.resource.get("service.name") == SERVICE_NAME]
        assert ours, f"no {kind} from {SERVICE_NAME}"
        for item in ours:
            assert item.resource.get("host.name"), f"{kind} without host.name: {item.resource}"
            assert item.resource.get("os.type"), f"{kind} without os.type: {item.resource}"


def test_sdk_telemetry_arrives_in_the_file_exporter(collector_binary: Path, tmp_path: Path) -> None:
    with running_collector(collector_binary, COLLECTOR_DIR / "local.yaml", tmp_path) as collector:
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
