"""Targets of the configuration: tunables, inheritance from ``[defaults]`` and cross-field rules.

A target's tunables (interval, timeout, thresholds, ...) are parsed per table
into a flat ``{key: (value, path)}`` map and merged built-in < ``[defaults]``
< target, remembering where each value came from, so a cross-field error
(a timeout longer than the interval) names the key the user wrote and says
when it was inherited. Then the kind-specific part: Genesys Cloud (region,
URLs, credentials from the environment mapping) or a plain WebSocket.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from genesys_pulse.core._config_model import (
    CHANNEL_CAP,
    DEFAULT_CHANNEL_RESERVE,
    DEFAULT_CLIENT_ID_ENV,
    DEFAULT_CLIENT_SECRET_ENV,
    MAX_COUNT_LEVEL,
    MAX_HEARTBEAT_PERIOD,
    MAX_HYSTERESIS,
    MAX_INTERVAL,
    MAX_LEVEL_SECONDS,
    MAX_RECONNECT_MAX_DELAY,
    MAX_STABILITY_WINDOW,
    MIN_INTERVAL,
    MIN_RECONNECT_MAX_DELAY,
    MIN_STABILITY_WINDOW,
    MISSING,
    TARGET_ID_PATTERN,
    GenesysSettings,
    Hysteresis,
    Levels,
    Secret,
    TargetConfig,
    Thresholds,
    WebSocketSettings,
)
from genesys_pulse.core._config_values import (
    _ENV_NAME,
    _GENESYS_KEYS,
    _HYSTERESIS_KEYS,
    _LEVEL_KEYS,
    _MEASURES,
    _TARGET_KEYS,
    _WEBSOCKET_KEYS,
    _Bad,
    _Ctx,
    _fmt_s,
    _join,
    _p_base_url,
    _p_bool,
    _p_duration,
    _p_env_name,
    _p_int,
    _p_message,
    _p_ratio,
    _p_str,
    _p_topics,
    _p_url,
)
from genesys_pulse.core._regions import REGIONS, find_region

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
