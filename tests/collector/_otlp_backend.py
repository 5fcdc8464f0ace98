"""A local OTLP backend the tests control, and uniquely identified telemetry to send it.

The "vendor" in the crash/outage tests: an OTLP/HTTP (protobuf, gzip) or
OTLP/gRPC receiver on loopback that decodes every export request, counts each
item by its ``test.id`` attribute (spans, gauge points, log records) and keeps
the request headers (gRPC metadata), so a test can check that nothing was
lost, how much was duplicated, and which headers the collector sent.

It is started and stopped by the test ("backend down" = not listening).
"""

from __future__ import annotations

import gzip
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

SIGNALS = ("traces", "metrics", "logs")
ID_KEY = "test.id"
_SERVICE = "genesys-pulse-crash-test"


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _resource() -> Resource:
    return Resource(attributes=[_kv("service.name", _SERVICE)])


def build_request(signal: str, ids: list[str], now_ns: int) -> bytes:
    """One OTLP export request (protobuf) holding one item per id."""
    scope = InstrumentationScope(name="genesys_pulse.crash_test")
    if signal == "traces":
        spans = [
            Span(
                trace_id=i.encode().ljust(16, b"\0")[:16],
                span_id=(i.encode()[-8:]).ljust(8, b"\1"),
                name="crash-test-span",
                start_time_unix_nano=now_ns,
                end_time_unix_nano=now_ns + 1000,
                attributes=[_kv(ID_KEY, i)],
            )
            for i in ids
        ]
        return trace_service_pb2.ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=_resource(), scope_spans=[ScopeSpans(scope=scope, spans=spans)]
                )
            ]
        ).SerializeToString()
    if signal == "metrics":
        points = [
            NumberDataPoint(time_unix_nano=now_ns, as_double=1.0, attributes=[_kv(ID_KEY, i)])
            for i in ids
        ]
        metric = Metric(
            name="genesys_pulse.crash_test.gauge", unit="1", gauge=Gauge(data_points=points)
        )
        return metrics_service_pb2.ExportMetricsServiceRequest(
            resource_metrics=[
                ResourceMetrics(
                    resource=_resource(),
                    scope_metrics=[ScopeMetrics(scope=scope, metrics=[metric])],
                )
            ]
        ).SerializeToString()
    if signal == "logs":
        records = [
            LogRecord(
                time_unix_nano=now_ns,
                body=AnyValue(string_value=f"crash-test {i}"),
                attributes=[_kv(ID_KEY, i)],
            )
            for i in ids
        ]
        return logs_service_pb2.ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(
                    resource=_resource(), scope_logs=[ScopeLogs(scope=scope, log_records=records)]
                )
            ]
        ).SerializeToString()
    raise ValueError(signal)


def post_otlp(endpoint: str, signal: str, body: bytes, timeout: float = 20.0) -> int:
    """POST one OTLP/HTTP protobuf request to the collector; the HTTP status (0: no answer)."""
    request = urllib.request.Request(
        f"{endpoint}/v1/{signal}",
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-protobuf"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def _ids_in(signal: str, body: bytes) -> list[str]:
    found: list[str] = []

    def take(attrs: Any) -> None:
        for kv in attrs:
            if kv.key == ID_KEY:
                found.append(kv.value.string_value)

    if signal == "traces":
        treq = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        for rs in treq.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    take(span.attributes)
    elif signal == "metrics":
        mreq = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
        for rm in mreq.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for point in metric.gauge.data_points:
                        take(point.attributes)
    else:
        lreq = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
        for rl in lreq.resource_logs:
            for sl in rl.scope_logs:
                for record in sl.log_records:
                    take(record.attributes)
    return found


@dataclass
class Received:
    """What the backend received, per signal (thread-safe)."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: {s: Counter() for s in SIGNALS})
    headers: dict[str, list[dict[str, str]]] = field(
        default_factory=lambda: {s: [] for s in SIGNALS}
    )
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answer_delay_s: float = 0.0
    """Seconds the HTTP backend waits, after recording a request, before answering 200."""

    def record(self, signal: str, body: bytes, headers: Mapping[str, str]) -> None:
        ids = _ids_in(signal, body)
        with self.lock:
            self.counts[signal].update(ids)
            self.headers[signal].append({k.lower(): v for k, v in headers.items()})
            self.requests[signal] += 1

    def snapshot(self) -> dict[str, Counter[str]]:
        with self.lock:
            return {s: Counter(c) for s, c in self.counts.items()}


class _Handler(BaseHTTPRequestHandler):
    received: Received

    def do_POST(self) -> None:
        signal = self.path.rstrip("/").rsplit("/", 1)[-1]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        if signal not in SIGNALS:
            self.send_response(404)
            self.end_headers()
            return
        self.received.record(signal, body, dict(self.headers.items()))
        if self.received.answer_delay_s > 0:
            time.sleep(self.received.answer_delay_s)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def http_backend(port: int, received: Received) -> Iterator[str]:
    """An OTLP/HTTP backend on 127.0.0.1:``port``; yields its base URL."""
    handler = type("Handler", (_Handler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    return {
        k: v if isinstance(v, str) else v.decode(errors="replace")
        for k, v in context.invocation_metadata()
    }


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.received.record("traces", request.SerializeToString(), _metadata(context))
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.received.record("metrics", request.SerializeToString(), _metadata(context))
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.received.record("logs", request.SerializeToString(), _metadata(context))
        return logs_service_pb2.ExportLogsServiceResponse()


@contextmanager
def grpc_backend(port: int, received: Received) -> Iterator[str]:
    """An OTLP/gRPC backend (plaintext) on 127.0.0.1:``port``; yields ``host:port``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(received), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(received), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(received), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    assert bound == port, f"gRPC backend could not bind 127.0.0.1:{port}"
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=1).wait(timeout=10)
