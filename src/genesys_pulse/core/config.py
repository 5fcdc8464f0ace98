"""Configuration: the model, its TOML form, environment overrides and validation.

A configuration is a :class:`MonitorConfig`: global settings plus one or more
:class:`TargetConfig`\\ s. It is read from a TOML file (:func:`load_config`),
a TOML string (:func:`loads_config`) or an already-parsed mapping
(:func:`parse_config`), with ``GENESYS_PULSE_*`` environment variables
overriding the file. ``docs/configuration.md`` is the reference for every key.

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

This module does no I/O except :func:`load_config` reading its file.
"""

from __future__ import annotations

import dataclasses
import difflib
import hmac
import ipaddress
import json
import math
import os
import re
import stat
import sys
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn
from urllib.parse import urlsplit

from genesys_pulse.core._regions import REGIONS, find_region

if TYPE_CHECKING:
    from genesys_pulse.core._proxy import ProxyRules

__all__ = [
    "CHANNEL_CAP",
    "CONFIG_ENV",
    "DEFAULT_CHANNEL_RESERVE",
    "DEFAULT_CLIENT_ID_ENV",
    "DEFAULT_CLIENT_SECRET_ENV",
    "ENV_GLOBAL_VARIABLES",
    "ENV_PREFIX",
    "ENV_TARGET_VARIABLES",
    "MAX_INTERVAL",
    "MAX_MESSAGE_BYTES",
    "MAX_TOPICS",
    "MAX_TOPIC_LENGTH",
    "MIN_INTERVAL",
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
    "load_config",
    "loads_config",
    "missing_credentials",
    "parse_config",
    "parse_duration",
    "parse_listen",
    "redacted",
    "with_credentials",
]

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

_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_TOPIC = re.compile(r"\A[\x21-\x7e]+\Z")
_DURATION = re.compile(r"\A([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ns|us|µs|ms|s|m|min|h)?\Z")
_UNIT: Final = {
    unit: Decimal(factor)
    for unit, factor in (
        ("ns", "1e-9"),
        ("us", "1e-6"),
        ("µs", "1e-6"),
        ("ms", "0.001"),
        ("s", "1"),
        ("m", "60"),
        ("min", "60"),
        ("h", "3600"),
    )
}


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
# Value parsers. Each records its own errors and returns _BAD on failure.


class _Bad:
    pass


_BAD: Final = _Bad()


def _fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    return f"{seconds:g} s"


def parse_duration(value: object) -> float:
    """Return *value* in seconds.

    Accepts a non-negative finite number of seconds (not a bool) or a string:
    a number followed by an optional unit ``ns``, ``us``/``µs``, ``ms``,
    ``s`` (the default), ``m``/``min`` or ``h`` - ``"250ms"``, ``"1.5s"``,
    ``"2m"``. Raises :class:`ValueError` otherwise.
    """
    if isinstance(value, bool):
        raise ValueError("is a boolean, not a duration")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError("is too large") from None
    elif isinstance(value, str):
        m = _DURATION.fullmatch(value.strip())
        if m is None:
            raise ValueError('is not a duration (write e.g. "250ms", "1.5s", "2m" or a number)')
        # exact decimal arithmetic: "300ms" is exactly the float 0.3, like "0.3s"
        seconds = float(Decimal(m.group(1)) * _UNIT[m.group(2) or "s"])
    else:
        raise ValueError('is not a duration (write e.g. "250ms", "1.5s" or a number)')
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("is not a finite, non-negative duration")
    return seconds


