"""Which events are audit records, how severe they are, and the redaction pass.

Shared by :class:`~genesys_pulse.telemetry.OTelSink` (OTel log records) and
:class:`~genesys_pulse.telemetry.AuditJournal` (the local JSON-lines journal),
so the two always agree on what an audit record is and what it may contain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from genesys_pulse.core.model import AttrValue, Event

__all__ = [
    "AUDIT_KINDS",
    "REDACTED",
    "AuditKind",
    "audit_kind",
    "redact_attributes",
    "redact_value",
]

REDACTED: Final = "***"


class AuditKind:
    """How one monitor event maps onto an audit record.

    Attributes:
      kind: the record kind; the OTel ``event_name`` is ``"genesys_pulse." + kind``.
      severity_text: one of ``INFO``, ``WARN``, ``ERROR``.
      severity_number: the OTel severity number matching ``severity_text``.
    """

    __slots__ = ("event_name", "kind", "severity_number", "severity_text")

    def __init__(self, kind: str, severity_text: str, event_name: str | None = None) -> None:
        self.kind = kind
        self.event_name = event_name or "genesys_pulse." + kind
        self.severity_text = severity_text
        self.severity_number = _SEVERITY_NUMBERS[severity_text]


# OTel SeverityNumber values (INFO=9, WARN=13, ERROR=17), kept as ints so this
# module and the journal do not import opentelemetry.
_SEVERITY_NUMBERS: Final = {"DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17}

#: monitor event name -> audit record kind and default severity. ``window`` is
#: not an audit record (it is a periodic summary carried by the window span).
AUDIT_KINDS: Final[Mapping[str, AuditKind]] = {
    "monitor.started": AuditKind("monitor.started", "INFO"),
    "monitor.stopped": AuditKind("monitor.stopped", "INFO"),
    "token.issued": AuditKind("token.issued", "INFO"),
    "token.refresh": AuditKind("token.refresh", "INFO"),
    "token.failed": AuditKind("token.failed", "ERROR"),
    "channel.created": AuditKind("channel.created", "INFO"),
    "rotation": AuditKind("channel.rotated", "INFO"),
    "channel.expired": AuditKind("channel.expired", "WARN"),
    # the monitor left the OAuth client's reserve of channels alone (no channel created)
    "channel.budget_exhausted": AuditKind(
        "channel.budget_exhausted", "ERROR", "genesys.channel.budget_exhausted"
    ),
    "connection.lost": AuditKind("connection.lost", "WARN"),
    "connection.established": AuditKind("connection.established", "INFO"),
    "http.retry": AuditKind("http.retry", "WARN"),
    "connection.restored": AuditKind("connection.restored", "INFO"),
    "threshold.breach": AuditKind("threshold.breach", "WARN"),
    "threshold.clear": AuditKind("threshold.clear", "INFO"),
    "timeout": AuditKind("timeout", "WARN"),
    "reconnect": AuditKind("reconnect", "WARN"),
    "socket_closing": AuditKind("socket_closing", "WARN"),
    "local_stall": AuditKind("local_stall", "WARN"),
    "callback.failed": AuditKind("callback.failed", "ERROR"),
}

_CRITICAL_BREACH: Final = AuditKind("threshold.breach", "ERROR")


def audit_kind(event: Event) -> AuditKind | None:
    """Return the audit mapping of *event*, or ``None`` if it is not an audit record.

    A ``threshold.breach`` to the critical level is reported at ``ERROR``.
    """
    kind = AUDIT_KINDS.get(event.name)
    if kind is not None and event.name == "threshold.breach":
        level = event.attributes.get("level")
        if level in (2, "critical", "CRITICAL"):
            return _CRITICAL_BREACH
    return kind


# Keys that could ever carry a credential. Event attributes are secret-free by
# contract; this pass is the second line of defence.
_SECRET_KEY: Final = re.compile(
    r"secret|password|passwd|authorization|bearer|credential|api[_-]?key|cookie|"
    r"(^|[._-])(access|refresh|id)?[_-]?token($|[._-]value)",
    re.IGNORECASE,
)
# A JWT, or a long opaque run of token characters (Genesys access tokens are
# 86+ url-safe base64 characters). Short words and numbers pass.
_SECRET_VALUE: Final = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|"
    r"(?:bearer\s+)\S{8,}|"
    r"[A-Za-z0-9_\-+/=]{40,}",
    re.IGNORECASE,
)


def redact_value(value: AttrValue) -> AttrValue:
    """Mask anything in a string value that looks like a credential."""
    if isinstance(value, str) and len(value) >= 8:
        return _SECRET_VALUE.sub(REDACTED, value)
    return value


def redact_attributes(
    attributes: Mapping[str, AttrValue], *, extra_secrets: tuple[str, ...] = ()
) -> dict[str, AttrValue]:
    """Return a copy of *attributes* safe to export or write to disk.

    Keys that name a credential have their value replaced by ``"***"``;
    string values that look like a token are masked; any of *extra_secrets*
    (exact strings known to be secret, e.g. the configured client secret)
    found inside a value is masked too.
    """
    out: dict[str, AttrValue] = {}
    for key, value in attributes.items():
        if _SECRET_KEY.search(key):
            out[key] = REDACTED
            continue
        value = redact_value(value)
        if extra_secrets and isinstance(value, str):
            for secret in extra_secrets:
                if secret and secret in value:
                    value = value.replace(secret, REDACTED)
        out[key] = value
    return out
