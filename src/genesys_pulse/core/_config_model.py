"""The configuration model: limits, :class:`Secret`, the error types and the frozen dataclasses.

Plain data only: nothing here parses or reads anything. The parsers
(:mod:`._config_values`, :mod:`._config_targets`, :mod:`._config_parse`)
build these objects from mappings; the file and environment sources live
outside the core (:mod:`genesys_pulse.config_sources`). Import all of it
through :mod:`genesys_pulse.core.config`.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn

if TYPE_CHECKING:
    from genesys_pulse.core._proxy import ProxyRules

# ---------------------------------------------------------------------------
# Limits (each documented in docs/configuration.md)

TARGET_ID_PATTERN: Final = re.compile(r"\A[A-Za-z0-9_-]{8,36}\Z")
"""Target ids become metric attributes and journal keys (the tutorial's gateway pattern)."""
MIN_INTERVAL: Final = 0.1
"""Seconds. Probing faster than this congests the gateway (the tutorial's floor)."""
MAX_INTERVAL: Final = 5.0
"""Seconds. The tutorial's probe-frequency ceiling: a stall must be seen within seconds."""
MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest outgoing message (echo message, subscription payload), in UTF-8 bytes."""
MAX_TOPICS: Final = 1000
"""Topics per target (the Genesys per-channel subscription limit)."""
MAX_TOPIC_LENGTH: Final = 200
"""Characters per topic name."""
MAX_TARGETS: Final = 10_000
MAX_LEVEL_SECONDS: Final = 3600.0
MAX_STABILITY_WINDOW: Final = 86_400
MIN_STABILITY_WINDOW: Final = 10
MAX_HYSTERESIS: Final = 1000
MAX_COUNT_LEVEL: Final = 1000
MAX_WINDOW: Final = 86_400.0
MAX_HEARTBEAT_PERIOD: Final = 3600.0
MIN_RECONNECT_MAX_DELAY: Final = 1.0
"""Below this, a fleet of monitors would hammer a recovering gateway."""
MAX_RECONNECT_MAX_DELAY: Final = 300.0
MAX_CONFIG_BYTES: Final = 1024 * 1024

ENV_PREFIX: Final = "GENESYS_PULSE_"
CONFIG_ENV: Final = "GENESYS_PULSE_CONFIG"
CHANNEL_CAP: Final = 20
"""Notification channels per user/OAuth client; creating one more evicts the least
recently used (unconnected first). Genesys Cloud's documented limit."""
DEFAULT_CHANNEL_RESERVE: Final = 4
"""Channel slots of the OAuth client the monitor leaves free for the integration."""
DEFAULT_CLIENT_ID_ENV: Final = "GENESYS_CLOUD_CLIENT_ID"
DEFAULT_CLIENT_SECRET_ENV: Final = "GENESYS_CLOUD_CLIENT_SECRET"

# ---------------------------------------------------------------------------
# Secret


class Secret:
    """A string that never shows itself.

    ``repr``, ``str`` and every format spec give ``***``; :meth:`reveal`
    returns the value, for the one place that must send it (HTTP Basic auth).
    Equality compares values in constant time; the hash is a constant, so it
    says nothing about the value. A secret cannot be pickled or serialised to
    JSON; ``copy``/``deepcopy`` (and so :func:`dataclasses.asdict`) return the
    same object, which still prints as ``***``.
    """

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the secret value. Never log or display the result."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(Secret)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Secret cannot be pickled (it would write the value out)")


# ---------------------------------------------------------------------------
# Errors


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()
"""The ``value`` of a :class:`ConfigError` about a key that is absent or whose value is withheld."""


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        shown = repr(text)  # escapes can make it up to four times longer: cap that too
        return shown if len(shown) <= 80 else shown[:76] + "..." + shown[-1]
    if isinstance(value, int) and abs(value) >= 10**30:
        return "a very large number"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


