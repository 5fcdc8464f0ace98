"""Which OpenTelemetry signals the ``OTEL_*`` variables ask to export.

Kept apart from :mod:`genesys_pulse.telemetry.sdk_setup` (which imports the
SDK) so that the command can decide *whether* to build any SDK provider, and
say what to install when the SDK is missing, without importing it.

Telemetry that is switched off must cost least: a signal whose exporter list
is ``none`` (or every signal, with ``OTEL_SDK_DISABLED=true``) gets no SDK
provider at all, and when no signal is exported the command builds no
OpenTelemetry sink (see docs/performance.md, "Telemetry off is the floor").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["SIGNALS", "ConfigurationError", "exporter_kinds", "otel_requested"]

SIGNALS: Final = ("traces", "metrics", "logs")


class ConfigurationError(ValueError):
    """An ``OTEL_*`` variable has a value this set-up does not support."""


def _kinds(env: Mapping[str, str], signal: str) -> tuple[str, ...]:
    key = f"OTEL_{signal.upper()}_EXPORTER"
    raw = env.get(key, "otlp").strip().lower() or "otlp"
    kinds: list[str] = []
    for item in (x.strip() for x in raw.split(",")):
        if item == "none":
            return ()
        if item not in ("otlp", "console"):
            raise ConfigurationError(f"{key}: unsupported exporter {item!r} (otlp, console, none)")
        if item not in kinds:
            kinds.append(item)
    return tuple(kinds)


def exporter_kinds(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Per signal, the exporter kinds ``OTEL_<SIGNAL>_EXPORTER`` names (``()``: none).

    Unset means ``otlp`` (the specification's default); ``none`` anywhere in
    the list means no exporter; ``OTEL_SDK_DISABLED=true`` means none for
    every signal.

    Raises:
      ConfigurationError: an exporter other than ``otlp``, ``console``, ``none``.
    """
    kinds = {sig: _kinds(env, sig) for sig in SIGNALS}
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return {sig: () for sig in SIGNALS}
    return kinds


def otel_requested(env: Mapping[str, str]) -> bool:
    """True when the variables ask the command to export at least one signal.

    Export is switched on by any ``OTEL_EXPORTER_OTLP_*ENDPOINT`` or
    ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER`` variable (so that a plain run never
    complains about a missing collector), and it is off when every signal's
    exporter is ``none`` or ``OTEL_SDK_DISABLED=true``: then nothing at all is
    built for OpenTelemetry.

    Raises:
      ConfigurationError: as :func:`exporter_kinds`, when export is asked for.
    """
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    asked = any(
        k.startswith("OTEL_EXPORTER_OTLP_") and k.endswith("ENDPOINT") and v.strip()
        for k, v in env.items()
    ) or any(env.get(f"OTEL_{sig.upper()}_EXPORTER", "").strip() for sig in SIGNALS)
    return asked and any(exporter_kinds(env).values())
