"""Build OpenTelemetry SDK providers from the standard ``OTEL_*`` variables.

Used only by the ``genesys-pulse`` command and the examples: a library (and
the instrumentor) never builds SDK providers; it uses whatever the host set.

Honoured variables (values read from the ``env`` mapping given):

* ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``, ``OTEL_LOGS_EXPORTER``:
  ``otlp`` (default), ``console`` or ``none`` (comma-separated lists allowed);
* ``OTEL_EXPORTER_OTLP_PROTOCOL`` and ``OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL``:
  ``http/protobuf`` (**our default**, unlike the distro's ``grpc``: it has no
  fork issues and goes through every proxy) or ``grpc``;
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` (base; ``/v1/<signal>`` is appended for
  http/protobuf) and ``OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`` (used as-is);
  defaults ``http://localhost:4318`` (http) and ``http://localhost:4317`` (grpc);
* ``OTEL_EXPORTER_OTLP_HEADERS`` / ``OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS``
  (``k=v,k2=v2``, URL-encoded values);
* ``OTEL_METRIC_EXPORT_INTERVAL`` / ``OTEL_METRIC_EXPORT_TIMEOUT`` (ms);
* ``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``: ``cumulative``
  (default), ``delta`` (Datadog, New Relic) or ``lowmemory``;
* ``OTEL_SERVICE_NAME`` (default ``genesys-pulse``) and
  ``OTEL_RESOURCE_ATTRIBUTES``;
* ``OTEL_SDK_DISABLED=true``: no exporter for any signal.

A signal with no exporter (``none``, or ``OTEL_SDK_DISABLED=true``) gets the
API's **no-op** provider, not an SDK provider without processors or readers:
the SDK would still build, validate and aggregate every span, log record and
measurement for nobody (an SDK ``MeterProvider`` with no reader still makes a
``Measurement`` and cleans its attributes on every ``record``; an SDK
``TracerProvider`` with no processor still samples and records every span).
Telemetry that is off costs least (docs/performance.md, "Telemetry off is the
floor").

TLS certificates, compression and the export timeout are read by the OTLP
exporters themselves from the process environment (``OTEL_EXPORTER_OTLP_*``).
Console exporters write to ``console_out`` (stderr by default) so that stdout
stays free for the command's own output.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Final
from urllib.parse import unquote

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import NoOpLoggerProvider
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import NoOpTracerProvider

from genesys_pulse._version import __version__
from genesys_pulse.telemetry._otel_env import ConfigurationError, exporter_kinds

try:
    from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter, LogRecordExporter
except ImportError:  # SDK 1.38, the oldest supported: the names before the 1.39 rename
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef,assignment]
        ConsoleLogExporter as ConsoleLogRecordExporter,
    )
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef,assignment]
        LogExporter as LogRecordExporter,
    )

__all__ = ["ConfigurationError", "Providers", "configure_from_env"]

DEFAULT_PROTOCOL: Final = "http/protobuf"
_SIGNAL_PATHS: Final = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}


@dataclass
class Providers:
    """The providers built by :func:`configure_from_env`.

    Pass them to :class:`~genesys_pulse.telemetry.OTelSink` (or rely on
    ``set_global=True``) and call :meth:`shutdown` once at exit. A signal with
    an exporter has an SDK provider; a signal without one has the API's no-op
    provider (see :attr:`exporters`).
    """

    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    logger_provider: _logs.LoggerProvider
    exporters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per signal, the exporter kinds configured (e.g. ``{"traces": ("otlp",)}``)."""
    metric_readers: list[MetricReader] = field(default_factory=list)
    """The periodic metric readers (one per metrics exporter)."""

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Flush and shut down all three providers within *timeout* seconds in total.

        Exporting to an unreachable endpoint never blocks longer than that: the
        work runs in a daemon thread that is abandoned at the deadline.
        Returns ``True`` when everything finished in time.
        """
        ms = max(1, int(timeout * 1000))

        def work() -> None:
            for provider, kwargs in (
                (self.tracer_provider, {}),
                (self.logger_provider, {}),
                (self.meter_provider, {"timeout_millis": ms}),
            ):
                shutdown = getattr(provider, "shutdown", None)  # the API's no-op has none
                if shutdown is None:
                    continue
                try:
                    shutdown(**kwargs)
                except Exception:
                    pass

        return _bounded(work, timeout)


def _bounded(fn: Callable[[], None], timeout: float) -> bool:
    thread = threading.Thread(target=fn, name="genesys-pulse-otel-shutdown", daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive()


def configure_from_env(
    env: Mapping[str, str],
    *,
    set_global: bool = False,
    console_out: IO[str] | None = None,
    default_service_name: str = "genesys-pulse",
) -> Providers:
    """Build tracer, meter and logger providers from the ``OTEL_*`` entries of *env*.

    Args:
      env: usually ``os.environ``.
      set_global: also install them as the global providers (so other
        libraries in the process report through them too).
      console_out: where ``console`` exporters write (default ``sys.stderr``).
      default_service_name: ``service.name`` when ``OTEL_SERVICE_NAME`` and
        ``OTEL_RESOURCE_ATTRIBUTES`` do not set one.

    Raises:
      ConfigurationError: an unknown exporter or protocol name.
    """
    out = console_out if console_out is not None else sys.stderr
    resource = _resource(env, default_service_name)
    kinds = exporter_kinds(env)
    temporality = _temporality(env)
    interval = _int(env, "OTEL_METRIC_EXPORT_INTERVAL", 60000)
    export_timeout = _int(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30000)

    # A signal without an exporter gets the API's no-op provider: an SDK provider
    # without processors or readers would still record everything for nobody.
    tracer_provider: trace.TracerProvider = NoOpTracerProvider()
    if kinds["traces"]:
        sdk_tracer_provider = TracerProvider(resource=resource)
        for kind in kinds["traces"]:
            span_exporter: SpanExporter = (
                ConsoleSpanExporter(out=out)
                if kind == "console"
                else _otlp_span_exporter(env)  # kind == "otlp"
            )
            sdk_tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        tracer_provider = sdk_tracer_provider

    logger_provider: _logs.LoggerProvider = NoOpLoggerProvider()
    if kinds["logs"]:
        sdk_logger_provider = LoggerProvider(resource=resource)
        for kind in kinds["logs"]:
            log_exporter: LogRecordExporter = (
                ConsoleLogRecordExporter(out=out) if kind == "console" else _otlp_log_exporter(env)
            )
            sdk_logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
        logger_provider = sdk_logger_provider

    readers: list[MetricReader] = []
    for kind in kinds["metrics"]:
        metric_exporter: MetricExporter = (
            ConsoleMetricExporter(out=out, preferred_temporality=temporality)
            if kind == "console"
            else _otlp_metric_exporter(env, temporality)
        )
        readers.append(
            PeriodicExportingMetricReader(
                metric_exporter,
                export_interval_millis=interval,
                export_timeout_millis=export_timeout,
            )
        )
    meter_provider: metrics.MeterProvider = (
        MeterProvider(resource=resource, metric_readers=readers) if readers else NoOpMeterProvider()
    )

    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        _logs.set_logger_provider(logger_provider)
    return Providers(tracer_provider, meter_provider, logger_provider, kinds, readers)


# ------------------------------------------------------------------ helpers


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ConfigurationError(f"{key} must be a number of milliseconds, not {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{key} must be positive")
    return value


def _protocol(env: Mapping[str, str], signal: str) -> str:
    key = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
    raw = (env.get(key) or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or DEFAULT_PROTOCOL).strip()
    if raw not in ("grpc", "http/protobuf"):
        raise ConfigurationError(f"{key}: unsupported OTLP protocol {raw!r} (grpc, http/protobuf)")
    return raw


def _endpoint(env: Mapping[str, str], signal: str, protocol: str) -> str:
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if specific:
        return specific
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if protocol == "grpc":
        return base or "http://localhost:4317"
    base = base or "http://localhost:4318"
    return base.rstrip("/") + "/" + _SIGNAL_PATHS[signal]


def _headers(env: Mapping[str, str], signal: str) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    for key in ("OTEL_EXPORTER_OTLP_HEADERS", f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS"):
        for item in env.get(key, "").split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                headers[unquote(name.strip()).lower()] = unquote(value.strip())
    return headers or None


def _resource(env: Mapping[str, str], default_service_name: str) -> Resource:
    attrs: dict[str, str] = {}
    for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            attrs[unquote(name.strip())] = unquote(value.strip())
    service = env.get("OTEL_SERVICE_NAME", "").strip()
    if service:
        attrs["service.name"] = service
    attrs.setdefault("service.name", default_service_name)
    attrs.setdefault("service.version", __version__)
    return Resource.create(attrs)


def _temporality(env: Mapping[str, str]) -> dict[type, AggregationTemporality]:
    raw = env.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative").strip().lower()
    cumulative = AggregationTemporality.CUMULATIVE
    delta = AggregationTemporality.DELTA
    if raw in ("", "cumulative"):
        return {}
    if raw == "delta":
        return {
            Counter: delta,
            UpDownCounter: cumulative,
            Histogram: delta,
            ObservableCounter: delta,
            ObservableUpDownCounter: cumulative,
            ObservableGauge: cumulative,
        }
    if raw == "lowmemory":
        return {
            Counter: delta,
            UpDownCounter: cumulative,
            Histogram: delta,
            ObservableCounter: cumulative,
            ObservableUpDownCounter: cumulative,
            ObservableGauge: cumulative,
        }
    raise ConfigurationError(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: expected cumulative, delta or "
        f"lowmemory, not {raw!r}"
    )


def _otlp_span_exporter(env: Mapping[str, str]) -> SpanExporter:
    protocol = _protocol(env, "traces")
    endpoint = _endpoint(env, "traces", protocol)
    headers = _headers(env, "traces")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint, headers=headers)


def _otlp_log_exporter(env: Mapping[str, str]) -> LogRecordExporter:
    protocol = _protocol(env, "logs")
    endpoint = _endpoint(env, "logs", protocol)
    headers = _headers(env, "logs")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
            OTLPLogExporter as GrpcLogExporter,
        )

        return GrpcLogExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return OTLPLogExporter(endpoint=endpoint, headers=headers)


def _otlp_metric_exporter(
    env: Mapping[str, str], temporality: dict[type, AggregationTemporality]
) -> MetricExporter:
    protocol = _protocol(env, "metrics")
    endpoint = _endpoint(env, "metrics", protocol)
    headers = _headers(env, "metrics")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(
            endpoint=endpoint, headers=headers, preferred_temporality=temporality
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=endpoint, headers=headers, preferred_temporality=temporality)
