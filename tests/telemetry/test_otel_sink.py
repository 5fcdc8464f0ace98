"""OTelSink against the in-memory SDK: the metric, span and log contract."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from opentelemetry.metrics import NoOpHistogram, NoOpMeter, NoOpMeterProvider
from opentelemetry.sdk.metrics._internal.point import Gauge, Histogram, Sum
from opentelemetry.sdk.metrics.export import AggregationTemporality
from opentelemetry.trace import StatusCode

from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.telemetry import ALL_METRICS, SECONDS_BUCKETS, OTelSink

from ._helpers import T0, TARGET, TARGET_ATTRS, event, pipeline, sample, scripted_run

EXPECTED = {
    # name: (unit, point type, has genesys.ping.type)
    "genesys.websocket.ping.rtt": ("s", Histogram, True),
    "genesys.websocket.ping.jitter": ("s", Histogram, True),
    "genesys.websocket.ping.jitter.smoothed": ("s", Gauge, True),
    "genesys.websocket.pings": ("{ping}", Sum, True),
    "genesys.websocket.ping.timeouts": ("{timeout}", Sum, True),
    "genesys.websocket.stability": ("1", Gauge, True),
    "genesys.websocket.heartbeat.gap": ("s", Histogram, True),
    "genesys.websocket.reconnects": ("{reconnect}", Sum, False),
    "genesys.websocket.connection.state": ("1", Gauge, False),
    "genesys.websocket.threshold.state": ("1", Gauge, False),
    "genesys.monitor.loop.lag": ("s", Histogram, False),
}
FORBIDDEN_KEYS = {"channel.id", "channel_id", "correlation_id", "correlationId", "seq"}


def run_script(**kwargs: object):
    p = pipeline()
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
        window=60.0,
        target_attrs=TARGET_ATTRS,
        redacted_config={"targets": [{"id": TARGET, "client_secret": "***"}]},
        probe_timeouts={TARGET: {"control": 1.0, "application": 1.0, "heartbeat": 90.0}},
        **kwargs,  # type: ignore[arg-type]
    )
    for item in scripted_run():
        if isinstance(item, Sample):
            sink.on_sample(item)
        else:
            sink.on_event(item)
    return p, sink


def test_every_metric_name_unit_type_buckets_and_attributes() -> None:
    p, sink = run_script()
    assert sink.errors == 0
    points = p.metric_points()
    assert set(EXPECTED) == set(ALL_METRICS) <= set(points)
    for name, (unit, kind, typed) in EXPECTED.items():
        metric, dps = points[name]
        assert metric.unit == unit, name
        assert isinstance(metric.data, kind), name
        assert dps, name
        for dp in dps:
            attrs = dict(dp.attributes)
            assert attrs["genesys.monitor.target"] == TARGET
            assert attrs["genesys.environment"] == "euw2.pure.cloud"
            assert attrs["server.address"] == "streaming.euw2.pure.cloud"
            assert not FORBIDDEN_KEYS & set(attrs)
            if typed:
                assert attrs["genesys.ping.type"] in ("control", "application", "heartbeat")
            if isinstance(metric.data, Histogram):
                assert tuple(dp.explicit_bounds) == SECONDS_BUCKETS
    assert SECONDS_BUCKETS[0] == 0.001 and SECONDS_BUCKETS[-1] == 30.0


def test_metric_values() -> None:
    p, _ = run_script()
    points = p.metric_points()

    def by_type(name: str) -> dict[str, object]:
        return {dict(dp.attributes).get("genesys.ping.type"): dp for dp in points[name][1]}

    pings = by_type("genesys.websocket.pings")
    assert pings["control"].value == 30 and pings["application"].value == 29
    assert by_type("genesys.websocket.ping.timeouts")["control"].value == 1
    rtt = by_type("genesys.websocket.ping.rtt")["control"]
    assert rtt.count == 29 and rtt.min == pytest.approx(0.040)
    assert by_type("genesys.websocket.heartbeat.gap")["heartbeat"].sum == pytest.approx(30.2)
    # RFC 3550: J starts at 0 and moves 1/16 of the way to each |D|
    j = 0.0
    for _ in range(28):
        j += (0.001 - j) / 16
    assert by_type("genesys.websocket.ping.jitter.smoothed")["application"].value == pytest.approx(
        j
    )
    stab = by_type("genesys.websocket.stability")
    assert stab["control"].value == pytest.approx(0.98) and stab["application"].value == 1.0
    reasons = {
        dict(dp.attributes)["genesys.reconnect.reason"]: dp.value
        for dp in points["genesys.websocket.reconnects"][1]
    }
    assert reasons == {"error": 1, "token": 1}
    (conn,) = points["genesys.websocket.connection.state"][1]
    assert conn.value == 1
    states = {
        (
            dict(dp.attributes)["genesys.threshold.metric"],
            dict(dp.attributes)["genesys.ping.type"],
        ): dp.value
        for dp in points["genesys.websocket.threshold.state"][1]
    }
    metrics = ("rtt", "jitter", "consecutive_timeouts", "stability")
    assert states == {
        **{(m, t): 0 for m in metrics for t in ("control", "application")},
        ("heartbeat_silence", "heartbeat"): 0,
    }
    (lag,) = points["genesys.monitor.loop.lag"][1]
    # one loop-lag point per probe slot (30 slots sent), not per probe
    assert lag.count == 30 and lag.max == pytest.approx(0.002)


def test_threshold_state_levels() -> None:
    p = pipeline()
    sink = OTelSink(meter_provider=p.meter_provider, target_attrs={})
    sink.on_sample(sample(1, ProbeKind.APPLICATION))
    sink.on_event(
        event("threshold.breach", 1, metric="jitter", probe="application", level="critical")
    )
    sink.on_event(event("threshold.breach", 2, metric="stability", probe="application", level=1))
    sink.on_event(event("threshold.breach", 3, metric="x" * 80, probe="application", level=1))
    states = {
        dict(dp.attributes)["genesys.threshold.metric"]: dp.value
        for dp in p.metric_points()["genesys.websocket.threshold.state"][1]
    }
    assert states == {"jitter": 2, "stability": 1, "rtt": 0, "consecutive_timeouts": 0}


def test_probe_window_span_carries_summary_and_events() -> None:
    p, _ = run_script()
    spans = p.spans.get_finished_spans()
    (window,) = [s for s in spans if s.name == "genesys_pulse.probe_window"]
    assert window.attributes is not None
    assert window.attributes["genesys.monitor.target"] == TARGET
    assert window.attributes["genesys_pulse.window.control.stability"] == 0.98
    assert window.attributes["genesys_pulse.window.control.p50_s"] == 0.042
    assert window.attributes["genesys_pulse.span_events.dropped"] == 0
    assert window.end_time == int((T0 + 60.0) * 1e9)
    assert window.end_time - window.start_time <= 60 * 10**9
    names = [e.name for e in window.events]
    for required in (
        "genesys.ping.timeout",
        "genesys.threshold.breach",
        "genesys.threshold.clear",
        "genesys.socket_closing",
        "genesys.channel.rotation",
        "genesys.reconnect",
    ):
        assert required in names, required
    (timeout,) = [e for e in window.events if e.name == "genesys.ping.timeout"]
    assert timeout.attributes == {"genesys.ping.type": "control", "timeout_s": 1.0, "seq": 30}


def test_connect_span_with_phases() -> None:
    p, _ = run_script()
    spans = p.spans.get_finished_spans()
    connects = [s for s in spans if s.name == "genesys_pulse.connect"]
    assert connects, "no connect span"
    first = connects[0]
    assert first.status.status_code is StatusCode.OK
    assert first.attributes is not None
    assert list(first.attributes["genesys_pulse.connect.phases"]) == [
        "channel",
        "handshake",
        "login",
        "subscribe",
    ]
    assert first.start_time == int(T0 * 1e9)  # the first attempt starts with the monitor
    # connection.established (the first connection, not a restore) ends it
    assert first.end_time == int((T0 + 0.95) * 1e9)
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == first.context.span_id
    ]
    assert {c.name for c in children} == {
        "genesys_pulse.connect.login",
        "genesys_pulse.connect.channel",
        "genesys_pulse.connect.subscribe",
        "genesys_pulse.connect.handshake",
    }
    login = next(c for c in children if c.name.endswith("login"))
    assert login.end_time - login.start_time == pytest.approx(0.15e9, rel=1e-3)
    # a failed attempt is an error span
    assert any(s.status.status_code is StatusCode.ERROR for s in connects[1:])
    for s in connects:
        assert s.end_time - s.start_time <= 60 * 10**9


def test_audit_log_records() -> None:
    p, _ = run_script()
    logs = [r.log_record for r in p.logs.get_finished_logs()]
    by_name: dict[str, list[object]] = {}
    for r in logs:
        by_name.setdefault(r.event_name or "", []).append(r)
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
        "timeout",
    ):
        assert f"genesys_pulse.{kind}" in by_name, kind
    (timeout,) = by_name["genesys_pulse.timeout"]
    assert timeout.severity_text == "WARN" and timeout.severity_number.value == 13
    assert timeout.attributes["genesys.ping.type"] == "control"
    assert timeout.attributes["timeout_s"] == 1.0
    assert timeout.attributes["genesys.monitor.target"] == TARGET
    assert timeout.timestamp == int((T0 + 31.0) * 1e9)
    (failed,) = by_name["genesys_pulse.token.failed"]
    assert failed.severity_text == "ERROR"
    (lost,) = by_name["genesys_pulse.connection.lost"]
    assert lost.attributes["code"] == 1011
    (started,) = by_name["genesys_pulse.monitor.started"]
    assert '"client_secret": "***"' in started.attributes["config"]
    # the timeout's log record is in the trace of the window span that holds its span event
    window = next(s for s in p.spans.get_finished_spans() if s.name == "genesys_pulse.probe_window")
    assert timeout.trace_id == window.context.trace_id
    assert timeout.span_id == window.context.span_id


def test_span_event_cap_counts_dropped() -> None:
    p = pipeline()
    sink = OTelSink(
        tracer_provider=p.tracer_provider, logger_provider=p.logger_provider, max_span_events=5
    )
    for k in range(12):
        sink.on_event(event("timeout", k, probe="application", timeout_s=1.0))
    sink.on_event(event("window", 59))
    (span,) = p.spans.get_finished_spans()
    assert len(span.events) == 5
    assert span.attributes is not None and span.attributes["genesys_pulse.span_events.dropped"] == 7
    assert len(p.logs.get_finished_logs()) == 12  # every timeout is still a log record


def test_window_span_ends_on_time_without_window_event() -> None:
    p = pipeline()
    sink = OTelSink(tracer_provider=p.tracer_provider, window=10.0)
    sink.on_sample(sample(0))
    sink.on_sample(sample(20))  # no window event came: the first span is ended at start + window
    (span,) = p.spans.get_finished_spans()
    assert span.end_time - span.start_time == 10 * 10**9
    assert (
        span.attributes is not None and span.attributes["genesys_pulse.window.forced_end"] is True
    )
    sink.close()
    assert len(p.spans.get_finished_spans()) == 2


class _BoomHistogram(NoOpHistogram):
    def record(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")


class _BoomMeter(NoOpMeter):
    def create_histogram(self, name: str, *args: object, **kwargs: object) -> NoOpHistogram:
        return _BoomHistogram(name)


class _BoomMeterProvider(NoOpMeterProvider):
    def get_meter(self, name: str, *args: object, **kwargs: object) -> NoOpMeter:
        return _BoomMeter(name)


def test_never_raises_and_counts() -> None:
    sink = OTelSink(meter_provider=_BoomMeterProvider())
    sink.on_sample(sample(1))  # the loop-lag histogram raises
    sink.on_event(Event(target="x", name="timeout", at=T0, attributes={"probe": "control"}))
    assert sink.errors == 1


def test_failing_metric_callback_is_counted_not_raised() -> None:
    class BadSeries:
        def __getattr__(self, name: str) -> object:
            raise RuntimeError("boom")

    p = pipeline()
    sink = OTelSink(meter_provider=p.meter_provider)
    sink.on_sample(sample(1, jitter=0.002))
    sink._observed._all.append(BadSeries())  # type: ignore[arg-type]
    points = p.metric_points()  # the collection itself does not fail
    assert sink.errors == 3  # pings, timeouts and smoothed-jitter callbacks
    (rtt,) = points["genesys.websocket.ping.rtt"][1]
    assert rtt.count == 1


def test_counters_and_smoothed_jitter_are_per_series_cumulative() -> None:
    """Observed at collection time: one point per series that has a value, cumulative
    across collections, and only series that exist (no timeouts, no jitter: no point)."""
    p = pipeline()
    sink = OTelSink(meter_provider=p.meter_provider)
    other = "gc-other-target"
    for k in range(1, 4):
        sink.on_sample(sample(k, ProbeKind.CONTROL, 0.05, jitter=0.004 if k > 1 else None))
        sink.on_sample(sample(k, ProbeKind.APPLICATION, None if k == 2 else 0.06))
        sink.on_sample(sample(k, ProbeKind.CONTROL, 0.05, target=other))
    sink.on_sample(sample(4, ProbeKind.HEARTBEAT, None, gap=30.0))

    def values(name: str) -> dict[tuple[str, str], float]:
        points = p.metric_points()
        if name not in points:
            return {}
        return {
            (
                dict(dp.attributes)["genesys.monitor.target"],
                dict(dp.attributes)["genesys.ping.type"],
            ): (dp.value)
            for dp in points[name][1]
        }

    assert values("genesys.websocket.pings") == {
        (TARGET, "control"): 3,
        (TARGET, "application"): 3,
        (other, "control"): 3,
    }
    assert values("genesys.websocket.ping.timeouts") == {(TARGET, "application"): 1}
    j = 0.004 / 16
    j += (0.004 - j) / 16
    assert values("genesys.websocket.ping.jitter.smoothed") == {
        (TARGET, "control"): pytest.approx(j)
    }
    sink.on_sample(sample(5, ProbeKind.CONTROL, None))
    assert values("genesys.websocket.pings")[(TARGET, "control")] == 4  # cumulative
    assert values("genesys.websocket.ping.timeouts") == {
        (TARGET, "application"): 1,
        (TARGET, "control"): 1,
    }
    (pings, _) = p.metric_points()["genesys.websocket.pings"]
    assert pings.data.is_monotonic
    assert pings.data.aggregation_temporality == AggregationTemporality.CUMULATIVE


def test_sinks_sharing_a_provider_add_to_the_same_series() -> None:
    """A second sink on the same provider (a restarted monitor, instrument() again)
    goes on counting where the first left off, as a synchronous counter would."""
    p = pipeline()
    first = OTelSink(meter_provider=p.meter_provider)
    first.on_sample(sample(1))
    first.on_sample(sample(2, rtt=None))
    first.close()
    second = OTelSink(meter_provider=p.meter_provider)
    second.on_sample(sample(3))
    second.on_sample(sample(3, ProbeKind.APPLICATION, jitter=0.001))
    points = p.metric_points()
    pings = {
        dict(dp.attributes)["genesys.ping.type"]: dp.value
        for dp in points["genesys.websocket.pings"][1]
    }
    assert pings == {"control": 3, "application": 1}
    (timeouts,) = points["genesys.websocket.ping.timeouts"][1]
    assert timeouts.value == 1
    (smoothed,) = points["genesys.websocket.ping.jitter.smoothed"][1]
    assert smoothed.value == pytest.approx(0.001 / 16)
    assert first.errors == second.errors == 0


def test_unbounded_values_stay_out_of_metric_attributes() -> None:
    p = pipeline()
    sink = OTelSink(meter_provider=p.meter_provider)
    for k in range(100):
        sink.on_event(event("reconnect", k, reason=f"weird reason {k} with channel streaming-{k}"))
    _, dps = p.metric_points()["genesys.websocket.reconnects"]
    assert [dict(dp.attributes)["genesys.reconnect.reason"] for dp in dps] == ["other"]
    assert dps[0].value == 100


def test_secrets_and_tokens_are_redacted_from_spans_and_logs() -> None:
    secret = "Sup3r-Secret-Value-For-Test"
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw"
    p = pipeline()
    sink = OTelSink(
        tracer_provider=p.tracer_provider, logger_provider=p.logger_provider, secrets=(secret,)
    )
    sink.on_event(event("token.failed", 1, detail=f"bad {secret}", access_token=token))
    sink.on_event(event("socket_closing", 2, note=f"Bearer {token}"))
    sink.on_event(event("window", 3))
    text = repr([s.to_json() for s in p.spans.get_finished_spans()])
    # SDK >= 1.39: ReadableLogRecord.to_json(); SDK 1.38: LogData.log_record.to_json()
    logs = p.logs.get_finished_logs()
    text += repr([(r if hasattr(r, "to_json") else r.log_record).to_json() for r in logs])
    assert secret not in text and token not in text
    assert "***" in text


def test_no_providers_uses_globals_without_error() -> None:
    sink = OTelSink()
    sink.on_sample(sample(1, ProbeKind.APPLICATION, 0.1, jitter=0.01))
    sink.on_event(event("timeout", 2, probe="control"))
    sink.on_event(event("window", 3))
    assert sink.errors == 0


def test_connection_records_carry_their_connect_span_context() -> None:
    p, _ = run_script()
    first = next(s for s in p.spans.get_finished_spans() if s.name == "genesys_pulse.connect")
    logs = {}
    for r in p.logs.get_finished_logs():
        logs.setdefault(r.log_record.event_name, r.log_record)
    for kind in ("token.issued", "channel.created"):
        assert logs[f"genesys_pulse.{kind}"].span_id == first.context.span_id, kind
    last = [s for s in p.spans.get_finished_spans() if s.name == "genesys_pulse.connect"][-1]
    established = [
        r.log_record
        for r in p.logs.get_finished_logs()
        if r.log_record.event_name == "genesys_pulse.connection.established"
    ]
    # the record that ends the attempt is in the attempt's span
    assert established[-1].span_id == last.context.span_id
    assert list(last.attributes["genesys_pulse.connect.phases"]) == [
        "channel",
        "handshake",
        "login",
    ]
    assert last.status.status_code is StatusCode.OK


def test_monitor_wide_events_create_no_target_series() -> None:
    p = pipeline()
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
    )
    sink.on_sample(sample(1))
    sink.on_event(event("local_stall", 2, target="*", lateness_s=0.3, duration_s=0.3))
    sink.on_event(event("monitor.stopped", 3, target="*"))
    targets = {
        dict(dp.attributes)["genesys.monitor.target"]
        for _, dps in p.metric_points().values()
        for dp in dps
    }
    assert targets == {TARGET}
    (span,) = p.spans.get_finished_spans()
    assert [e.name for e in span.events] == ["genesys.monitor.local_stall"]
    names = [r.log_record.event_name for r in p.logs.get_finished_logs()]
    assert names == ["genesys_pulse.local_stall", "genesys_pulse.monitor.stopped"]


def test_first_window_starts_with_the_monitor() -> None:
    """A monitor-wide event between monitor.started and a target's first event
    (a callback failing on monitor.started) lands in that target's first window."""
    p = pipeline()
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
        window=60.0,
    )
    sink.on_event(event("monitor.started", 0, target="*"))
    sink.on_event(event("callback.failed", 0.5, target="*", source="on_event", failures=1))
    sink.on_event(event("token.issued", 2))
    sink.on_event(event("monitor.stopped", 3, target="*"))
    (window,) = [s for s in p.spans.get_finished_spans() if s.name == "genesys_pulse.probe_window"]
    assert window.start_time == int(T0 * 1e9)
    assert [e.name for e in window.events] == ["genesys.monitor.callback.failed"]


