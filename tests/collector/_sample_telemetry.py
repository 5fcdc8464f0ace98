"""The telemetry the end-to-end test pushes through the collector, and what must arrive.

``send_sample_telemetry`` and ``check_sample_telemetry`` are the two pieces to
replace when the test switches to the real monitor's telemetry: the first
emits over OTLP/HTTP to the collector, the second asserts on what the file
exporter wrote (raising ``AssertionError`` until everything is there).
"""

from __future__ import annotations

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ._otlp_json import ReceivedTelemetry, attributes

SERVICE_NAME = "genesys-pulse-collector-test"
SCOPE = "genesys_pulse"
TARGET = "collector-e2e-target"

RTT_METRIC = "genesys.websocket.ping.rtt"
#: Seconds, 1 ms ... 30 s, like the monitor's advisory.
RTT_BOUNDARIES = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
RTT_SAMPLES = (0.0008, 0.012, 0.012, 0.3, 4.2)

WINDOW_SPAN = "genesys_pulse.probe_window"
TIMEOUT_EVENT = "genesys.ping.timeout"
TIMEOUT_LOG_EVENT = "genesys_pulse.timeout"
PING_TIMEOUT_S = 5.0

EXPORT_TIMEOUT_S = 10.0


def send_sample_telemetry(otlp_http_endpoint: str) -> None:
    """Emit one RTT histogram, one span with a ``genesys.ping.timeout`` event and one timeout log.

    Uses private SDK providers (the global ones are left alone) with the
    OTLP/HTTP exporters pointed at ``otlp_http_endpoint`` (``http://host:port``),
    then flushes and shuts them down.
    """
    base = otlp_http_endpoint.rstrip("/")
    resource = Resource.create({"service.name": SERVICE_NAME})

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=EXPORT_TIMEOUT_S),
        export_interval_millis=3_600_000,  # exported by force_flush below only
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=EXPORT_TIMEOUT_S)
        )
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(
            OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=EXPORT_TIMEOUT_S)
        )
    )
    try:
        rtt = meter_provider.get_meter(SCOPE).create_histogram(
            RTT_METRIC,
            unit="s",
            description="Round-trip time of a WebSocket ping",
            explicit_bucket_boundaries_advisory=list(RTT_BOUNDARIES),
        )
        for value in RTT_SAMPLES:
            rtt.record(value, {"genesys.ping.type": "control", "genesys.monitor.target": TARGET})

        tracer = tracer_provider.get_tracer(SCOPE)
        logger = logger_provider.get_logger(SCOPE)
        with tracer.start_as_current_span(
            WINDOW_SPAN,
            attributes={"genesys.monitor.target": TARGET, "genesys_pulse.window.pings": 5},
        ) as span:
            span.add_event(
                TIMEOUT_EVENT,
                {"genesys.ping.type": "application", "genesys.ping.timeout": PING_TIMEOUT_S},
            )
            logger.emit(
                severity_number=SeverityNumber.WARN,
                severity_text="WARN",
                body="application ping timed out",
                attributes={
                    "genesys.monitor.target": TARGET,
                    "genesys.ping.type": "application",
                    "genesys.ping.timeout": PING_TIMEOUT_S,
                },
                event_name=TIMEOUT_LOG_EVENT,
            )

        flush_ms = int(EXPORT_TIMEOUT_S * 1000)
        assert meter_provider.force_flush(timeout_millis=flush_ms), "metric export failed"
        assert tracer_provider.force_flush(timeout_millis=flush_ms), "span export failed"
        assert logger_provider.force_flush(timeout_millis=flush_ms), "log export failed"
    finally:
        meter_provider.shutdown()
        tracer_provider.shutdown()
        logger_provider.shutdown()


def _expected_bucket_counts() -> list[int]:
    counts = [0] * (len(RTT_BOUNDARIES) + 1)
    for value in RTT_SAMPLES:
        index = next((i for i, b in enumerate(RTT_BOUNDARIES) if value <= b), len(RTT_BOUNDARIES))
        counts[index] += 1
    return counts


