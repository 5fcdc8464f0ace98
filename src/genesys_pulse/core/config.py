"""Configuration: the model, its TOML form, environment overrides and validation.

A configuration is a :class:`MonitorConfig`: global settings plus one or more
:class:`TargetConfig`\\ s. It is built from an already-parsed mapping
(:func:`parse_config`) or a TOML string (:func:`loads_config`), with the
``GENESYS_PULSE_*`` variables of an explicit environment mapping overriding
the document. ``docs/configuration.md`` is the reference for every key.

This module is the public face of the configuration and does no I/O: it
reads no file and not ``os.environ``. Reading a TOML file (with its size,
file-type and permission checks) and defaulting to ``os.environ`` is
:func:`genesys_pulse.config_sources.load_config`, outside the pure core.
The code lives in private modules: the model, :class:`Secret` and the errors
in ``_config_model``; the one duration grammar in ``_duration``; value
parsers and key tables in ``_config_values``; targets in
``_config_targets``; the entry points in ``_config_parse``.

Validation collects every problem before it reports, so a user fixes a file
in one go: parsing raises :class:`ConfigErrors` (a :class:`ConfigError`) whose
``errors`` list holds one :class:`ConfigError` per problem, each naming the
field (a dotted path such as ``targets[1].thresholds.jitter.warning``), the
offending value (never a secret) and the rule broken.

Secrets come from the environment only and are held in :class:`Secret`, whose
``repr``/``str``/format is ``***``. A configuration may lack credentials
(:func:`missing_credentials` names the variables to set): the caller decides
whether that is fatal, and ``run --emulator`` fills them in with
:func:`with_credentials`.
"""

from __future__ import annotations

from genesys_pulse.core._config_model import (
    CHANNEL_CAP,
    CONFIG_ENV,
    DEFAULT_CHANNEL_RESERVE,
    DEFAULT_CLIENT_ID_ENV,
    DEFAULT_CLIENT_SECRET_ENV,
    ENV_PREFIX,
    MAX_CONFIG_BYTES,
    MAX_INTERVAL,
    MAX_MESSAGE_BYTES,
    MAX_TOPIC_LENGTH,
    MAX_TOPICS,
    MIN_INTERVAL,
    MISSING,
    TARGET_ID_PATTERN,
    ConfigError,
    ConfigErrors,
    ConfigWarning,
    GenesysSettings,
    Hysteresis,
    Levels,
    MonitorConfig,
    Secret,
    TargetConfig,
    Thresholds,
    WebSocketSettings,
    missing_credentials,
    redacted,
    with_credentials,
)
from genesys_pulse.core._config_parse import (
    config_file_error,
    loads_config,
    parse_config,
    parse_toml,
)
from genesys_pulse.core._config_values import (
    ENV_GLOBAL_VARIABLES,
    ENV_TARGET_VARIABLES,
    MAX_SHOWN_KEY,
    parse_listen,
)
from genesys_pulse.core._duration import DURATION_UNITS, parse_duration

__all__ = [
    "CHANNEL_CAP",
    "CONFIG_ENV",
    "DEFAULT_CHANNEL_RESERVE",
    "DEFAULT_CLIENT_ID_ENV",
    "DEFAULT_CLIENT_SECRET_ENV",
    "DURATION_UNITS",
    "ENV_GLOBAL_VARIABLES",
    "ENV_PREFIX",
    "ENV_TARGET_VARIABLES",
    "MAX_CONFIG_BYTES",
    "MAX_INTERVAL",
    "MAX_MESSAGE_BYTES",
    "MAX_SHOWN_KEY",
    "MAX_TOPICS",
    "MAX_TOPIC_LENGTH",
    "MIN_INTERVAL",
    "MISSING",
    "TARGET_ID_PATTERN",
    "ConfigError",
    "ConfigErrors",
    "ConfigWarning",
    "GenesysSettings",
    "Hysteresis",
    "Levels",
    "MonitorConfig",
    "Secret",
    "TargetConfig",
    "Thresholds",
    "WebSocketSettings",
    "config_file_error",
    "loads_config",
    "missing_credentials",
    "parse_config",
    "parse_duration",
    "parse_listen",
    "parse_toml",
    "redacted",
    "with_credentials",
]