def test_a_burst_of_monitor_wide_events_is_one_span_event_per_name() -> None:
    """Forty stalls at start-up cost each window one span event, not forty (the
    10,000-target saturation), and nothing is lost: the count, the last time and
    the worst figures are on it, and every stall is still a log record."""
    p = pipeline()
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
        window=60.0,
    )
    sink.on_event(event("monitor.started", 0, target="*"))
    for i in range(40):
        sink.on_event(
            event("local_stall", 0.1 + i * 0.01, target="*", lateness_s=0.01 * i, duration_s=0.2)
        )
    sink.on_event(event("callback.failed", 0.6, target="*", source="on_event", failures=1))
    sink.on_sample(sample(1))
    sink.on_sample(sample(2, target="other"))
    sink.on_event(event("monitor.stopped", 3, target="*"))
    windows = [s for s in p.spans.get_finished_spans() if s.name == "genesys_pulse.probe_window"]
    assert len(windows) == 2
    for window in windows:
        assert [e.name for e in window.events] == [
            "genesys.monitor.local_stall",
            "genesys.monitor.callback.failed",
        ]
        stall, failed = window.events
        assert stall.timestamp == int((T0 + 0.1) * 1e9)
        assert stall.attributes["genesys_pulse.event.count"] == 40
        assert stall.attributes["genesys_pulse.event.last_time_unix_nano"] == int(
            (T0 + 0.1 + 39 * 0.01) * 1e9
        )
        assert stall.attributes["lateness_s.max"] == pytest.approx(0.39)
        assert stall.attributes["duration_s.max"] == pytest.approx(0.2)
        assert "genesys_pulse.event.count" not in failed.attributes
        assert window.attributes["genesys_pulse.span_events.dropped"] == 0
    names = [r.log_record.event_name for r in p.logs.get_finished_logs()]
    assert names.count("genesys_pulse.local_stall") == 40


