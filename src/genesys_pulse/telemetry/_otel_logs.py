"""The log side of :class:`~genesys_pulse.telemetry.OTelSink`: audit records.

Every audit event (``telemetry._audit.AUDIT_KINDS``) becomes one OTel log
record with ``event_name`` ``genesys_pulse.<kind>``, its severity, a short
human body, the event's attributes plus the target attributes, and the trace
context of the span it belongs to: a connection attempt's records
(token, channel, connection) in its ``genesys_pulse.connect`` span, every
other target record in the target's probe window, monitor-wide records in none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import _logs
from opentelemetry._logs import SeverityNumber

from genesys_pulse.core.model import AttrValue, Event
from genesys_pulse.telemetry._audit import audit_kind
from genesys_pulse.telemetry._otel_spans import TargetSpans, ns

__all__ = ["MONITOR_WIDE", "Logs"]

#: ``Event.target`` values of events about the whole monitor, not one target.
MONITOR_WIDE: Final = frozenset({"", "*"})

#: Records that belong to a connection attempt (in its connect span).
_LOG_IN_CONNECT: Final = frozenset(
    {
        "token.issued",
        "token.refresh",
        "token.failed",
        "channel.created",
        "connection.established",
        "connection.restored",
        "connection.lost",
    }
)


class Logs:
    """Emits the audit records of one sink on one logger."""

    def __init__(self, logger: _logs.Logger, redacted_config: Mapping[str, Any] | None) -> None:
        self._logger = logger
        self._config_json = (
            json.dumps(redacted_config, sort_keys=True, default=str)
            if redacted_config is not None
            else None
        )

    def emit(self, st: TargetSpans | None, e: Event, attrs: dict[str, AttrValue]) -> None:
        """One log record for *e* if it is an audit event (*attrs*: its record
        attributes, already redacted and renamed; extended here)."""
        kind = audit_kind(e)
        if kind is None:
            return
        if st is not None:
            for key, value in st.base.items():
                # the event's own keys win (a failed connect's server.address
                # names the host that failed, e.g. the login host)
                attrs.setdefault(key, value)
            # an attempt's records go in its connect span (also the one this
            # very event just ended); everything else in the window span
            connect_ctx = st.connect_ctx or st.ended_connect_ctx
            ctx = (
                connect_ctx
                if connect_ctx is not None and e.name in _LOG_IN_CONNECT
                else st.window_ctx
            )
        else:
            ctx = None
        if (
            e.name in ("monitor.started", "monitor.stopped")
            and self._config_json is not None
            and "config" not in attrs
        ):
            attrs["config"] = self._config_json
        self._logger.emit(
            timestamp=ns(e.at),
            context=ctx,
            severity_number=SeverityNumber(kind.severity_number),
            severity_text=kind.severity_text,
            body=_body(e, kind.kind),
            attributes=attrs,
            event_name=kind.event_name,
        )


def _body(e: Event, kind: str) -> str:
    """A short human-readable line for the log record body (no secrets: names only)."""
    who = "monitor" if e.target in MONITOR_WIDE else f"target {e.target}"
    a = e.attributes
    if kind == "timeout":
        return f"{who}: {a.get('probe', 'probe')} ping timed out"
    if kind in ("threshold.breach", "threshold.clear"):
        return f"{who}: {kind} {a.get('metric', '?')} level={a.get('level', '?')}"
    if kind == "connection.lost":
        code = a.get("code")
        return f"{who}: {kind}" + (f" close_code={code}" if code is not None else "")
    return f"{who}: {kind}"
