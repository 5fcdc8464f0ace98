"""End to end with the real monitor: `genesys-pulse run` -> OTLP/HTTP -> the built collector -> file.

The monitor runs against its embedded emulator with half the application
pongs dropped, exports through the standard ``OTEL_*`` variables to the
collector running ``otel-collector/local.yaml``, and the test reads what the
collector's file exporter wrote: every metric with its unit, type, bucket
boundaries and attributes; timeouts as span events and as log records; the
audit records of the start, the token, the channel and the connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._collector import COLLECTOR_DIR, running_collector
from ._otlp_json import ReceivedTelemetry, attributes, poll_until

pytestmark = pytest.mark.collector

SERVICE = "genesys-pulse-e2e"
HISTOGRAMS = {
    "genesys.websocket.ping.rtt": "s",
    "genesys.websocket.ping.jitter": "s",
    "genesys.websocket.heartbeat.gap": "s",
    "genesys.monitor.loop.lag": "s",
}
SUMS = {
    "genesys.websocket.pings": "{ping}",
    "genesys.websocket.ping.timeouts": "{timeout}",
}
GAUGES = {
    "genesys.websocket.ping.jitter.smoothed": "s",
    "genesys.websocket.connection.state": "1",
    "genesys.websocket.threshold.state": "1",
}


def _check(got: ReceivedTelemetry) -> None:
    ours = [m for m in got.metrics if m.resource.get("service.name") == SERVICE]
    by_name = {m.body["name"]: m.body for m in ours}
    for name, unit in HISTOGRAMS.items():
        assert name in by_name, f"{name} missing; have {sorted(by_name)}"
        body = by_name[name]
        assert body.get("unit") == unit, (name, body.get("unit"))
        points = body["histogram"]["dataPoints"]
        bounds = [float(b) for b in points[0]["explicitBounds"]]
        assert bounds[0] == pytest.approx(0.001) and bounds[-1] == pytest.approx(30.0), bounds
        for p in points:
            attrs = attributes(p.get("attributes"))
            assert attrs.get("genesys.monitor.target") == "emulated-target", attrs
            assert "server.address" in attrs, attrs
            assert not any("channel" in k for k in attrs), attrs
    for name, unit in SUMS.items():
        assert name in by_name, f"{name} missing"
        assert by_name[name].get("unit") == unit
        types = {
            attributes(p.get("attributes")).get("genesys.ping.type")
            for p in by_name[name]["sum"]["dataPoints"]
        }
        # pings of both kinds; timeouts exist for the application kind (pongs dropped)
        want = {"control", "application"} if name.endswith("pings") else {"application"}
        assert want <= types, (name, types)
    for name, unit in GAUGES.items():
        assert name in by_name, f"{name} missing"
        assert by_name[name].get("unit") == unit
        assert "gauge" in by_name[name]
    timeouts = by_name["genesys.websocket.ping.timeouts"]["sum"]["dataPoints"]
    app = [p for p in timeouts if attributes(p["attributes"])["genesys.ping.type"] == "application"]
    assert int(app[0]["asInt"]) > 0, "the dropped application pongs were not counted"
    # Timeouts as span events on the probe-window span ...
    windows = got.span("genesys_pulse.probe_window")
    events = [e for s in windows for e in s.body.get("events", [])]
    ping_timeouts = [e for e in events if e["name"] == "genesys.ping.timeout"]
    assert ping_timeouts, (
        f"no genesys.ping.timeout span event; events: {[e['name'] for e in events]}"
    )
    assert attributes(ping_timeouts[0]["attributes"])["genesys.ping.type"] == "application"
    # ... and as log records with event_name, in the trace context of their span.
    logs = got.log("genesys_pulse.timeout")
    assert logs, (
        f"no timeout log record; have {sorted({r.body.get('eventName') for r in got.logs})}"
    )
    assert logs[0].body.get("traceId"), "timeout log record without trace context"
    # The audit trail: start, token, channel, connection.
    for kind in ("monitor.started", "token.issued", "channel.created", "connection.established"):
        assert got.log(f"genesys_pulse.{kind}"), f"no audit record {kind}"
    assert got.span("genesys_pulse.connect"), "no connect span"


def test_monitor_telemetry_arrives_through_the_collector(
    collector_binary: Path, tmp_path: Path
) -> None:
    with running_collector(collector_binary, COLLECTOR_DIR / "local.yaml", tmp_path) as collector:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OTEL_", "GENESYS_PULSE_", "GENESYS_CLOUD_"))
        }
        env.update(
            OTEL_SERVICE_NAME=SERVICE,
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.otlp_http_endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_METRIC_EXPORT_INTERVAL="2000",
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "genesys_pulse.cli",
                "run",
                "--emulator",
                "--duration",
                "8s",
                "--output",
                "jsonl",
                "--emulator-setting",
                "heartbeat_period=1",
                "--fault",
                "app-pong-drop=0.5",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout.splitlines()[-1])
        assert summary["type"] == "summary"
        try:
            poll_until(
                collector.output_file,
                _check,
                timeout=30.0,
                sleep=time.sleep,
                monotonic=time.monotonic,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- collector log ---\n{collector.log_tail()}") from exc