def test_monitor_wide_events_before_a_window_are_not_attached() -> None:
    p = pipeline()
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
        window=1.0,
    )
    sink.on_event(event("local_stall", 1, target="*", lateness_s=0.3, duration_s=0.3))
    sink.on_sample(sample(5))
    sink.on_event(event("monitor.stopped", 5.5, target="*"))
    (window,) = [s for s in p.spans.get_finished_spans() if s.name == "genesys_pulse.probe_window"]
    assert window.events == ()


def test_local_stall_samples_do_not_count_as_network_figures() -> None:
    p = pipeline()
    sink = OTelSink(meter_provider=p.meter_provider)
    sink.on_sample(sample(1, ProbeKind.CONTROL, 0.05))
    stalled = Sample(
        TARGET, ProbeKind.CONTROL, 2, 102.0, 102.3, 0.9, False, T0 + 2, 0.85, local_stall=True
    )
    timed_out = Sample(
        TARGET, ProbeKind.CONTROL, 3, 103.0, 103.0, None, True, T0 + 3, local_stall=True
    )
    sink.on_sample(stalled)
    sink.on_sample(timed_out)
    points = p.metric_points()
    (rtt,) = points["genesys.websocket.ping.rtt"][1]
    assert rtt.count == 1 and rtt.max == 0.05
    assert "genesys.websocket.ping.timeouts" not in points
    assert "genesys.websocket.ping.jitter" not in points
    (pings,) = points["genesys.websocket.pings"][1]
    assert pings.value == 3
    (lag,) = points["genesys.monitor.loop.lag"][1]
    assert lag.max == pytest.approx(0.3)  # the stall itself is what loop.lag shows