class _Ctx:
    """Error collector for one parse."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        self.sources: dict[str, str] = {}
        self._seen: set[tuple[str, str]] = set()

    def err(self, path: str, value: object, rule: str, *, shown: str | None = None) -> _Bad:
        src = self.sources.get(path)
        if src is not None:
            rule = f"{rule} (set by {src})"
        key = (path, rule)
        if key not in self._seen:
            self._seen.add(key)
            self.errors.append(ConfigError(path, value, rule, shown=shown))
        return _BAD

    def table(
        self,
        path: str,
        raw: object,
        allowed: Iterable[str],
        secret_env: str | None = None,
    ) -> dict[str, Any] | _Bad:
        """Check *raw* is a table with only *allowed* keys; return it as a dict.

        *secret_env* names the variable a ``client_secret`` key should have
        been (the target's ``client_secret_env``), for the error message.
        """
        if not isinstance(raw, Mapping):
            return self.err(path or "(top level)", raw, "must be a table")
        allowed = tuple(allowed)
        out: dict[str, Any] = {}
        for key, val in raw.items():
            if not isinstance(key, str):
                self.err(_join(path, str(key)), MISSING, "is not a valid key (keys are strings)")
                continue
            kpath = _join(path, key)
            if key == "client_secret":
                self.err(
                    kpath,
                    MISSING,
                    "must not be in the file: secrets come from the environment: "
                    + (
                        f"set {secret_env}"
                        if secret_env
                        else f"set {DEFAULT_CLIENT_SECRET_ENV} "
                        "(or the variable named by client_secret_env)"
                    ),
                )
                continue
            if key not in allowed:
                close = (
                    difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                    if len(key) <= MAX_SHOWN_KEY
                    else []
                )
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.err(kpath, MISSING, f"is not a known key{hint}")
                continue
            out[key] = val
        return out


_BARE_KEY = re.compile(r"\A[A-Za-z0-9_-]+\Z")


MAX_SHOWN_KEY: Final = 60
"""Characters of a key shown in a field path; a longer key is cut (and its length given)."""


def _join(path: str, key: str) -> str:
    """Extend the dotted *path* by *key*, quoted as TOML would if it is not a bare key.

    A key longer than :data:`MAX_SHOWN_KEY` is cut, so an error message never
    echoes an arbitrarily long input.
    """
    if len(key) > MAX_SHOWN_KEY:
        key = f"{key[: MAX_SHOWN_KEY - 20]}...({len(key)} characters)"
    if not _BARE_KEY.fullmatch(key):
        key = json.dumps(key, ensure_ascii=True)
    return f"{path}.{key}" if path else key


def _p_duration(
    ctx: _Ctx,
    path: str,
    raw: object,
    *,
    lo: float,
    hi: float,
    lo_rule: str | None = None,
    hi_rule: str | None = None,
    positive: bool = True,
) -> float | _Bad:
    try:
        v = parse_duration(raw)
    except ValueError as e:
        return ctx.err(path, raw, str(e))
    shown = _show(raw) if isinstance(raw, str) else f"{v:g} s"
    if positive and v <= 0:
        return ctx.err(path, raw, "must be greater than zero", shown=shown)
    if v < lo:
        rule = lo_rule or f"is below the {_fmt_s(lo)} minimum"
        return ctx.err(path, raw, rule, shown=shown)
    if v > hi:
        rule = hi_rule or f"is above the {_fmt_s(hi)} maximum"
        return ctx.err(path, raw, rule, shown=shown)
    return v


def _p_int(ctx: _Ctx, path: str, raw: object, *, lo: int, hi: int, why: str = "") -> int | _Bad:
    if isinstance(raw, bool) or not isinstance(raw, int):
        return ctx.err(path, raw, "must be a whole number")
    if not lo <= raw <= hi:
        return ctx.err(path, raw, f"must be between {lo} and {hi}{why}")
    return raw


def _p_bool(ctx: _Ctx, path: str, raw: object) -> bool | _Bad:
    if not isinstance(raw, bool):
        return ctx.err(path, raw, "must be true or false")
    return raw


def _p_ratio(ctx: _Ctx, path: str, raw: object) -> float | _Bad:
    v: float
    if isinstance(raw, str) and raw.strip().endswith("%"):
        try:
            v = float(raw.strip()[:-1]) / 100.0
        except ValueError:
            return ctx.err(path, raw, 'is not a ratio (write e.g. 0.99 or "99%")')
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        v = float(raw) if isinstance(raw, float) or abs(raw) < 2**53 else math.inf
    else:
        return ctx.err(path, raw, 'is not a ratio (write e.g. 0.99 or "99%")')
    if not (math.isfinite(v) and 0 < v <= 1):
        return ctx.err(path, raw, "must be a ratio above 0 and at most 1")
    return v


def _p_str(
    ctx: _Ctx, path: str, raw: object, *, max_len: int = 4096, what: str = "text"
) -> str | _Bad:
    if not isinstance(raw, str):
        return ctx.err(path, raw, f"must be a string ({what})")
    if not raw:
        return ctx.err(path, raw, "must not be empty")
    if len(raw) > max_len:
        return ctx.err(path, MISSING, f"is longer than {max_len} characters")
    if any(ord(c) < 0x20 or c == "\x7f" for c in raw):
        return ctx.err(path, MISSING, "must not contain control characters")
    return raw


def _utf8_len(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _p_message(ctx: _Ctx, path: str, raw: object) -> str | _Bad:
    if not isinstance(raw, str):
        return ctx.err(path, raw, "must be a string")
    if not raw:
        return ctx.err(path, raw, "must not be empty")
    n = _utf8_len(raw)
    if n is None:
        return ctx.err(path, MISSING, "must be valid Unicode text (no lone surrogates)")
    if n > MAX_MESSAGE_BYTES:
        return ctx.err(
            path,
            MISSING,
            f"is {n} bytes, above the 64 KiB maximum outgoing message "
            "(the gateway's message-size ceiling)",
        )
    return raw


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _p_url(ctx: _Ctx, path: str, raw: object, *, secure: str, insecure: str) -> str | _Bad:
    """A URL with scheme *secure*, or *insecure* on a loopback host only."""
    s = _p_str(ctx, path, raw, max_len=2048, what="a URL")
    if isinstance(s, _Bad):
        return s
    if any(c.isspace() for c in s):
        return ctx.err(path, s, "must not contain spaces")
    try:
        parts = urlsplit(s)
        port = parts.port
    except ValueError as e:
        return ctx.err(path, s, f"is not a valid URL ({e})")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in (secure, insecure):
        return ctx.err(path, s, f"must be a {secure}:// URL")
    if not host:
        return ctx.err(path, s, "has no host")
    if parts.username is not None or parts.password is not None:
        return ctx.err(
            path,
            MISSING,
            "must not carry credentials (user:password@): they would end up in logs",
        )
    if port == 0:
        return ctx.err(path, s, "has port 0")
    if parts.fragment:
        return ctx.err(path, s, "must not have a #fragment")
    if scheme == insecure and not _is_loopback(host):
        return ctx.err(
            path,
            s,
            f"uses unencrypted {insecure}:// on a non-loopback host; use {secure}:// "
            f"({insecure}:// is allowed only for localhost/127.0.0.1/::1)",
        )
    return s


def _p_base_url(ctx: _Ctx, path: str, raw: object) -> str | _Bad:
    s = _p_url(ctx, path, raw, secure="https", insecure="http")
    if isinstance(s, _Bad):
        return s
    if urlsplit(s).query:
        return ctx.err(path, s, "must not have a ?query (it is a base URL)")
    return s.rstrip("/")


def _p_env_name(ctx: _Ctx, path: str, raw: object) -> str | _Bad:
    if not isinstance(raw, str) or not _ENV_NAME.fullmatch(raw) or len(raw) > 256:
        return ctx.err(path, raw, "must be an environment variable name (letters, digits, _)")
    return raw


def _p_topics(ctx: _Ctx, path: str, raw: object) -> tuple[str, ...] | _Bad:
    if not isinstance(raw, list | tuple):
        return ctx.err(path, raw, "must be a list of topic names")
    if len(raw) > MAX_TOPICS:
        return ctx.err(
            path,
            MISSING,
            f"has {len(raw)} topics, above the {MAX_TOPICS} maximum per channel",
        )
    out: list[str] = []
    seen: set[str] = set()
    bad = False
    for j, t in enumerate(raw):
        tpath = f"{path}[{j}]"
        if not isinstance(t, str) or not t:
            ctx.err(tpath, t, "must be a non-empty string")
            bad = True
        elif len(t) > MAX_TOPIC_LENGTH:
            ctx.err(tpath, t, f"is longer than {MAX_TOPIC_LENGTH} characters")
            bad = True
        elif not _TOPIC.fullmatch(t):
            ctx.err(tpath, t, "must be printable ASCII without spaces")
            bad = True
        elif t in seen:
            ctx.err(tpath, t, "is listed twice")
            bad = True
        else:
            seen.add(t)
            out.append(t)
    if bad:
        return _BAD
    payload = len(json.dumps([{"id": t} for t in out], separators=(",", ":")))
    if payload > MAX_MESSAGE_BYTES:
        return ctx.err(
            path,
            MISSING,
            f"make a {payload}-byte subscription payload, above the 64 KiB maximum "
            "outgoing message",
        )
    return tuple(out)


# ---------------------------------------------------------------------------
# Keys

_TUNABLE_KEYS: Final = (
    "interval",
    "timeout",
    "stability_window",
    "heartbeat_period",
    "control_pings",
    "application_pings",
    "thresholds",
    "reconnect_max_delay",
)
_GENESYS_KEYS: Final = (
    "environment",
    "login_url",
    "api_url",
    "client_id",
    "client_id_env",
    "client_secret_env",
    "topics",
    "channel_reserve",
)
_WEBSOCKET_KEYS: Final = ("url", "echo_message", "expected_reply")
_TARGET_KEYS: Final = ("id", "kind", *_TUNABLE_KEYS, *_GENESYS_KEYS, *_WEBSOCKET_KEYS)
_TOP_KEYS: Final = (
    "window",
    "journal_path",
    "shard",
    "proxy",
    "health_listen",
    "defaults",
    "targets",
)
_LEVEL_KEYS: Final = ("warning", "critical")
_HYSTERESIS_KEYS: Final = ("raise_k", "raise_n", "clear_m")

# measure -> kind of level values
_MEASURES: Final[dict[str, str]] = {
    "rtt_control": "seconds",
    "rtt_application": "seconds",
    "jitter": "seconds",
    "stability": "ratio",
    "consecutive_timeouts": "count",
    "heartbeat_silence": "seconds",
}

_ENV_TARGET: Final[dict[str, str]] = {
    "TARGET_ID": "id",
    "KIND": "kind",
    "ENVIRONMENT": "environment",
    "LOGIN_URL": "login_url",
    "API_URL": "api_url",
    "TOPICS": "topics",
    "CHANNEL_RESERVE": "channel_reserve",
    "URL": "url",
    "ECHO_MESSAGE": "echo_message",
    "EXPECTED_REPLY": "expected_reply",
    "INTERVAL": "interval",
    "TIMEOUT": "timeout",
    "STABILITY_WINDOW": "stability_window",
    "HEARTBEAT_PERIOD": "heartbeat_period",
    "RECONNECT_MAX_DELAY": "reconnect_max_delay",
    "CONTROL_PINGS": "control_pings",
    "APPLICATION_PINGS": "application_pings",
}
_ENV_TOP: Final[dict[str, str]] = {
    "WINDOW": "window",
    "JOURNAL_PATH": "journal_path",
    "SHARD": "shard",
    "PROXY": "proxy",
    "HEALTH_LISTEN": "health_listen",
}
ENV_TARGET_VARIABLES: Final = tuple(ENV_PREFIX + k for k in _ENV_TARGET)
"""The single-target override variables (see :func:`parse_config`)."""
ENV_GLOBAL_VARIABLES: Final = tuple(ENV_PREFIX + k for k in _ENV_TOP)
"""The variables overriding top-level keys (``window``, ``journal_path``, ``shard``, ``proxy``,
``health_listen``)."""


def _env_value(key: str, text: str) -> object:
    """Convert an environment string to the type the file would hold."""
    if key == "topics":
        return [t.strip() for t in text.split(",") if t.strip()]
    if key in ("control_pings", "application_pings"):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        return text
    if key in ("stability_window", "channel_reserve"):
        return int(text) if re.fullmatch(r"\s*[0-9]{1,12}\s*", text) else text
    if key == "shard":
        m = re.fullmatch(r"\s*([0-9]{1,6})\s*/\s*([0-9]{1,6})\s*", text)
        return [int(m.group(1)), int(m.group(2))] if m else text
    return text


# ---------------------------------------------------------------------------
# Tunables: parsed per table into a flat {key: (value, path)} map, then merged
# built-in < [defaults] < target.

_Partial = dict[str, tuple[Any, str]]


def _parse_tunables(ctx: _Ctx, path: str, table: Mapping[str, Any], failed: set[str]) -> _Partial:
    """Parse the tunable keys of *table*; add keys whose value is invalid to *failed*."""
    out: _Partial = {}

    def put(key: str, val: object, p: str) -> None:
        if isinstance(val, _Bad):
            failed.add(key)
        else:
            out[key] = (val, p)

    if "interval" in table:
        p = _join(path, "interval")
        put(
            "interval",
            _p_duration(
                ctx,
                p,
                table["interval"],
                lo=MIN_INTERVAL,
                hi=MAX_INTERVAL,
                lo_rule="is below the 100 ms minimum (probing faster than that congests the gateway)",
                hi_rule="is above the 5 s maximum (the probe-frequency ceiling: "
                "a stall must be seen within seconds)",
            ),
            p,
        )
    if "timeout" in table:
        p = _join(path, "timeout")
        put(
            "timeout",
            _p_duration(ctx, p, table["timeout"], lo=0.0, hi=MAX_INTERVAL),
            p,
        )
    if "heartbeat_period" in table:
        p = _join(path, "heartbeat_period")
        put(
            "heartbeat_period",
            _p_duration(ctx, p, table["heartbeat_period"], lo=0.0, hi=MAX_HEARTBEAT_PERIOD),
            p,
        )
    if "reconnect_max_delay" in table:
        p = _join(path, "reconnect_max_delay")
        put(
            "reconnect_max_delay",
            _p_duration(
                ctx,
                p,
                table["reconnect_max_delay"],
                lo=MIN_RECONNECT_MAX_DELAY,
                hi=MAX_RECONNECT_MAX_DELAY,
                lo_rule="is below the 1 s minimum (reconnecting faster than that hammers a "
                "recovering gateway)",
                hi_rule="is above the 5 min maximum (recovery would go unnoticed for minutes)",
            ),
            p,
        )
    if "stability_window" in table:
        p = _join(path, "stability_window")
        put(
            "stability_window",
            _p_int(
                ctx,
                p,
                table["stability_window"],
                lo=MIN_STABILITY_WINDOW,
                hi=MAX_STABILITY_WINDOW,
                why=" probe slots",
            ),
            p,
        )
    for key in ("control_pings", "application_pings"):
        if key in table:
            p = _join(path, key)
            put(key, _p_bool(ctx, p, table[key]), p)
    if "thresholds" in table:
        tpath = _join(path, "thresholds")
        th = ctx.table(tpath, table["thresholds"], (*_MEASURES, "hysteresis"))
        if not isinstance(th, _Bad):
            for measure, kind in _MEASURES.items():
                if measure not in th:
                    continue
                mpath = _join(tpath, measure)
                lv = ctx.table(mpath, th[measure], _LEVEL_KEYS)
                if isinstance(lv, _Bad):
                    continue
                for level in _LEVEL_KEYS:
                    if level not in lv:
                        continue
                    lpath = _join(mpath, level)
                    raw = lv[level]
                    val: object
                    if kind == "seconds":
                        val = _p_duration(ctx, lpath, raw, lo=0.0, hi=MAX_LEVEL_SECONDS)
                    elif kind == "ratio":
                        val = _p_ratio(ctx, lpath, raw)
                    else:
                        val = _p_int(ctx, lpath, raw, lo=1, hi=MAX_COUNT_LEVEL)
                    put(f"thresholds.{measure}.{level}", val, lpath)
            if "hysteresis" in th:
                hpath = _join(tpath, "hysteresis")
                hy = ctx.table(hpath, th["hysteresis"], _HYSTERESIS_KEYS)
                if not isinstance(hy, _Bad):
                    for key in _HYSTERESIS_KEYS:
                        if key in hy:
                            kp = _join(hpath, key)
                            put(
                                f"thresholds.hysteresis.{key}",
                                _p_int(ctx, kp, hy[key], lo=1, hi=MAX_HYSTERESIS, why=" samples"),
                                kp,
                            )
    return out


_BUILTIN: Final[dict[str, Any]] = {
    "interval": 1.0,
    "stability_window": 300,
    "heartbeat_period": 30.0,
    "reconnect_max_delay": 5.0,
    "control_pings": True,
    "thresholds.rtt_control.warning": 0.150,
    "thresholds.rtt_control.critical": 0.400,
    "thresholds.rtt_application.warning": 0.150,
    "thresholds.rtt_application.critical": 0.400,
    "thresholds.jitter.warning": 0.030,
    "thresholds.jitter.critical": 0.060,
    "thresholds.stability.warning": 0.99,
    "thresholds.stability.critical": 0.975,
    "thresholds.consecutive_timeouts.warning": 1,
    "thresholds.consecutive_timeouts.critical": 2,
    "thresholds.hysteresis.raise_k": 3,
    "thresholds.hysteresis.raise_n": 5,
    "thresholds.hysteresis.clear_m": 5,
}


class _Resolved:
    """Merged tunables of one target, remembering where each value came from."""

    def __init__(self, tpath: str, defaults: _Partial, own: _Partial) -> None:
        self.tpath = tpath
        self.failed: set[str] = set()
        self.values: dict[str, Any] = dict(_BUILTIN)
        self.origin: dict[str, str | None] = dict.fromkeys(_BUILTIN)
        for src in (defaults, own):
            for k, (v, p) in src.items():
                self.values[k] = v
                self.origin[k] = p

    def given(self, key: str) -> bool:
        return self.origin.get(key) is not None

    def ok(self, *keys: str) -> bool:
        """Whether none of *keys* had an invalid value (cross-field checks skip those)."""
        return not self.failed.intersection(keys)

    def path(self, key: str) -> str:
        """The target-level path of *key* (cross-field errors are reported there)."""
        return f"{self.tpath}.{key}"

    def note(self, key: str) -> str:
        origin = self.origin.get(key)
        if origin is not None and not origin.startswith(self.tpath + "."):
            return f" (inherited from {origin})"
        return ""


# ---------------------------------------------------------------------------
# Targets


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def _derived_id(kind: str, raw: Mapping[str, Any]) -> str:
    basis = raw.get("environment") or raw.get("api_url") or raw.get("url") or ""
    if isinstance(basis, str) and "://" in basis:
        try:
            basis = urlsplit(basis).hostname or ""
        except ValueError:
            basis = ""
    slug = _slug(str(basis)) if basis else "default"
    return f"{kind}-{slug}"[:36].rstrip("-_") or "genesys-default"


def _parse_target(
    ctx: _Ctx,
    i: int,
    raw: object,
    defaults: _Partial,
    defaults_failed: set[str],
    env: Mapping[str, str],
    id_optional: bool,
) -> TargetConfig | None:
    tpath = f"targets[{i}]"
    secret_env = DEFAULT_CLIENT_SECRET_ENV
    if isinstance(raw, Mapping):
        named = raw.get("client_secret_env")
        if isinstance(named, str) and _ENV_NAME.fullmatch(named):
            secret_env = named
    table = ctx.table(tpath, raw, _TARGET_KEYS, secret_env)
    if isinstance(table, _Bad):
        return None
    n_errors = len(ctx.errors)

    # Without an explicit kind: "websocket" when there is a url and no Genesys key.
    looks_websocket = "url" in table and not any(k in table for k in _GENESYS_KEYS)
    kind_raw = table.get("kind", "websocket" if looks_websocket else "genesys")
    kind: Literal["genesys", "websocket"] | None
    if kind_raw == "genesys":
        kind = "genesys"
    elif kind_raw == "websocket":
        kind = "websocket"
    else:
        ctx.err(_join(tpath, "kind"), kind_raw, 'must be "genesys" or "websocket"')
        kind = None

    if "id" in table:
        tid_raw = table["id"]
    elif id_optional and kind is not None:
        tid_raw = _derived_id(kind, table)
    else:
        tid_raw = MISSING
    tid: str | _Bad
    if tid_raw is MISSING:
        tid = ctx.err(
            _join(tpath, "id"),
            MISSING,
            "is required (8-36 letters, digits, '_' or '-'; "
            "ids become metric attributes and journal keys)",
        )
    elif not isinstance(tid_raw, str) or not TARGET_ID_PATTERN.fullmatch(tid_raw):
        tid = ctx.err(
            _join(tpath, "id"),
            tid_raw,
            "must be 8-36 letters, digits, '_' or '-' "
            "(ids become metric attributes and journal keys)",
        )
    else:
        tid = tid_raw

    if kind is not None:
        other = _WEBSOCKET_KEYS if kind == "genesys" else _GENESYS_KEYS
        other_kind = "websocket" if kind == "genesys" else "genesys"
        for key in other:
            if key in table:
                ctx.err(
                    _join(tpath, key),
                    MISSING,
                    f'applies only to kind = "{other_kind}" targets (this one is "{kind}")',
                )

    own_failed: set[str] = set()
    own = _parse_tunables(ctx, tpath, table, own_failed)
    r = _Resolved(tpath, defaults, own)
    r.failed = (defaults_failed - own.keys()) | own_failed
    v = r.values

    interval: float = v["interval"]
    timeout: float = v.get("timeout", interval)
    if r.given("timeout") and timeout > interval and r.ok("timeout", "interval"):
        ctx.err(
            r.path("timeout"),
            timeout,
            f"is longer than the interval ({_fmt_s(interval)}): a probe must be answered "
            f"or timed out before the next is due{r.note('timeout')}",
            shown=f"{timeout:g} s",
        )
    hb: float = v["heartbeat_period"]
    for level, factor in (("warning", 2.0), ("critical", 3.0)):
        key = f"thresholds.heartbeat_silence.{level}"
        if not r.given(key):
            v[key] = hb * factor

    levels: dict[str, Levels] = {}
    for measure, mkind in _MEASURES.items():
        wk, ck = f"thresholds.{measure}.warning", f"thresholds.{measure}.critical"
        w, c = v[wk], v[ck]
        bad_order = (c >= w) if mkind == "ratio" else (w >= c)
        depends = (wk, ck, "heartbeat_period") if measure == "heartbeat_silence" else (wk, ck)
        if bad_order and r.ok(*depends):
            key = wk if r.given(wk) else ck
            fmt = _fmt_s if mkind == "seconds" else (lambda x: f"{x:g}")
            if key == wk:
                word = "above" if mkind == "ratio" else "below"
                rule = f"is not {word} the critical level ({fmt(c)})"
            else:
                word = "below" if mkind == "ratio" else "above"
                rule = f"is not {word} the warning level ({fmt(w)})"
            if mkind == "ratio":
                rule += ": lower stability is worse, so 0 < critical < warning <= 1"
            ctx.err(r.path(key), v[key], rule + r.note(key), shown=fmt(v[key]))
        levels[measure] = Levels(w, c)
    hk, hn = v["thresholds.hysteresis.raise_k"], v["thresholds.hysteresis.raise_n"]
    if hk > hn and r.ok("thresholds.hysteresis.raise_k", "thresholds.hysteresis.raise_n"):
        key = "thresholds.hysteresis.raise_k"
        if not r.given(key):
            key = "thresholds.hysteresis.raise_n"
        ctx.err(
            r.path(key),
            v[key],
            f"breaks raise_k <= raise_n (raise after k of the last n samples; k={hk}, n={hn})"
            f"{r.note(key)}",
        )

    control_pings: bool = v["control_pings"]
    genesys: GenesysSettings | None = None
    websocket: WebSocketSettings | None = None
    application_pings: bool = True
    if kind == "genesys":
        application_pings = v.get("application_pings", True)
        genesys = _parse_genesys(ctx, tpath, table, env)
    elif kind == "websocket":
        websocket, application_pings = _parse_websocket(ctx, tpath, table, r, control_pings)

    if len(ctx.errors) > n_errors or kind is None or isinstance(tid, _Bad):
        return None
    thresholds = Thresholds(
        hysteresis=Hysteresis(hk, hn, v["thresholds.hysteresis.clear_m"]), **levels
    )
    return TargetConfig(
        id=tid,
        kind=kind,
        interval=interval,
        timeout=timeout,
        stability_window=v["stability_window"],
        heartbeat_period=hb,
        reconnect_max_delay=v["reconnect_max_delay"],
        control_pings=control_pings,
        application_pings=application_pings,
        thresholds=thresholds,
        genesys=genesys,
        websocket=websocket,
    )


def _parse_genesys(
    ctx: _Ctx, tpath: str, table: Mapping[str, Any], env: Mapping[str, str]
) -> GenesysSettings | None:
    ok = True
    environment: str | None = None
    region = None
    if "environment" in table:
        e = _p_str(ctx, _join(tpath, "environment"), table["environment"], max_len=253)
        if isinstance(e, _Bad):
            ok = False
        else:
            region = find_region(e)
            environment = region.domain if region else e.strip().lower().rstrip(".")
    login_url: str | None = None
    api_url: str | None = None
    for key in ("login_url", "api_url"):
        if key in table:
            u = _p_base_url(ctx, _join(tpath, key), table[key])
            if isinstance(u, _Bad):
                ok = False
            elif key == "login_url":
                login_url = u
            else:
                api_url = u
    if region is not None:
        api_url = api_url or region.api_base
        login_url = login_url or region.login_base
    elif ok and api_url is None:
        known = [r.domain for r in REGIONS]
        if environment is not None:
            close = difflib.get_close_matches(environment, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            ctx.err(
                _join(tpath, "environment"),
                table["environment"],
                f"is not a known Genesys Cloud region domain; {hint}Known: "
                f"{', '.join(known)}. For another environment or a gateway give api_url "
                "(and login_url)",
            )
        else:
            ctx.err(
                _join(tpath, "environment"),
                MISSING,
                "is required: a region domain such as mypurecloud.com or usw2.pure.cloud, "
                "or give api_url (and login_url) explicitly",
            )
        ok = False
    if api_url is not None and login_url is None:
        login_url = api_url.replace("//api.", "//login.", 1)

    id_env = DEFAULT_CLIENT_ID_ENV
    secret_env = DEFAULT_CLIENT_SECRET_ENV
    if "client_id_env" in table:
        n = _p_env_name(ctx, _join(tpath, "client_id_env"), table["client_id_env"])
        ok = ok and not isinstance(n, _Bad)
        id_env = n if isinstance(n, str) else id_env
    if "client_secret_env" in table:
        n = _p_env_name(ctx, _join(tpath, "client_secret_env"), table["client_secret_env"])
        ok = ok and not isinstance(n, _Bad)
        secret_env = n if isinstance(n, str) else secret_env
    client_id: str | None = None
    if "client_id" in table:
        c = _p_str(ctx, _join(tpath, "client_id"), table["client_id"], max_len=256)
        if isinstance(c, _Bad):
            ok = False
        else:
            client_id = c
    else:
        client_id = env.get(id_env) or None
    secret_text = env.get(secret_env)
    client_secret = Secret(secret_text) if secret_text else None

    topics: tuple[str, ...] = ()
    if "topics" in table:
        t = _p_topics(ctx, _join(tpath, "topics"), table["topics"])
        if isinstance(t, _Bad):
            ok = False
        else:
            topics = t
    reserve = DEFAULT_CHANNEL_RESERVE
    if "channel_reserve" in table:
        cr = _p_int(
            ctx,
            _join(tpath, "channel_reserve"),
            table["channel_reserve"],
            lo=0,
            hi=CHANNEL_CAP - 2,
            why=f" (channel slots of the OAuth client left free, of {CHANNEL_CAP}; the "
            "monitor needs 2 for a rotation)",
        )
        if isinstance(cr, _Bad):
            ok = False
        else:
            reserve = cr
    if not ok or login_url is None or api_url is None:
        return None
    return GenesysSettings(
        environment=environment,
        login_url=login_url,
        api_url=api_url,
        client_id=client_id,
        client_secret=client_secret,
        topics=topics,
        client_id_env=id_env,
        client_secret_env=secret_env,
        region=region.aws_region if region else None,
        channel_reserve=reserve,
    )


def _parse_websocket(
    ctx: _Ctx, tpath: str, table: Mapping[str, Any], r: _Resolved, control_pings: bool
) -> tuple[WebSocketSettings | None, bool]:
    ok = True
    url: str | None = None
    if "url" not in table:
        ctx.err(_join(tpath, "url"), MISSING, "is required for a websocket target (a wss:// URL)")
        ok = False
    else:
        u = _p_url(ctx, _join(tpath, "url"), table["url"], secure="wss", insecure="ws")
        if isinstance(u, _Bad):
            ok = False
        else:
            url = u
    echo: str | None = None
    if "echo_message" in table:
        e = _p_message(ctx, _join(tpath, "echo_message"), table["echo_message"])
        if isinstance(e, _Bad):
            ok = False
        else:
            echo = e
    reply: str | None = None
    if "expected_reply" in table:
        e = _p_message(ctx, _join(tpath, "expected_reply"), table["expected_reply"])
        if isinstance(e, _Bad):
            ok = False
        elif "echo_message" not in table:
            ctx.err(
                _join(tpath, "expected_reply"),
                MISSING,
                "needs echo_message (the reply answers the message sent)",
            )
            ok = False
        else:
            reply = e
    if reply is None:
        reply = echo
    app_default = "echo_message" in table
    application_pings: bool = r.values.get("application_pings", app_default)
    if application_pings and "echo_message" not in table and r.ok("application_pings"):
        if r.given("application_pings"):
            ctx.err(
                r.path("application_pings"),
                True,
                "needs echo_message: a websocket target's application ping is the echo message"
                f"{r.note('application_pings')}",
            )
            ok = False
        else:
            application_pings = False
    if (
        not control_pings
        and not application_pings
        and ok
        and r.ok("control_pings", "application_pings")
    ):
        ctx.err(
            r.path("control_pings"),
            False,
            "leaves nothing to measure: enable control_pings or set echo_message"
            f"{r.note('control_pings')}",
        )
        ok = False
    if not ok or url is None:
        return None, application_pings
    return (
        WebSocketSettings(
            url=url, control_pings=control_pings, echo_message=echo, expected_reply=reply
        ),
        application_pings,
    )


# ---------------------------------------------------------------------------
# Entry points


def _apply_env(ctx: _Ctx, data: dict[str, Any], env: Mapping[str, str]) -> bool:
    """Overlay ``GENESYS_PULSE_*`` variables on *data*; return whether a target was created."""
    for suffix, key in _ENV_TOP.items():
        text = env.get(ENV_PREFIX + suffix)
        if text:
            data[key] = _env_value(key, text)
            ctx.sources[key] = ENV_PREFIX + suffix
    overrides = {
        key: (ENV_PREFIX + suffix, text)
        for suffix, key in _ENV_TARGET.items()
        if (text := env.get(ENV_PREFIX + suffix))
    }
    if not overrides:
        return False
    targets = data.get("targets", [])
    if not isinstance(targets, list):
        return False
    if len(targets) > 1:
        for var, _text in overrides.values():
            ctx.err(
                var,
                MISSING,
                f"applies only to a configuration with at most one target "
                f"(this one has {len(targets)}); set the value in the file instead",
            )
        return False
    created = not targets
    target = dict(targets[0]) if targets and isinstance(targets[0], Mapping) else {}
    if targets and not isinstance(targets[0], Mapping):
        return False
    for key, (var, text) in overrides.items():
        target[key] = _env_value(key, text)
        ctx.sources[f"targets[0].{key}"] = var
    data["targets"] = [target]
    return created


def parse_config(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> MonitorConfig:
    """Validate *data* (a parsed TOML document) and build a :class:`MonitorConfig`.

    *env* supplies credentials (``client_id_env``/``client_secret_env``) and
    the ``GENESYS_PULSE_*`` overrides; ``None`` means no environment (pass
    ``os.environ`` explicitly - this function reads nothing by itself).

    Precedence, highest first: ``GENESYS_PULSE_<FIELD>`` variables; the
    target's own keys; the ``[defaults]`` table; built-in defaults. The
    per-target variables apply to a configuration with at most one target; with
    none in *data* they create it (so a host can run from variables alone).

    Raises :class:`ConfigErrors` listing every problem found; nothing else
    escapes, whatever *data* holds.
    """
    env = env if env is not None else {}
    ctx = _Ctx()
    top = ctx.table("", data, _TOP_KEYS)
    if isinstance(top, _Bad):
        raise ConfigErrors(ctx.errors)
    created = _apply_env(ctx, top, env)

    window: float = 60.0
    if "window" in top:
        w = _p_duration(ctx, "window", top["window"], lo=1.0, hi=MAX_WINDOW)
        window = w if isinstance(w, float) else window
    journal_path: str | None = None
    if "journal_path" in top:
        j = _p_str(ctx, "journal_path", top["journal_path"], what="a file path")
        journal_path = j if isinstance(j, str) else None
    shard: tuple[int, int] | None = None
    if "shard" in top:
        s = top["shard"]
        if (
            isinstance(s, list | tuple)
            and len(s) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in s)
        ):
            if 1 <= s[1] <= 1024 and 0 <= s[0] < s[1]:
                shard = (s[0], s[1])
            else:
                ctx.err(
                    "shard",
                    MISSING,
                    f"[{_show(s[0])}, {_show(s[1])}] needs 0 <= index < count <= 1024",
                )
        else:
            ctx.err(
                "shard", s, 'must be [index, count], e.g. [0, 4] (or "0/4" from the environment)'
            )

    proxy = _p_proxy(ctx, top, env)

    health_listen: tuple[str, int] | None = None
    if "health_listen" in top:
        try:
            health_listen = parse_listen(top["health_listen"])
        except ValueError as exc:
            ctx.err("health_listen", top["health_listen"], str(exc))

    defaults: _Partial = {}
    defaults_failed: set[str] = set()
    if "defaults" in top:
        dt = ctx.table("defaults", top["defaults"], _TUNABLE_KEYS)
        if not isinstance(dt, _Bad):
            defaults = _parse_tunables(ctx, "defaults", dt, defaults_failed)

    targets_raw = top.get("targets", [])
    targets: list[TargetConfig] = []
    if not isinstance(targets_raw, list | tuple):
        ctx.err("targets", targets_raw, "must be a list of tables ([[targets]])")
    elif not targets_raw:
        ctx.err(
            "targets",
            MISSING,
            "needs at least one target: add a [[targets]] table, or set "
            "GENESYS_PULSE_ENVIRONMENT (Genesys Cloud) or GENESYS_PULSE_URL (WebSocket)",
        )
    elif len(targets_raw) > MAX_TARGETS:
        ctx.err("targets", MISSING, f"has {len(targets_raw)} targets, above {MAX_TARGETS}")
    else:
        first_seen: dict[str, int] = {}
        for i, raw in enumerate(targets_raw):
            t = _parse_target(ctx, i, raw, defaults, defaults_failed, env, id_optional=created)
            if t is None:
                continue
            if t.id in first_seen:
                ctx.err(
                    f"targets[{i}].id",
                    t.id,
                    f"duplicates targets[{first_seen[t.id]}].id (ids must be unique)",
                )
                continue
            first_seen[t.id] = i
            targets.append(t)
    if ctx.errors:
        raise ConfigErrors(ctx.errors)
    return MonitorConfig(
        targets=tuple(targets),
        window=window,
        journal_path=journal_path,
        shard=shard,
        proxy=proxy,
        health_listen=health_listen,
    )


def _p_proxy(ctx: _Ctx, top: Mapping[str, Any], env: Mapping[str, str]) -> ProxyRules | None:
    """The ``proxy`` key (``"off"`` or an ``http://host:port`` URL), else the environment's
    ``HTTPS_PROXY`` & co.; ``NO_PROXY`` applies either way (as with ``curl --proxy``).

    Credentials (``user:password@``) are accepted only from the environment
    (``GENESYS_PULSE_PROXY`` or the standard variables); no message shows them.
    """
    from genesys_pulse.core import _proxy

    if "proxy" not in top:
        try:
            rules = _proxy.proxy_rules_from_env(env)
        except ValueError as exc:
            name, _, rule = str(exc).partition(": ")
            ctx.err(name, MISSING, f"{rule} (the proxy for outgoing connections)")
            return None
        return rules if rules.https is not None or rules.http is not None else None
    raw = top["proxy"]
    if not isinstance(raw, str):
        ctx.err("proxy", raw, 'must be "off" or a proxy URL such as "http://proxy.example:3128"')
        return None
    if raw.strip().lower() in ("off", "none", "direct"):
        return _proxy.ProxyRules(source="proxy")
    try:
        url = _proxy.parse_proxy_url(raw)
    except ValueError as exc:
        ctx.err("proxy", MISSING, str(exc))
        return None
    from_env = "proxy" in ctx.sources
    if url.username is not None and not from_env:
        ctx.err(
            "proxy",
            MISSING,
            "must not carry credentials in the file: secrets come from the environment: "
            "set GENESYS_PULSE_PROXY=http://user:password@host:port (or HTTPS_PROXY)",
        )
        return None
    no = next((env[n] for n in ("no_proxy", "NO_PROXY") if env.get(n, "").strip()), "")
    return _proxy.ProxyRules(
        https=url,
        http=url,
        no_proxy=_proxy.parse_no_proxy(no),
        source=ctx.sources.get("proxy", "proxy"),
    )


_LISTEN_RULE: Final = (
    'must be "HOST:PORT" with HOST an IP address or "localhost" (IPv6 in brackets, '
    'e.g. "[::1]:9464") and 0 <= PORT <= 65535, e.g. "127.0.0.1:9464", or a bare '
    "PORT for loopback"
)


def parse_listen(value: object) -> tuple[str, int]:
    """Parse a health-endpoint address ``"HOST:PORT"`` (or ``"PORT"``: loopback) into ``(host, port)``.

    HOST must be an IP literal (IPv6 in brackets) or ``localhost``: a name
    resolved at start-up could bind somewhere unexpected. Port 0 asks the
    kernel for a free port. Raises :class:`ValueError` naming the rule.
    """
    if not isinstance(value, str):
        raise ValueError(_LISTEN_RULE)
    text = value.strip()
    if re.fullmatch(r"[0-9]{1,5}", text) and int(text) <= 65535:
        return "127.0.0.1", int(text)  # a bare port: loopback
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})|([^:\[\]]+):([0-9]{1,5})", text)
    if m is None:
        raise ValueError(_LISTEN_RULE)
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if port > 65535:
        raise ValueError(_LISTEN_RULE)
    if host != "localhost":
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(_LISTEN_RULE) from None
        if (addr.version == 6) != (m.group(1) is not None):
            raise ValueError(_LISTEN_RULE)
    return host, port


def loads_config(text: str, env: Mapping[str, str] | None = None) -> MonitorConfig:
    """Parse TOML *text* and validate it like :func:`parse_config`.

    A TOML syntax error is a :class:`ConfigErrors` whose one error has field
    ``file`` and a rule naming the line and column.
    """
    data = _parse_toml(text, lambda rule: ConfigErrors([ConfigError("file", MISSING, rule)]))
    return parse_config(data, env)


def _parse_toml(text: str, error: Callable[[str], ConfigErrors]) -> dict[str, Any]:
    """``tomllib.loads`` with every failure as one :class:`ConfigErrors` line.

    Besides syntax errors, tomllib lets Python's own limits escape: an
    integer of more than 4,300 digits (``ValueError``, CPython's int/str
    conversion limit) and arrays or inline tables nested about a thousand
    deep (``RecursionError``). A leading byte-order mark is accepted (editors
    on Windows write one).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(f"is not valid TOML: {_cap(str(e))}") from None
    except RecursionError:
        raise error(
            "is not a usable configuration: arrays or tables are nested too deeply"
        ) from None
    except ValueError:
        raise error(
            "is not a usable configuration: a number has too many digits "
            f"(more than {sys.get_int_max_str_digits() or 4300})"
        ) from None


def _cap(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _file_error(path: str, rule: str) -> ConfigErrors:
    return ConfigErrors([ConfigError("file", path, rule, shown=repr(_cap(path)))])


def load_config(
    path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> MonitorConfig:
    """Read a TOML configuration file and validate it.

    With *path* ``None`` the file named by ``GENESYS_PULSE_CONFIG`` in *env*
    is read; if that is unset too, the configuration comes from the
    ``GENESYS_PULSE_*`` variables alone. *env* ``None`` means ``os.environ``.

    Emits a :class:`ConfigWarning` (``warnings.warn``) when the file is
    readable by group or others and holds a ``client_id``.

    Raises :class:`ConfigErrors` for an unreadable file, a file over 1 MiB,
    invalid UTF-8 or TOML, and every validation problem.
    """
    if env is None:
        env = os.environ
    if path is None:
        path = env.get(CONFIG_ENV) or None
        if path is None:
            return parse_config({}, env)
    name = os.fspath(path)
    try:
        # stat first: opening a FIFO or a device could block or never end
        if not stat.S_ISREG(os.stat(name).st_mode):
            raise _file_error(name, "is not a regular file")
        with open(name, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _file_error(name, "is not a regular file")
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise _file_error(name, f"cannot be read ({e.strerror or e})") from None
    except ConfigErrors:
        raise
    except ValueError:  # e.g. an embedded NUL in the path
        raise _file_error(name, "is not a usable file name") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise _file_error(name, "is larger than 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _file_error(name, f"is not UTF-8 text (byte {e.start})") from None
    data = _parse_toml(text, lambda rule: _file_error(name, rule))
    config = parse_config(data, env)
    if os.name == "posix" and st.st_mode & 0o077 and _has_client_id(data):
        warnings.warn(
            f"{name} holds a client_id and is readable by group/others "
            f"(mode {stat.S_IMODE(st.st_mode):o}); run: chmod 600 {name}",
            ConfigWarning,
            stacklevel=2,
        )
    return config


def _has_client_id(data: Mapping[str, Any]) -> bool:
    targets = data.get("targets")
    if not isinstance(targets, list):
        return False
    return any(isinstance(t, Mapping) and "client_id" in t for t in targets)


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
