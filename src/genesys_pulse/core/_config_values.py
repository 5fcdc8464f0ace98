"""Value parsers of the configuration: one checked field at a time, every problem collected.

Each ``_p_*`` function checks one raw value (as a TOML document or an
environment variable would hold it), records a :class:`ConfigError` naming
the field in the :class:`_Ctx` on failure and returns ``_BAD``, so one pass
reports every problem. Also here: the key tables of the schema, the
``GENESYS_PULSE_*`` variable names and their conversion from text, and
:func:`parse_listen`. Pure: the environment arrives as a mapping.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from genesys_pulse.core._config_model import (
    DEFAULT_CLIENT_SECRET_ENV,
    ENV_PREFIX,
    MAX_MESSAGE_BYTES,
    MAX_TOPIC_LENGTH,
    MAX_TOPICS,
    MISSING,
    ConfigError,
    _show,
)
from genesys_pulse.core._duration import parse_duration

_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_TOPIC = re.compile(r"\A[\x21-\x7e]+\Z")

# ---------------------------------------------------------------------------
# Value parsers. Each records its own errors and returns _BAD on failure.


class _Bad:
    pass


_BAD: Final = _Bad()


def _fmt_s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    return f"{seconds:g} s"


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