def test_late_answers_enter_the_rtt_histogram_and_are_counted_once() -> None:
    """A timed-out ping counts as a ping and a timeout when it times out; its late
    answer (true RTT 0.6 s) is recorded in the RTT histogram only, so a backend
    p99 shows the delay, and nothing is counted twice."""
    p = pipeline()
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
        window=60.0,
        target_attrs=TARGET_ATTRS,
    )
    app = ProbeKind.APPLICATION
    sink.on_sample(sample(0, app, 0.05))
    sink.on_sample(sample(1, app, None))
    late = sample(1, app, None)
    sink.on_sample(dataclasses.replace(late, late=True, late_rtt_s=0.6, at=late.at + 0.6))
    points = p.metric_points()

    def one(name: str) -> Any:
        (dp,) = points[name][1]
        return dp

    assert one("genesys.websocket.pings").value == 2
    assert one("genesys.websocket.ping.timeouts").value == 1
    rtt = one("genesys.websocket.ping.rtt")
    assert rtt.count == 2 and rtt.max == pytest.approx(0.6) and rtt.min == pytest.approx(0.05)
    assert sink.errors == 0


def test_outage_uncertainty_attribute_is_the_contract_name() -> None:
    from genesys_pulse.monitor import _supervisor
    from genesys_pulse.telemetry import _names

    assert _supervisor.A_OUTAGE_UNCERTAINTY == _names.A_OUTAGE_UNCERTAINTY


