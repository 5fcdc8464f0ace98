"""The in-memory OpenTelemetry SDK pipeline every test of exported telemetry uses.

``pipeline()`` gives a meter, tracer and logger provider whose data stay in
memory (an ``InMemoryMetricReader``, an ``InMemorySpanExporter`` and an
in-memory log exporter behind simple processors, so every span and record is
there as soon as it ends), as a host would configure them. Import it as
``from _otel import pipeline`` (``tests/`` is on the path: pytest's rootdir
conftest lives there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
except ImportError:  # SDK 1.38 (the oldest supported): the name before the rename
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef]
        InMemoryLogExporter as InMemoryLogRecordExporter,
    )
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["InMemoryLogRecordExporter", "Pipeline", "pipeline"]


@dataclass
class Pipeline:
    """In-memory SDK providers and what they collected."""

    meter_provider: MeterProvider
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    metrics: InMemoryMetricReader
    spans: InMemorySpanExporter
    logs: InMemoryLogRecordExporter

    def metric_points(self) -> dict[str, tuple[Any, list[Any]]]:
        """name -> (metric, [data points]) of one collection."""
        out: dict[str, tuple[Any, list[Any]]] = {}
        data = self.metrics.get_metrics_data()
        assert data is not None
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out[m.name] = (m, list(m.data.data_points))
        return out

    def span_events(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, attributes) of every span event of every finished span."""
        return span_events_of(self.spans)

    def log_event_names(self) -> list[str]:
        """The ``event_name`` of every finished log record, in order."""
        return log_event_names_of(self.logs)


def span_events_of(spans: InMemorySpanExporter) -> list[tuple[str, dict[str, Any]]]:
    """(name, attributes) of every span event of every span ``spans`` received."""
    return [
        (ev.name, dict(ev.attributes or {}))
        for span in spans.get_finished_spans()
        for ev in span.events
    ]


def log_event_names_of(logs: InMemoryLogRecordExporter) -> list[str]:
    """The ``event_name`` of every log record ``logs`` received, in order."""
    out = []
    for data in logs.get_finished_logs():
        rec = data.log_record
        name = getattr(rec, "event_name", None)
        if name is None and rec.attributes:
            name = rec.attributes.get("event.name")
        out.append(str(name))
    return out


def pipeline() -> Pipeline:
    """Fresh in-memory providers (nothing global is set)."""
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    logs = InMemoryLogRecordExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs))
    return Pipeline(MeterProvider(metric_readers=[reader]), tp, lp, reader, spans, logs)