def check_sample_telemetry(got: ReceivedTelemetry, *, delta: bool = False) -> None:
    """Assert that what ``send_sample_telemetry`` emitted arrived intact.

    ``delta``: the metrics went through ``cumulativetodelta`` (the first delta
    point of a new series carries the whole cumulative value).
    """
    # Metric: name, unit, type, temporality, bucket boundaries and counts, attributes.
    metrics = got.metric(RTT_METRIC)
    assert metrics, f"no {RTT_METRIC} yet"
    for metric in metrics:
        assert metric.scope == SCOPE
        assert metric.resource.get("service.name") == SERVICE_NAME
        assert metric.body.get("unit") == "s"
    # 2 = cumulative, as the SDK sent it; 1 = delta.
    temporality = 1 if delta else 2
    points = []
    for item in metrics:
        histogram = item.body.get("histogram")
        assert histogram is not None, f"{RTT_METRIC} is not a histogram: {sorted(item.body)}"
        assert histogram.get("aggregationTemporality") == temporality
        points.extend(histogram["dataPoints"])
    for point in points:
        assert attributes(point.get("attributes")) == {
            "genesys.ping.type": "control",
            "genesys.monitor.target": TARGET,
        }
        assert [float(b) for b in point["explicitBounds"]] == list(RTT_BOUNDARIES)
    # The SDK may export more than once (force_flush, then shutdown). Cumulative:
    # the last point holds the totals. Delta: the points add up to them (and
    # carry no min/max, which cannot be derived for an interval).
    if delta:
        bucket_counts = [
            sum(int(p["bucketCounts"][i]) for p in points) for i in range(len(RTT_BOUNDARIES) + 1)
        ]
        count = sum(int(p.get("count", 0)) for p in points)
        total = sum(float(p.get("sum", 0.0)) for p in points)
    else:
        last = points[-1]
        bucket_counts = [int(c) for c in last["bucketCounts"]]
        count = int(last.get("count", 0))
        total = float(last.get("sum", 0.0))
        assert float(last["min"]) == min(RTT_SAMPLES)
        assert float(last["max"]) == max(RTT_SAMPLES)
    assert bucket_counts == _expected_bucket_counts()
    assert count == len(RTT_SAMPLES)
    assert abs(total - sum(RTT_SAMPLES)) < 1e-9

    # Span with its timeout event.
    spans = got.span(WINDOW_SPAN)
    assert spans, f"no {WINDOW_SPAN} span yet"
    span = spans[-1]
    assert span.resource.get("service.name") == SERVICE_NAME
    assert attributes(span.body.get("attributes")) == {
        "genesys.monitor.target": TARGET,
        "genesys_pulse.window.pings": 5,
    }
    events = [e for e in span.body.get("events", []) if e.get("name") == TIMEOUT_EVENT]
    assert len(events) == 1, f"span events: {span.body.get('events')}"
    assert attributes(events[0].get("attributes")) == {
        "genesys.ping.type": "application",
        "genesys.ping.timeout": PING_TIMEOUT_S,
    }

    # Log record: event name, severity, body, attributes, and the span's trace context.
    logs = got.log(TIMEOUT_LOG_EVENT)
    assert logs, f"no log record with event_name {TIMEOUT_LOG_EVENT} yet"
    record = logs[-1]
    assert record.resource.get("service.name") == SERVICE_NAME
    assert record.scope == SCOPE
    assert record.body.get("severityNumber") == SeverityNumber.WARN.value
    assert record.body.get("severityText") == "WARN"
    assert record.body.get("body") == {"stringValue": "application ping timed out"}
    assert attributes(record.body.get("attributes")) == {
        "genesys.monitor.target": TARGET,
        "genesys.ping.type": "application",
        "genesys.ping.timeout": PING_TIMEOUT_S,
    }
    assert record.body.get("traceId") == span.body.get("traceId")
    assert record.body.get("spanId") == span.body.get("spanId")