def test_schema_url_on_every_signal_and_server_port_on_the_connect_span_only() -> None:
    from genesys_pulse.telemetry._names import SCHEMA_URL

    p, _ = run_script()
    data = p.metrics.get_metrics_data()
    assert data is not None
    scopes = [sm for rm in data.resource_metrics for sm in rm.scope_metrics]
    assert scopes and {sm.schema_url for sm in scopes} == {SCHEMA_URL}
    assert {sm.scope.schema_url for sm in scopes} == {SCHEMA_URL}
    spans = p.spans.get_finished_spans()
    assert {s.instrumentation_scope.schema_url for s in spans} == {SCHEMA_URL}
    logs = p.logs.get_finished_logs()
    assert logs and {r.instrumentation_scope.schema_url for r in logs} == {SCHEMA_URL}
    connects = [s for s in spans if s.name == "genesys_pulse.connect"]
    assert connects
    for s in connects:
        assert s.attributes is not None
        assert s.attributes["server.port"] == 443
        assert s.attributes["server.address"] == "streaming.euw2.pure.cloud"
    failed = [s for s in connects if s.status.status_code is StatusCode.ERROR]
    assert failed and all(s.attributes and s.attributes["error.type"] for s in failed)
    for _name, (_metric, dps) in p.metric_points().items():
        for dp in dps:
            assert "server.port" not in dict(dp.attributes)


