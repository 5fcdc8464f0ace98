"""Read what the collector's file exporter wrote: OTLP/JSON, one export request per line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]


def attributes(kvs: list[Json] | None) -> dict[str, Any]:
    """Flatten OTLP/JSON ``[{"key": k, "value": {"stringValue": v}}]`` into ``{k: v}``."""
    out: dict[str, Any] = {}
    for kv in kvs or []:
        out[kv["key"]] = any_value(kv.get("value", {}))
    return out


def any_value(value: Json) -> Any:
    """Decode one OTLP/JSON ``AnyValue`` (int64 arrives as a string)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values"))
    return None


@dataclass
class Item:
    """One metric, span or log record with the resource and scope it came under."""

    body: Json
    resource: dict[str, Any]
    scope: str


@dataclass
class ReceivedTelemetry:
    """Everything the file exporter wrote so far."""

    metrics: list[Item] = field(default_factory=list)
    spans: list[Item] = field(default_factory=list)
    logs: list[Item] = field(default_factory=list)

    def metric(self, name: str) -> list[Item]:
        return [m for m in self.metrics if m.body.get("name") == name]

    def span(self, name: str) -> list[Item]:
        return [s for s in self.spans if s.body.get("name") == name]

    def log(self, event_name: str) -> list[Item]:
        return [r for r in self.logs if r.body.get("eventName") == event_name]


def parse(text: str) -> ReceivedTelemetry:
    """Parse the file's complete lines (a line still being written is ignored)."""
    got = ReceivedTelemetry()
    lines = text.split("\n")
    for line in lines[:-1] if not text.endswith("\n") else lines:
        if not line.strip():
            continue
        request: Json = json.loads(line)
        for key, scope_key, items_key, sink in (
            ("resourceMetrics", "scopeMetrics", "metrics", got.metrics),
            ("resourceSpans", "scopeSpans", "spans", got.spans),
            ("resourceLogs", "scopeLogs", "logRecords", got.logs),
        ):
            for resource_block in request.get(key, []):
                resource = attributes(resource_block.get("resource", {}).get("attributes"))
                for scope_block in resource_block.get(scope_key, []):
                    scope = scope_block.get("scope", {}).get("name", "")
                    for item in scope_block.get(items_key, []):
                        sink.append(Item(item, resource, scope))
    return got


def poll_until(
    path: Path,
    check: Callable[[ReceivedTelemetry], None],
    *,
    timeout: float,
    interval: float = 0.25,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> ReceivedTelemetry:
    """Re-read ``path`` until ``check`` stops raising ``AssertionError`` (at most ``timeout`` s).

    Returns what was read when the check passed; re-raises the last assertion
    if it never did.
    """
    deadline = monotonic() + timeout
    last: AssertionError = AssertionError(f"{path} never appeared")
    while True:
        if path.exists():
            got = parse(path.read_text(encoding="utf-8", errors="replace"))
            try:
                check(got)
            except AssertionError as exc:
                last = exc
            else:
                return got
        if monotonic() >= deadline:
            raise last
        sleep(interval)
