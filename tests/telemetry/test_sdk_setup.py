"""sdk_setup.configure_from_env: exporters, protocols, endpoints, temporality, bounded shutdown."""

from __future__ import annotations

import io
import socket

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import Counter, Histogram
from opentelemetry.sdk.metrics.export import AggregationTemporality

from genesys_pulse.core.model import ProbeKind
from genesys_pulse.telemetry import OTelSink, sdk_setup
from genesys_pulse.telemetry.sdk_setup import ConfigurationError, configure_from_env

from ._helpers import event, sample


def _span_exporters(providers: object) -> list[object]:
    proc = providers.tracer_provider._active_span_processor  # type: ignore[attr-defined]
    return [p.span_exporter for p in proc._span_processors]


def _log_exporters(providers: object) -> list[object]:
    proc = providers.logger_provider._multi_log_record_processor  # type: ignore[attr-defined]
    return [p._batch_processor._exporter for p in proc._log_record_processors]


def _readers(providers: object) -> list[object]:
    return list(providers.metric_readers)  # type: ignore[attr-defined]


def test_defaults_are_otlp_http_protobuf_to_localhost() -> None:
    p = configure_from_env({})
    try:
        assert p.exporters == {"traces": ("otlp",), "metrics": ("otlp",), "logs": ("otlp",)}
        (span_exp,) = _span_exporters(p)
        assert isinstance(span_exp, OTLPSpanExporter)
        assert span_exp._endpoint == "http://localhost:4318/v1/traces"
        (log_exp,) = _log_exporters(p)
        assert isinstance(log_exp, OTLPLogExporter)
        assert log_exp._endpoint == "http://localhost:4318/v1/logs"
        (reader,) = _readers(p)
        assert reader._export_interval_millis == 60000
        resource = p.tracer_provider.resource.attributes
        assert resource["service.name"] == "genesys-pulse"
    finally:
        p.shutdown(1.0)


def test_endpoints_headers_protocol_resource() -> None:
    p = configure_from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9999/custom",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317",
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc%3D,x-team=pulse",
            "OTEL_METRIC_EXPORT_INTERVAL": "1500",
            "OTEL_SERVICE_NAME": "pulse-eu",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=ignored",
        }
    )
    try:
        (span_exp,) = _span_exporters(p)
        assert isinstance(span_exp, GrpcSpans)
        (log_exp,) = _log_exporters(p)
        assert log_exp._endpoint == "http://logs:9999/custom"
        headers = sdk_setup._headers(
            {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc%3D,x-team=pulse"}, "logs"
        )
        assert headers == {"api-key": "abc=", "x-team": "pulse"}
        (reader,) = _readers(p)
        assert reader._export_interval_millis == 1500
        assert reader._exporter._endpoint == "http://collector:4318/v1/metrics"
        attrs = p.meter_provider._sdk_config.resource.attributes
        assert attrs["service.name"] == "pulse-eu"
        assert attrs["deployment.environment"] == "prod"
    finally:
        p.shutdown(1.0)


def test_delta_temporality() -> None:
    p = configure_from_env({"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta"})
    try:
        (reader,) = _readers(p)
        prefs = reader._exporter._preferred_temporality
        assert prefs[Counter] is AggregationTemporality.DELTA
        assert prefs[Histogram] is AggregationTemporality.DELTA
    finally:
        p.shutdown(1.0)


def test_console_writes_to_the_given_stream_and_none_disables() -> None:
    out = io.StringIO()
    p = configure_from_env(
        {
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
        },
        console_out=out,
    )
    assert _readers(p) == []
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
    )
    sink.on_sample(sample(1, ProbeKind.CONTROL, 0.05))
    sink.on_event(event("timeout", 2, probe="control"))
    sink.on_event(event("window", 3))
    assert p.shutdown(5.0)
    text = out.getvalue()
    assert "genesys_pulse.probe_window" in text and "genesys_pulse.timeout" in text


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
        {"OTEL_METRIC_EXPORT_INTERVAL": "soon"},
        {"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "sometimes"},
    ],
)
def test_bad_values_are_rejected(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        configure_from_env(env)


def test_shutdown_is_bounded_when_the_endpoint_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A collector that accepts connections and never answers: shutdown still returns."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # keep the abandoned export short
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        p = configure_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"})
        sink = OTelSink(
            meter_provider=p.meter_provider,
            tracer_provider=p.tracer_provider,
            logger_provider=p.logger_provider,
        )
        sink.on_sample(sample(1))
        sink.on_event(event("timeout", 2, probe="control"))
        sink.on_event(event("window", 3))
        finished = p.shutdown(timeout=0.5)
    assert finished is False  # abandoned at the deadline instead of hanging the caller


def test_sdk_disabled_means_no_exporters() -> None:
    p = configure_from_env({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"})
    assert p.exporters == {"traces": (), "metrics": (), "logs": ()}
    assert p.metric_readers == []
    assert p.shutdown(1.0)