def test_span_events_and_logs_use_the_metric_attribute_keys() -> None:
    p, _ = run_script()
    (window,) = [s for s in p.spans.get_finished_spans() if s.name == "genesys_pulse.probe_window"]
    by_name = {e.name: dict(e.attributes or {}) for e in window.events}
    breach = by_name["genesys.threshold.breach"]
    assert breach["genesys.threshold.metric"] == "rtt"
    assert breach["genesys.ping.type"] == "control"
    assert "metric" not in breach and "probe" not in breach
    reconnect = by_name["genesys.reconnect"]
    assert reconnect["genesys.reconnect.reason"] in ("error", "token")
    assert "reason" not in reconnect
    logs = [r.log_record for r in p.logs.get_finished_logs()]
    (log,) = [r for r in logs if r.event_name == "genesys_pulse.threshold.breach"]
    assert log.attributes is not None
    assert log.attributes["genesys.threshold.metric"] == "rtt"
    assert log.attributes["genesys.monitor.target"] == TARGET


def test_every_metric_point_names_the_monitoring_process_when_given() -> None:
    """genesys.monitor.instance: what tells two monitors of one configuration apart."""
    import os
    import socket

    from genesys_pulse.telemetry import monitor_instance

    assert monitor_instance() == f"{socket.gethostname()}:{os.getpid()}"
    p, sink = run_script(instance="host-a:1234")
    assert sink.errors == 0
    for name, (_metric, dps) in p.metric_points().items():
        for dp in dps:
            assert dp.attributes.get("genesys.monitor.instance") == "host-a:1234", name
    p, _ = run_script()  # a sink built without it: the attribute sets stay as they were
    for _metric, dps in p.metric_points().values():
        assert all("genesys.monitor.instance" not in dp.attributes for dp in dps)


