"""Property-based tests of configuration parsing (hypothesis).

Together these run more than 10,000 generated configurations (see the
``max_examples`` on each test). To keep that cheap they work on dicts and
strings, never on files, and the structured generators build a configuration
from one hypothesis-drawn ``random.Random`` (plain Python calls, fast) rather
than from hundreds of individual draws; a failure still reproduces, and the
failing input is printed in full.

Properties:

* every generated valid configuration parses, and the result reflects it;
* changing one field of a valid configuration to an invalid value yields
  exactly one error, naming exactly that field;
* nothing but :class:`ConfigError` escapes, whatever the input (dicts, TOML
  text, environment variables);
* a secret never appears in the ``str``/``repr`` of a configuration, of an
  error, or in the redacted view.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_pulse.core._regions import REGIONS
from genesys_pulse.core.config import (
    ConfigError,
    ConfigErrors,
    MonitorConfig,
    loads_config,
    parse_config,
    redacted,
)

SECRET = "PROPERTY-secret-9b7e2d51"
ENV = {"GENESYS_CLOUD_CLIENT_SECRET": SECRET, "ALT_SECRET": SECRET}

FAST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
RNG = st.randoms(use_true_random=True)

# ---------------------------------------------------------------------------
# Valid configurations

ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
HOSTS = ["example.org", "ws.example.com", "10.1.2.3", "gw.internal"]
LOOPBACK = ["127.0.0.1", "localhost", "[::1]"]
PATHS = ["", "ws", "a/b/c", "echo", "v1/stream?x=1"]
MESSAGE_CHARS = 'abc XYZ{}:"123é✓\t'


def ms_value(rng: random.Random, ms: int) -> object:
    """The same duration written in one of the ways a user may write it."""
    return rng.choice([f"{ms}ms", ms / 1000, f"{ms / 1000}s", f"{ms / 1000:g}"])


def text(rng: random.Random, chars: str, lo: int, hi: int) -> str:
    return "".join(rng.choice(chars) for _ in range(rng.randint(lo, hi)))


def levels_seconds(rng: random.Random, hi_ms: int = 2000) -> dict[str, object]:
    w = rng.randint(1, hi_ms - 1)
    c = rng.randint(w + 1, hi_ms)
    return {"warning": ms_value(rng, w), "critical": ms_value(rng, c)}


def thresholds(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for measure in ("rtt_control", "rtt_application", "jitter"):
        if rng.random() < 0.5:
            out[measure] = levels_seconds(rng)
    if rng.random() < 0.5:
        c = rng.randint(1, 998)
        w = rng.randint(c + 1, 1000)
        out["stability"] = {"warning": w / 1000, "critical": rng.choice([c / 1000, f"{c / 10}%"])}
    if rng.random() < 0.5:
        w = rng.randint(1, 9)
        out["consecutive_timeouts"] = {"warning": w, "critical": rng.randint(w + 1, 10)}
    if rng.random() < 0.5:
        n = rng.randint(1, 20)
        out["hysteresis"] = {
            "raise_k": rng.randint(1, n),
            "raise_n": n,
            "clear_m": rng.randint(1, 20),
        }
    return out


def target(rng: random.Random, index: int) -> dict[str, Any]:
    kind = rng.choice(["genesys", "websocket"])
    t: dict[str, Any] = {"id": f"t{index:03d}" + text(rng, ID_CHARS, 4, 32)}
    if kind == "websocket" or rng.random() < 0.5:
        t["kind"] = kind  # "genesys" is inferred when absent
    interval_ms = rng.randint(100, 5000)
    if rng.random() < 0.6:
        t["interval"] = ms_value(rng, interval_ms)
        if rng.random() < 0.5:
            t["timeout"] = ms_value(rng, rng.randint(1, interval_ms))
    if rng.random() < 0.3:
        t["stability_window"] = rng.randint(10, 86_400)
    if rng.random() < 0.3:
        t["heartbeat_period"] = ms_value(rng, rng.randint(1000, 120_000))
    if rng.random() < 0.5:
        t["thresholds"] = thresholds(rng)
    for key in ("control_pings", "application_pings"):
        if kind == "genesys" and rng.random() < 0.2:
            t[key] = rng.random() < 0.5
    if kind == "genesys":
        how = rng.choice(["region", "alias", "urls", "emulator"])
        if how == "region":
            t["environment"] = rng.choice(REGIONS).domain
        elif how == "alias":
            r = rng.choice(REGIONS)
            t["environment"] = rng.choice([r.name, r.aws_region, r.domain.upper()])
        elif how == "urls":
            t["environment"] = "inindca.com"
            t["api_url"] = "https://api.inindca.com"
            t["login_url"] = "https://login.inindca.com/"
        else:
            t["api_url"] = f"http://{rng.choice(LOOPBACK)}:{rng.randint(1, 65535)}"
        if rng.random() < 0.5:
            t["client_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        if rng.random() < 0.3:
            t["client_secret_env"] = "ALT_SECRET"
        if rng.random() < 0.5:
            t["topics"] = [
                f"v2.users.{uuid.UUID(int=rng.getrandbits(128))}.presence"
                for _ in range(rng.randint(0, 5))
            ]
    else:
        if rng.random() < 0.5:
            t["url"] = f"wss://{rng.choice(HOSTS)}/{rng.choice(PATHS)}"
        else:
            t["url"] = f"ws://{rng.choice(LOOPBACK)}:{rng.randint(1, 65535)}/echo"
        if rng.random() < 0.6:
            t["echo_message"] = text(rng, MESSAGE_CHARS, 1, 30)
            if rng.random() < 0.5:
                t["expected_reply"] = text(rng, MESSAGE_CHARS, 1, 30)
            if rng.random() < 0.3:
                t["control_pings"] = False
    return t


def valid_config(rng: random.Random) -> dict[str, Any]:
    data: dict[str, Any] = {"targets": [target(rng, i) for i in range(rng.randint(1, 4))]}
    if rng.random() < 0.3:
        data["window"] = rng.choice(["60s", 30, "1m", "5s", 3600, "1h"])
    if rng.random() < 0.3:
        data["defaults"] = {"thresholds": thresholds(rng)}
        if rng.random() < 0.5:
            data["defaults"]["interval"] = "5s"  # >= every generated timeout
    if rng.random() < 0.2:
        count = rng.randint(1, 8)
        data["shard"] = [rng.randint(0, count - 1), count]
    if rng.random() < 0.2:
        data["journal_path"] = "/var/lib/genesys-pulse/audit.journal"
    return data


def check_valid(data: dict[str, Any], cfg: MonitorConfig) -> None:
    assert [t.id for t in cfg.targets] == [t["id"] for t in data["targets"]]
    for raw, t in zip(data["targets"], cfg.targets, strict=True):
        assert t.kind == raw.get("kind", "genesys")
        assert 0.1 <= t.interval <= 5.0
        assert 0 < t.timeout <= t.interval
        th = t.thresholds
        for lv in (
            th.rtt_control,
            th.rtt_application,
            th.jitter,
            th.consecutive_timeouts,
            th.heartbeat_silence,
        ):
            assert 0 < lv.warning < lv.critical
        assert 0 < th.stability.critical < th.stability.warning <= 1
        assert th.hysteresis.raise_k <= th.hysteresis.raise_n
        if t.kind == "genesys":
            assert t.genesys is not None and t.websocket is None
            assert t.genesys.client_secret is not None
            assert t.genesys.api_url.startswith(("https://", "http://"))
            assert not t.genesys.api_url.endswith("/")
            assert t.genesys.topics == tuple(raw.get("topics", ()))
        else:
            assert t.websocket is not None and t.genesys is None
            assert t.control_pings or t.application_pings
            assert t.application_pings == ("echo_message" in raw)


@settings(FAST, max_examples=3000)
@given(RNG)
def test_valid_configs_parse(rng: random.Random) -> None:
    data = valid_config(rng)
    snapshot = copy.deepcopy(data)
    cfg = parse_config(data, ENV)
    assert data == snapshot  # the input is not modified
    check_valid(data, cfg)
    assert SECRET not in repr(cfg) + str(cfg) + json.dumps(redacted(cfg))


# ---------------------------------------------------------------------------
# One invalid field -> exactly one error naming it


def _ms(value: object) -> int:
    """Milliseconds of a generated duration value."""
    s = str(value)
    if s.endswith("ms"):
        return int(s[:-2])
    return round(float(s.removesuffix("s")) * 1000)


def mutate(rng: random.Random, data: dict[str, Any]) -> str | None:
    """Make one field of *data* invalid; return its path (None: not applicable here)."""
    targets = data["targets"]
    i = rng.randrange(len(targets))
    t = targets[i]
    p = f"targets[{i}]"
    g = t.get("kind", "genesys") == "genesys"
    th = t.setdefault("thresholds", {}) if rng.random() < 0.5 else None
    m = rng.randrange(26)
    if m == 0:
        t["id"] = rng.choice(["short", "x" * 37, "bad id here", "ünïcode-id", 12345678, None])
        return f"{p}.id"
    if m == 1:
        if len(targets) < 2:
            return None
        j = rng.randrange(1, len(targets))
        targets[j]["id"] = targets[j - 1]["id"]
        return f"targets[{j}].id"
    if m == 2:
        t["interval"] = rng.choice(
            ["99ms", 0.0999, "5001ms", 6, "-1s", "fast", True, 0, [], 10**400]
        )
        return f"{p}.interval"
    if m == 3:
        t["timeout"] = rng.choice([0, "0ms", -0.5, "never", False, float("nan")])
        return f"{p}.timeout"
    if m == 4:
        interval = t.setdefault("interval", "1s")
        t["timeout"] = f"{_ms(interval) + rng.randint(1, 3000)}ms"
        return f"{p}.timeout"
    if m == 5:
        t["stability_window"] = rng.choice([0, 9, 86_401, 3.5, "300", True])
        return f"{p}.stability_window"
    if m == 6:
        t["heartbeat_period"] = rng.choice([0, "0s", "2h", "soon", float("inf")])
        return f"{p}.heartbeat_period"
    if m == 7:
        measure = rng.choice(["rtt_control", "rtt_application", "jitter", "heartbeat_silence"])
        level = rng.choice(["warning", "critical"])
        th = t.setdefault("thresholds", {})
        th.setdefault(measure, {})[level] = rng.choice([0, "0ms", -1, "2h", "x", True, {}])
        return f"{p}.thresholds.{measure}.{level}"
    if m == 8:
        measure = rng.choice(["rtt_control", "rtt_application", "jitter"])
        t.setdefault("thresholds", {}).setdefault(measure, {})["warning"] = "3600s"
        return f"{p}.thresholds.{measure}.warning"
    if m == 9:
        level = rng.choice(["warning", "critical"])
        t.setdefault("thresholds", {}).setdefault("stability", {})[level] = rng.choice(
            [0, 1.01, -0.5, "120%", "high", "0%"]
        )
        return f"{p}.thresholds.stability.{level}"
    if m == 10:
        level = rng.choice(["warning", "critical"])
        t.setdefault("thresholds", {}).setdefault("consecutive_timeouts", {})[level] = rng.choice(
            [0, -1, 1.5, 1001, "2"]
        )
        return f"{p}.thresholds.consecutive_timeouts.{level}"
    if m == 11:
        hy = t.setdefault("thresholds", {}).setdefault("hysteresis", {})
        hy["raise_k"] = 999  # every generated raise_n (own, inherited or built-in) is <= 20
        return f"{p}.thresholds.hysteresis.raise_k"
    if m == 12:
        key = rng.choice(["intervall", "timout", "threshold", "envirnoment", "zzz", "a.b"])
        t[key] = 1
        return f'{p}."a.b"' if key == "a.b" else f"{p}.{key}"
    if m == 13:
        t["client_secret"] = SECRET
        return f"{p}.client_secret"
    if m == 14:
        key = (
            "control_pings"
            if not g and "echo_message" not in t
            else rng.choice(["control_pings", "application_pings"])
        )
        t[key] = rng.choice(["true", 1, 0, None])
        return f"{p}.{key}"
    if m == 15:
        data["window"] = rng.choice([0, "500ms", "2d", "25h", None])
        return "window"
    if m == 16:
        t["kind"] = rng.choice(["http", "", None, 1, "Genesys"])
        return f"{p}.kind"
    if m == 17:
        if not g:
            return None
        if "api_url" not in t:
            t["environment"] = rng.choice(["mypurecloud.example", "usw3.pure.cloud"])
        else:
            t["environment"] = rng.choice([42, "", ["mypurecloud.com"]])
        return f"{p}.environment"
    if m == 18:
        if not g:
            return None
        key = rng.choice(["api_url", "login_url"])
        t[key] = rng.choice(
            ["http://api.example.com", "ftp://x.example", "https://u:p@api.example.com",
             "api.example.com", "https://", "https://x.example/?q=1", 7, "https://h:0"]
        )  # fmt: skip
        return f"{p}.{key}"
    if m == 19:
        if not g:
            return None
        t["topics"] = rng.choice(["v2.a", [f"v2.x{i}" for i in range(1001)], {"a": 1}])
        return f"{p}.topics"
    if m == 20:
        if not g:
            return None
        t["topics"] = ["v2.ok", rng.choice(["", "has space", "v2." + "y" * 200, 5, "v2.ok"])]
        return f"{p}.topics[1]"
    if m == 21:
        if not g:
            return None
        key = rng.choice(["client_id_env", "client_secret_env"])
        t[key] = rng.choice(["1ABC", "A-B", "", 3])
        return f"{p}.{key}"
    if m == 22:
        if g:
            return None
        t["url"] = rng.choice(["ws://example.org/", "http://127.0.0.1/", "wss://", "wss://a b", 5])
        return f"{p}.url"
    if m == 23:
        if g:
            return None
        key = rng.choice(["echo_message", "expected_reply"])
        t.setdefault("echo_message", "ping")
        t[key] = rng.choice(["", "x" * 65_537, 3, "\ud800"])
        return f"{p}.{key}"
    if m == 24:
        key = rng.choice(["url", "echo_message"] if g else ["environment", "topics", "client_id"])
        t[key] = "x"
        return f"{p}.{key}"
    data.setdefault("defaults", {})["thresholds"] = rng.choice(["x", [], 5])
    return "defaults.thresholds"


@settings(FAST, max_examples=4000)
@given(RNG)
def test_one_invalid_field_is_named_exactly(rng: random.Random) -> None:
    data = valid_config(rng)
    field = mutate(rng, data)
    if field is None:  # that mutation does not apply to this target's kind
        check_valid(data, parse_config(data, ENV))
        return
    try:
        parse_config(data, ENV)
    except ConfigErrors as e:
        assert [x.field for x in e.errors] == [field], [str(x) for x in e.errors]
        for x in (e, *e.errors):
            assert SECRET not in str(x) and SECRET not in repr(x) and SECRET not in repr(x.value)
    else:
        raise AssertionError(f"no error for {field}: {data}")


# ---------------------------------------------------------------------------
# Arbitrary input: only ConfigError escapes

KEY_NAMES = [
    "targets", "defaults", "window", "shard", "journal_path", "id", "kind", "interval", "timeout",
    "thresholds", "rtt_control", "jitter", "stability", "consecutive_timeouts", "hysteresis",
    "heartbeat_silence", "warning", "critical", "raise_k", "raise_n", "clear_m", "environment",
    "api_url", "login_url", "url", "topics", "echo_message", "expected_reply", "client_id",
    "client_id_env", "client_secret_env", "client_secret", "control_pings", "application_pings",
    "stability_window", "heartbeat_period", "", "a.b", "ünï",
]  # fmt: skip
SCALAR_VALUES: list[object] = [
    None, True, False, 0, -1, 1, 7, 10**30, -(10**400), 0.0, -0.0, 1e308, float("inf"),
    float("nan"), "", "1s", "250ms", "99ms", "5001ms", "wss://example.org", "ws://example.org",
    "mypurecloud.com", "ws://127.0.0.1:1", "http://localhost:1", "https://[::1", "target-0001",
    "genesys", "websocket", "99%", "nan%", "v2.x", "\ud800", "x" * 70_000, "1/2",
]  # fmt: skip


def arbitrary(rng: random.Random, depth: int = 0) -> object:
    r = rng.random()
    if r < 0.01:
        return 10**5000  # too large even to print (int to str conversion limit)
    if depth < 4 and r < 0.25:
        return {rng.choice(KEY_NAMES): arbitrary(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if depth < 4 and r < 0.35:
        return [arbitrary(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.4:
        return rng.randint(-(2**70), 2**70)
    return rng.choice(SCALAR_VALUES)


def near_valid(rng: random.Random) -> object:
    """A valid config with random subtrees replaced by arbitrary values."""
    data: Any = valid_config(rng)
    for _ in range(rng.randint(1, 4)):
        node = data
        for _depth in range(rng.randint(0, 3)):
            if isinstance(node, dict) and node:
                child = node[rng.choice(sorted(node))]
                if isinstance(child, dict | list) and child:
                    node = child
            elif isinstance(node, list) and node:
                child = node[rng.randrange(len(node))]
                if isinstance(child, dict | list) and child:
                    node = child
        if isinstance(node, dict):
            node[rng.choice(KEY_NAMES)] = arbitrary(rng, 2)
        elif isinstance(node, list) and node:
            node[rng.randrange(len(node))] = arbitrary(rng, 2)
    return data


ENV_NAMES = [
    "GENESYS_PULSE_ENVIRONMENT", "GENESYS_PULSE_INTERVAL", "GENESYS_PULSE_TOPICS",
    "GENESYS_PULSE_URL", "GENESYS_PULSE_SHARD", "GENESYS_PULSE_TARGET_ID", "GENESYS_PULSE_KIND",
    "GENESYS_PULSE_STABILITY_WINDOW", "GENESYS_PULSE_CONTROL_PINGS", "GENESYS_PULSE_WINDOW",
    "GENESYS_PULSE_API_URL", "GENESYS_PULSE_ECHO_MESSAGE", "GENESYS_PULSE_JOURNAL_PATH",
]  # fmt: skip
ENV_VALUES = [
    "1s", "mypurecloud.com", "wss://e.org", "1/2", "x", "", "0", "true", "v2.a,v2.b", "ü", "²",
    "9" * 5000, "1/" + "9" * 5000, "300", " 42 ", "٣",
]  # fmt: skip


@settings(FAST, max_examples=3000)
@given(RNG)
def test_nothing_but_config_error_escapes(rng: random.Random) -> None:
    data = near_valid(rng) if rng.random() < 0.6 else arbitrary(rng)
    env = {rng.choice(ENV_NAMES): rng.choice(ENV_VALUES) for _ in range(rng.randint(0, 3))}
    env["GENESYS_CLOUD_CLIENT_SECRET"] = SECRET
    try:
        cfg = parse_config(data, env)  # type: ignore[arg-type]
    except ConfigErrors as e:
        assert e.errors
        for x in e.errors:
            assert isinstance(x, ConfigError) and x.field and x.rule
            assert SECRET not in str(x)
    else:
        assert cfg.targets
        assert SECRET not in repr(cfg) and SECRET not in json.dumps(redacted(cfg))


# Pure hypothesis strategies too, for the shrinker's benefit on small inputs.
ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
    | st.sampled_from(SCALAR_VALUES[:-2]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(KEY_NAMES) | st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(FAST, max_examples=500)
@given(ANY)
def test_nothing_but_config_error_escapes_shrinkable(data: object) -> None:
    try:
        parse_config(data, ENV)  # type: ignore[arg-type]
    except ConfigErrors as e:
        assert all(x.field and x.rule for x in e.errors)


TOML_PIECES = [
    "[[targets]]\n", "[defaults]\n", "[targets.thresholds.jitter]\n", 'id = "target-0001"\n',
    'environment = "mypurecloud.com"\n', 'interval = "1s"\n', "interval = 0.05\n",
    'url = "wss://example.org"\n', "warning = 1\n", "critical = 0\n", 'window = "60s"\n',
    "topics = [1, 2]\n", "x = [\n", '"\n', "= 3\n", "a.b.c = 1\n", "client_secret = 'zz'\n",
    "shard = [0, 2]\n", "timeout = inf\n", "stability_window = 99999999999999999999999\n",
    "kind = 'websocket'\n", "echo_message = '''\nping'''\n", "[targets.thresholds]\n", "é", "\x00",
]  # fmt: skip


@settings(FAST, max_examples=1000)
@given(RNG)
def test_arbitrary_toml_text(rng: random.Random) -> None:
    source = "".join(rng.choice(TOML_PIECES) for _ in range(rng.randint(0, 14)))
    try:
        loads_config(source, ENV)
    except ConfigErrors as e:
        assert all(x.field and x.rule for x in e.errors)
