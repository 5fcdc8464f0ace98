"""Acceptance 1: through the real OTLP/HTTP exporters (built by sdk_setup) into an OTLP receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.test._otlp_test_server import OtlpProtoTestServer

from genesys_pulse.core.model import Sample
from genesys_pulse.telemetry import ALL_METRICS, SECONDS_BUCKETS, OTelSink
from genesys_pulse.telemetry.sdk_setup import Providers, configure_from_env

from ._helpers import TARGET, TARGET_ATTRS, scripted_run

# name -> (unit, OTLP data field)
EXPECTED = {
    "genesys.websocket.ping.rtt": ("s", "histogram"),
    "genesys.websocket.ping.jitter": ("s", "histogram"),
    "genesys.websocket.ping.jitter.smoothed": ("s", "gauge"),
    "genesys.websocket.pings": ("{ping}", "sum"),
    "genesys.websocket.ping.timeouts": ("{timeout}", "sum"),
    "genesys.websocket.stability": ("1", "gauge"),
    "genesys.websocket.heartbeat.gap": ("s", "histogram"),
    "genesys.websocket.reconnects": ("{reconnect}", "sum"),
    "genesys.websocket.connection.state": ("1", "gauge"),
    "genesys.websocket.threshold.state": ("1", "gauge"),
    "genesys.monitor.loop.lag": ("s", "histogram"),
}


def _attrs(kvs: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in kvs:  # type: ignore[attr-defined]
        v = kv.value
        out[kv.key] = getattr(v, v.WhichOneof("value"))
    return out


@pytest.fixture(scope="module")
def exported() -> Iterator[OtlpProtoTestServer]:
    with OtlpProtoTestServer() as server:
        providers: Providers = configure_from_env(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.port}",
                "OTEL_METRIC_EXPORT_INTERVAL": "60000",
                "OTEL_SERVICE_NAME": "genesys-pulse-test",
            }
        )
        sink = OTelSink(
            meter_provider=providers.meter_provider,
            tracer_provider=providers.tracer_provider,
            logger_provider=providers.logger_provider,
            target_attrs=TARGET_ATTRS,
            probe_timeouts={TARGET: {"control": 1.0, "application": 1.0, "heartbeat": 90.0}},
        )
        for item in scripted_run():
            if isinstance(item, Sample):
                sink.on_sample(item)
            else:
                sink.on_event(item)
        assert providers.shutdown(timeout=10.0)  # flushes all three signals
        yield server


def test_every_metric_arrives_with_unit_type_buckets_attributes(
    exported: OtlpProtoTestServer,
) -> None:
    metrics = {m.metric.name: m for m in exported.drain_metrics()}
    assert set(ALL_METRICS) <= set(metrics)
    for name, (unit, field) in EXPECTED.items():
        recorded = metrics[name]
        assert recorded.scope.name == "genesys_pulse"
        assert _attrs(recorded.resource.attributes)["service.name"] == "genesys-pulse-test"
        m = recorded.metric
        assert m.unit == unit, name
        assert m.WhichOneof("data") == field, name
        points = getattr(m, field).data_points
        assert points, name
        for dp in points:
            attrs = _attrs(dp.attributes)
            assert attrs["genesys.monitor.target"] == TARGET
            assert attrs["genesys.environment"] == "euw2.pure.cloud"
            assert attrs["server.address"] == "streaming.euw2.pure.cloud"
            assert not {"channel_id", "channel.id", "seq"} & set(attrs)
            if field == "histogram":
                assert tuple(dp.explicit_bounds) == SECONDS_BUCKETS
        if name.startswith("genesys.websocket.ping"):
            types = {_attrs(dp.attributes)["genesys.ping.type"] for dp in points}
            assert types <= {"control", "application"} and types, name
            if name != "genesys.websocket.ping.timeouts":
                assert types == {"control", "application"}, name
        if field == "sum":
            assert m.sum.is_monotonic


def test_timeouts_arrive_as_span_events_and_log_records(exported: OtlpProtoTestServer) -> None:
    spans = exported.drain_spans()
    names = {s.span.name for s in spans}
    assert {"genesys_pulse.probe_window", "genesys_pulse.connect"} <= names
    window = next(s.span for s in spans if s.span.name == "genesys_pulse.probe_window")
    (timeout,) = [e for e in window.events if e.name == "genesys.ping.timeout"]
    assert _attrs(timeout.attributes) == {
        "genesys.ping.type": "control",
        "timeout_s": 1.0,
        "seq": 30,
    }
    logs = exported.drain_log_records()
    by_name = {r.log_record.event_name: r.log_record for r in logs}
    log = by_name["genesys_pulse.timeout"]
    assert log.severity_text == "WARN"
    assert _attrs(log.attributes)["genesys.ping.type"] == "control"
    assert log.trace_id == window.trace_id and log.span_id == window.span_id
    # audit records for start, token, channel, connection and threshold changes
    for kind in (
        "monitor.started",
        "monitor.stopped",
        "token.issued",
        "token.refresh",
        "token.failed",
        "channel.created",
        "channel.rotated",
        "channel.expired",
        "connection.lost",
        "connection.restored",
        "threshold.breach",
        "threshold.clear",
    ):
        assert f"genesys_pulse.{kind}" in by_name, kind
    assert _attrs(by_name["genesys_pulse.connection.lost"].attributes)["code"] == 1011
