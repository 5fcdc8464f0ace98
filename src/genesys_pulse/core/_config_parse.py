"""The configuration entry points on plain data: :func:`parse_config` and :func:`loads_config`.

:func:`parse_config` validates a mapping (a parsed TOML document) with an
explicit environment mapping laid over it; :func:`loads_config` parses TOML
text first (:func:`parse_toml`). Neither reads a file or ``os.environ``:
:func:`genesys_pulse.config_sources.load_config` does that and calls these.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping
from typing import Any

from genesys_pulse.core._config_model import (
    ENV_PREFIX,
    MAX_TARGETS,
    MAX_WINDOW,
    MISSING,
    ConfigError,
    ConfigErrors,
    MonitorConfig,
    TargetConfig,
    _show,
)
from genesys_pulse.core._config_targets import _parse_target, _parse_tunables, _Partial
from genesys_pulse.core._config_values import (
    _ENV_TARGET,
    _ENV_TOP,
    _TOP_KEYS,
    _TUNABLE_KEYS,
    _Bad,
    _Ctx,
    _env_value,
    _p_duration,
    _p_str,
    parse_listen,
)
from genesys_pulse.core._proxy import (
    ProxyRules,
    parse_no_proxy,
    parse_proxy_url,
    proxy_rules_from_env,
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
    if "proxy" not in top:
        try:
            rules = proxy_rules_from_env(env)
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
        return ProxyRules(source="proxy")
    try:
        url = parse_proxy_url(raw)
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
    return ProxyRules(
        https=url,
        http=url,
        no_proxy=parse_no_proxy(no),
        source=ctx.sources.get("proxy", "proxy"),
    )


def loads_config(text: str, env: Mapping[str, str] | None = None) -> MonitorConfig:
    """Parse TOML *text* and validate it like :func:`parse_config`.

    A TOML syntax error is a :class:`ConfigErrors` whose one error has field
    ``file`` and a rule naming the line and column.
    """
    return parse_config(parse_toml(text), env)


def parse_toml(text: str, *, source: str | None = None) -> dict[str, Any]:
    """``tomllib.loads`` with every failure as one :class:`ConfigErrors` line.

    The error's field is ``file``; with *source* (the file's name, for the
    file reader) the error also shows that name, as
    :func:`config_file_error` does.

    Besides syntax errors, tomllib lets Python's own limits escape: an
    integer of more than 4,300 digits (``ValueError``, CPython's int/str
    conversion limit) and arrays or inline tables nested about a thousand
    deep (``RecursionError``). A leading byte-order mark is accepted (editors
    on Windows write one).
    """

    def error(rule: str) -> ConfigErrors:
        if source is None:
            return ConfigErrors([ConfigError("file", MISSING, rule)])
        return config_file_error(source, rule)

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


def config_file_error(path: str, rule: str) -> ConfigErrors:
    """A :class:`ConfigErrors` about the configuration file *path* itself (field ``file``)."""
    return ConfigErrors([ConfigError("file", path, rule, shown=repr(_cap(path)))])