def test_the_after_fork_purge_finds_the_sdk_storage_or_says_it_cannot() -> None:
    from genesys_pulse.telemetry._otel_metrics import _drop_from_sdk

    def genesys_names() -> list[str]:
        data = p.metrics.get_metrics_data()  # None: nothing at all to export
        return [
            m.name
            for rm in (data.resource_metrics if data is not None else ())
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name.startswith("genesys.")
        ]

    p, sink = run_script()
    assert genesys_names()
    # what the fork handler does in a child (here without forking)
    sink._retire_after_fork()
    sink._observed.forget_after_fork()
    assert _drop_from_sdk(p.meter_provider, sink._metrics.instruments)
    assert _drop_from_sdk(p.meter_provider, sink._observed.instruments)
    assert genesys_names() == []  # nothing to re-export
    sink.on_sample(sample(0, ProbeKind.CONTROL, 0.05))  # a retired sink records nothing
    assert genesys_names() == []
    assert _drop_from_sdk(NoOpMeterProvider(), ())  # no storage: nothing to re-export

    class Unknown:
        _measurement_consumer = object()  # storage of a shape the purge does not know

    assert not _drop_from_sdk(Unknown(), ())  # -> one WARNING in the forked child


def test_connect_phases_come_only_from_explicit_phase_events() -> None:
    """A phase is [at - duration_s, at] of its genesys.connect.phase event; nothing is
    rebuilt from other events' durations (connection.established's handshake_s)."""
    p = pipeline()
    sink = OTelSink(tracer_provider=p.tracer_provider, logger_provider=p.logger_provider)
    # an attempt reported without phase events: a span, but no phases made up
    sink.on_event(event("reconnect", 1.0, reason="closed", delay_s=0.5, error=""))
    sink.on_event(event("connection.established", 2.0, restored=True, handshake_s=0.3))
    # a rotation while connected: its channel phase opens the attempt
    sink.on_event(event("genesys.connect.phase", 10.0, phase="channel", duration_s=0.2))
    sink.on_event(event("genesys.connect.phase", 10.5, phase="handshake", duration_s=0.4))
    sink.on_event(event("connection.established", 10.6, restored=False, handshake_s=0.4))
    sink.close(T0 + 11)
    spans = p.spans.get_finished_spans()
    first, second = [s for s in spans if s.name == "genesys_pulse.connect"]
    assert first.attributes is not None and second.attributes is not None
    assert list(first.attributes["genesys_pulse.connect.phases"]) == []
    assert first.start_time == int((T0 + 1.5) * 1e9)  # after the back-off delay
    assert list(second.attributes["genesys_pulse.connect.phases"]) == ["channel", "handshake"]
    assert second.start_time == int((T0 + 9.8) * 1e9)
    phases = {s.name: s for s in spans if s.parent and s.parent.span_id == second.context.span_id}
    handshake = phases["genesys_pulse.connect.handshake"]
    assert handshake.end_time == int((T0 + 10.5) * 1e9)
    assert handshake.end_time - handshake.start_time == pytest.approx(0.4e9, rel=1e-6)
    channel = phases["genesys_pulse.connect.channel"]
    assert channel.end_time <= handshake.start_time
