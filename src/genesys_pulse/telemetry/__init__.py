"""OpenTelemetry reporting and the durable audit journal.

* :class:`OTelSink` maps the monitor's samples and events onto the
  OpenTelemetry **API** (metrics, spans, log records); see ``docs/telemetry.md``.
* :class:`AuditJournal` is an append-only, sequence-numbered JSON-lines
  journal of audit records; see ``docs/journal.md``.
* :func:`otel_sinks_for` builds both for a configuration.
* :mod:`genesys_pulse.telemetry.sdk_setup` builds SDK providers from the
  ``OTEL_*`` variables; it is imported only by the CLI and the examples.
"""

from genesys_pulse.telemetry._audit import AUDIT_KINDS, AuditKind, audit_kind, redact_attributes
from genesys_pulse.telemetry._embed import (
    config_secrets,
    monitor_instance,
    otel_sinks_for,
    target_attrs_for,
)
from genesys_pulse.telemetry._journal import AuditJournal, JournalRecovery, read_journal
from genesys_pulse.telemetry._names import ALL_METRICS, SECONDS_BUCKETS
from genesys_pulse.telemetry._otel_sink import OTelSink

__all__ = [
    "ALL_METRICS",
    "AUDIT_KINDS",
    "SECONDS_BUCKETS",
    "AuditJournal",
    "AuditKind",
    "JournalRecovery",
    "OTelSink",
    "audit_kind",
    "config_secrets",
    "monitor_instance",
    "otel_sinks_for",
    "read_journal",
    "redact_attributes",
    "target_attrs_for",
]