class ConfigError(ValueError):
    """One problem with a configuration.

    Attributes:
        field: dotted path of the offending key, e.g. ``targets[1].interval``;
            ``file`` for problems reading the file, an environment variable's
            name for problems with a variable that applies to no field.
        value: the offending value as given (never a secret: withheld values
            are :data:`MISSING`).
        rule: a sentence saying what is wrong and why.

    ``str(error)`` reads ``"targets[1].interval: 0.05 s is below the 100 ms
    minimum (probing faster than that congests the gateway)"``.
    """

    def __init__(self, field: str, value: object, rule: str, *, shown: str | None = None) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        if shown is None and value is not MISSING:
            shown = _show(value)
        message = f"{field}: {shown} {rule}" if shown else f"{field}: {rule}"
        super().__init__(message)


class ConfigErrors(ConfigError):
    """Every problem found in one configuration (raised by the parsers).

    ``errors`` lists them in file order; ``field``, ``value`` and ``rule`` are
    those of the first. ``str()`` gives one problem per line.
    """

    def __init__(self, errors: list[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = list(errors)
        first = errors[0]
        super().__init__(first.field, first.value, first.rule)
        if len(errors) > 1:
            lines = [f"{len(errors)} problems in the configuration:"]
            lines += [f"  {e}" for e in errors]
            self.args = ("\n".join(lines),)
        else:
            self.args = first.args


class ConfigWarning(UserWarning):
    """A configuration that works but is risky (e.g. a world-readable file holding credentials)."""


# ---------------------------------------------------------------------------
# The model


@dataclass(frozen=True, slots=True)
class Levels:
    """A warning and a critical level for one measure (units per measure)."""

    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """Flap control: raise after ``raise_k`` of the last ``raise_n`` samples breach;
    clear after ``clear_m`` consecutive samples do not."""

    raise_k: int = 3
    raise_n: int = 5
    clear_m: int = 5


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The threshold matrix of one target."""

    rtt_control: Levels = Levels(0.150, 0.400)
    """Seconds; control-frame ping RTT."""
    rtt_application: Levels = Levels(0.150, 0.400)
    """Seconds; application ping RTT."""
    jitter: Levels = Levels(0.030, 0.060)
    """Seconds; |IPDV| = |RTT_k - RTT_(k-1)|."""
    stability: Levels = Levels(0.99, 0.975)
    """Ratio of answered-in-time probe slots; lower is worse (0 < critical < warning <= 1)."""
    consecutive_timeouts: Levels = Levels(1, 2)
    """Count of consecutive timed-out probes (the Genesys client disconnects on the 2nd)."""
    heartbeat_silence: Levels = Levels(60.0, 90.0)
    """Seconds without a server heartbeat; default 2x / 3x the heartbeat period."""
    hysteresis: Hysteresis = Hysteresis()


@dataclass(frozen=True, slots=True)
class GenesysSettings:
    """How to reach one Genesys Cloud organisation.

    ``client_id``/``client_secret`` are ``None`` while not configured; use
    :meth:`credentials` (or :func:`missing_credentials`) before talking to
    the service.
    """

    environment: str | None
    """The region's environment domain (``mypurecloud.com``), or ``None`` with explicit URLs."""
    login_url: str
    """OAuth base, no trailing slash; the token endpoint is ``{login_url}/oauth/token``."""
    api_url: str
    """REST base, no trailing slash; calls go to ``{api_url}/api/v2/...``."""
    client_id: str | None
    client_secret: Secret | None
    topics: tuple[str, ...] = ()
    client_id_env: str = DEFAULT_CLIENT_ID_ENV
    """The variable the client id is read from when the file gives none."""
    client_secret_env: str = DEFAULT_CLIENT_SECRET_ENV
    """The variable the client secret is read from."""
    region: str | None = None
    """The AWS region name (``us-east-1``) when the environment is a known region."""
    channel_reserve: int = DEFAULT_CHANNEL_RESERVE
    """Channel slots the monitor leaves free: it never creates a channel that would
    bring the OAuth client's channel count above ``CHANNEL_CAP - channel_reserve``."""

    def credentials(self) -> tuple[str, Secret]:
        """Return ``(client_id, client_secret)``; raise :class:`ConfigError` if either is unset."""
        if self.client_id is None:
            raise ConfigError(
                "client_id", MISSING, f"is not set: set {self.client_id_env} or client_id"
            )
        if self.client_secret is None:
            raise ConfigError(
                "client_secret",
                MISSING,
                f"is not set: secrets come from the environment: set {self.client_secret_env}",
            )
        return self.client_id, self.client_secret


@dataclass(frozen=True, slots=True)
class WebSocketSettings:
    """A plain WebSocket target."""

    url: str
    control_pings: bool = True
    echo_message: str | None = None
    """Text sent as the application ping; ``None``: no application pings."""
    expected_reply: str | None = None
    """The text message that answers an application ping (default: the echo message)."""


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """One monitored connection and how to probe it."""

    id: str
    kind: Literal["genesys", "websocket"]
    interval: float = 1.0
    timeout: float = 1.0
    stability_window: int = 300
    heartbeat_period: float = 30.0
    control_pings: bool = True
    application_pings: bool = True
    thresholds: Thresholds = Thresholds()
    reconnect_max_delay: float = 5.0
    """Cap of the jittered delay between attempts to reconnect to an existing channel:
    recovery of the endpoint is noticed within this (plus one connect). Channel
    creation and login back off separately and more slowly."""
    genesys: GenesysSettings | None = None
    websocket: WebSocketSettings | None = None


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """A whole configuration."""

    targets: tuple[TargetConfig, ...]
    window: float = 60.0
    """Seconds; the probe-window span length (one summary per target per window)."""
    journal_path: str | None = None
    """The audit journal file; ``None``: no journal."""
    shard: tuple[int, int] | None = None
    """``(index, count)``: this process runs its ``index``-th share of ``count``."""
    proxy: ProxyRules | None = None
    """The HTTP proxy rules (``proxy`` key, else ``HTTPS_PROXY`` & co. in the
    environment given to the parser); ``None``: direct connections."""
    health_listen: tuple[str, int] | None = None
    """``(host, port)`` of the health endpoint (``/livez``, ``/readyz``); ``None``: none."""


# ---------------------------------------------------------------------------
# Credentials helpers


def missing_credentials(config: MonitorConfig) -> list[str]:
    """Return the environment variables to set so every Genesys target has credentials.

    Sorted, without duplicates; empty when nothing is missing.
    """
    names: set[str] = set()
    for t in config.targets:
        g = t.genesys
        if g is None:
            continue
        if g.client_id is None:
            names.add(g.client_id_env)
        if g.client_secret is None:
            names.add(g.client_secret_env)
    return sorted(names)


def with_credentials(
    config: MonitorConfig,
    client_id: str,
    client_secret: str | Secret,
    login_url: str,
    api_url: str,
) -> MonitorConfig:
    """Point every Genesys target at *login_url*/*api_url* with the given credentials.

    Used by ``run --emulator``. WebSocket targets are unchanged. The
    environment of each rewritten target becomes ``None`` (no known region).
    """
    secret = client_secret if isinstance(client_secret, Secret) else Secret(client_secret)
    targets = []
    for t in config.targets:
        if t.genesys is not None:
            g = dataclasses.replace(
                t.genesys,
                environment=None,
                region=None,
                login_url=login_url.rstrip("/"),
                api_url=api_url.rstrip("/"),
                client_id=client_id,
                client_secret=secret,
            )
            t = dataclasses.replace(t, genesys=g)
        targets.append(t)
    return dataclasses.replace(config, targets=tuple(targets))


# ---------------------------------------------------------------------------
# Redacted view


def _plain(value: object) -> Any:
    if isinstance(value, Secret):
        return "***"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def redacted(config: MonitorConfig) -> dict[str, Any]:
    """Return *config* as a JSON-able dict with every secret shown as ``"***"``.

    Durations are in seconds; unset secrets are ``null``.
    """
    result: dict[str, Any] = _plain(config)
    return result
