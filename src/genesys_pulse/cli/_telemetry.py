"""The CLI's telemetry and logging set-up: which OpenTelemetry signals to export, what is missing.

Kept apart from ``_run`` (the command's flow) because it is the one place that
reads ``OTEL_*`` and decides whether the SDK is imported at all: every signal
``none`` builds nothing (telemetry off is the floor).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from genesys_pulse.core import RedactingFilter
from genesys_pulse.core.config import MonitorConfig

__all__ = [
    "_missing_telemetry_packages",
    "_otel_enabled",
    "_otel_env_problem",
    "_redacting_log_handler",
    "_telemetry_sinks",
]


def _redacting_log_handler(config: MonitorConfig, level: str) -> RedactingFilter:
    """Send diagnostic logs to stderr through a filter that masks every secret.

    The filter knows the configured client secrets now and learns each access
    token as the OAuth clients receive it (``run_monitor(redactor=...)``), so
    no log line - ours, httpx's or httpcore's - can carry one.
    """
    from genesys_pulse.telemetry import config_secrets

    redactor = RedactingFilter(config_secrets(config))
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redactor)
    handler.setFormatter(logging.Formatter("genesys-pulse %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.WARNING))
    return redactor


def _otel_enabled(env: Mapping[str, str]) -> bool:
    """Whether OTEL_* asks for at least one exported signal (see ``otel_requested``).

    Every exporter ``none`` is *off*, exactly like no OTEL_* variable: no SDK
    provider and no OpenTelemetry sink. (It used to switch the SDK on with
    providers that exported nothing, and cost more CPU than exporting.)
    """
    from genesys_pulse.telemetry._otel_env import otel_requested

    return otel_requested(env)


def _otel_env_problem(env: Mapping[str, str]) -> str | None:
    """One line naming the OTEL_* variable the set-up cannot honour, or None."""
    from genesys_pulse.telemetry._otel_env import ConfigurationError, exporter_kinds

    try:
        exporter_kinds(env)
    except ConfigurationError as exc:
        return f"invalid OpenTelemetry set-up: {exc}"
    return None


def _missing_telemetry_packages(env: Mapping[str, str]) -> str | None:
    """One line saying what to install when OTEL_* asks for export the install cannot do.

    The SDK and the OTLP exporters are extras (``genesys-pulse[cli]``, and
    ``[grpc]`` for the gRPC protocol): the plugin needs neither, so a plain
    a plain install of the package (no extra) has them only if the host brought them.
    """
    if not _otel_enabled(env):
        return None
    import importlib.util

    def absent(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is None
        except (ImportError, ValueError):
            return True

    what = "OpenTelemetry export (OTEL_* is set)"
    if absent("opentelemetry.sdk") or absent("opentelemetry.exporter.otlp.proto.http"):
        return (
            f"{what} needs the SDK and the OTLP exporter: pip install 'genesys-pulse[cli]' "
            "(or unset the OTEL_* variables to run with JSON-lines/live output only)"
        )
    grpc = any(
        v.strip().lower() == "grpc"
        for k, v in env.items()
        if k.startswith("OTEL_EXPORTER_OTLP_") and k.endswith("PROTOCOL")
    )
    if grpc and absent("opentelemetry.exporter.otlp.proto.grpc"):
        return (
            f"{what} with OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: "
            "pip install 'genesys-pulse[grpc]' (or use http/protobuf, which needs no extra)"
        )
    return None


def _telemetry_sinks(config: MonitorConfig) -> tuple[list[Any], Any]:
    """The OpenTelemetry sink (when OTEL_* asks for export) and the audit journal (when set).

    Returns ``(sinks, providers)``; ``providers`` is ``None`` when no signal is
    exported (no SDK provider exists then, and no OTelSink either).
    """
    if not _otel_enabled(os.environ):
        if not config.journal_path:
            return [], None
        from genesys_pulse.telemetry import AuditJournal, config_secrets

        return [AuditJournal(config.journal_path, secrets=config_secrets(config))], None
    from genesys_pulse.telemetry import otel_sinks_for
    from genesys_pulse.telemetry.sdk_setup import configure_from_env

    providers = configure_from_env(os.environ)
    sinks = otel_sinks_for(
        config,
        meter_provider=providers.meter_provider,
        tracer_provider=providers.tracer_provider,
        logger_provider=providers.logger_provider,
    )
    return sinks, providers
