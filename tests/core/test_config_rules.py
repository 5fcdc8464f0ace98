"""One test per validation rule: each invalid value is reported at exactly its field."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from genesys_pulse.core.config import ConfigError, ConfigErrors, loads_config, parse_config

BASE: dict[str, Any] = {
    "window": "60s",
    "defaults": {"interval": "1s"},
    "targets": [
        {
            "id": "prod-us-east",
            "kind": "genesys",
            "environment": "mypurecloud.com",
            "client_id": "abc-123",
            "topics": ["v2.analytics.queues.q1.observations"],
            "interval": "1s",
            "timeout": "500ms",
            "thresholds": {
                "rtt_application": {"warning": "150ms", "critical": "400ms"},
                "stability": {"warning": 0.99, "critical": 0.975},
                "consecutive_timeouts": {"warning": 1, "critical": 2},
                "hysteresis": {"raise_k": 3, "raise_n": 5, "clear_m": 5},
            },
        },
        {
            "id": "echo-test-1",
            "kind": "websocket",
            "url": "wss://example.org/ws",
            "echo_message": "ping",
            "expected_reply": "pong",
        },
    ],
}

_STEP = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?")


def mutate(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """Return a copy of *data* with the dotted *path* set to *value*."""
    out = copy.deepcopy(data)
    node: Any = out
    steps = path.split(".")
    for n, step in enumerate(steps):
        m = _STEP.fullmatch(step)
        assert m is not None, step
        key, index = m.group(1), m.group(2)
        last = n == len(steps) - 1
        if index is not None:
            node = node[key][int(index)]
            assert not last
        elif last:
            node[key] = value
        else:
            node = node.setdefault(key, {})
    return out


def errors_of(data: object, env: dict[str, str] | None = None) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as ei:
        parse_config(data, env)  # type: ignore[arg-type]
    return ei.value.errors


def test_base_is_valid() -> None:
    cfg = parse_config(BASE)
    assert [t.id for t in cfg.targets] == ["prod-us-east", "echo-test-1"]


T0 = "targets[0]"
T1 = "targets[1]"

# (field to set, value, fragment of the rule)
CASES: list[tuple[str, object, str]] = [
    # target ids: metric attributes and journal keys
    (f"{T0}.id", "short", "8-36 letters"),
    (f"{T0}.id", "x" * 37, "8-36 letters"),
    (f"{T0}.id", "has space!", "8-36 letters"),
    (f"{T0}.id", 12345678, "8-36 letters"),
    (f"{T1}.id", "prod-us-east", "duplicates targets[0].id"),
    (f"{T0}.kind", "http", '"genesys" or "websocket"'),
    # interval: the seed's 100 ms congestion floor and 5 s probe-frequency ceiling
    (f"{T0}.interval", "99ms", "100 ms minimum"),
    (f"{T0}.interval", 0.05, "100 ms minimum"),
    (f"{T0}.interval", "5.001s", "5 s maximum"),
    (f"{T0}.interval", "soon", "not a duration"),
    (f"{T0}.interval", True, "boolean"),
    (f"{T0}.interval", 0, "greater than zero"),
    ("defaults.interval", "20s", "5 s maximum"),
    # timeout
    (f"{T0}.timeout", "1.5s", "longer than the interval"),
    (f"{T0}.timeout", 0, "greater than zero"),
    (f"{T0}.timeout", -1, "non-negative"),
    (f"{T0}.heartbeat_period", 0, "greater than zero"),
    (f"{T0}.heartbeat_period", "2h", "maximum"),
    (f"{T0}.reconnect_max_delay", "500ms", "1 s minimum"),
    (f"{T0}.reconnect_max_delay", "10min", "5 min maximum"),
    (f"{T0}.reconnect_max_delay", -1, "non-negative"),
    (f"{T0}.stability_window", 5, "between 10 and"),
    (f"{T0}.stability_window", 10**6, "between 10 and"),
    (f"{T0}.stability_window", 30.5, "whole number"),
    (f"{T0}.control_pings", "yes", "true or false"),
    # thresholds: positive, ordered
    (f"{T0}.thresholds.rtt_application.warning", 0, "greater than zero"),
    (f"{T0}.thresholds.rtt_application.warning", "500ms", "not below the critical level"),
    (f"{T0}.thresholds.rtt_application.critical", "2h", "maximum"),
    (f"{T0}.thresholds.jitter.warning", "70ms", "not below the critical level (60 ms)"),
    (f"{T0}.thresholds.jitter.critical", "20ms", "not above the warning level (30 ms)"),
    (f"{T0}.thresholds.rtt_control.warning", -0.1, "non-negative"),
    (f"{T0}.thresholds.heartbeat_silence.warning", "2m", "not below the critical level"),
    (f"{T0}.thresholds.stability.warning", 0.97, "not above the critical level"),
    (f"{T0}.thresholds.stability.critical", 0, "above 0 and at most 1"),
    (f"{T0}.thresholds.stability.warning", 1.5, "above 0 and at most 1"),
    (f"{T0}.thresholds.stability.warning", "high", "not a ratio"),
    (f"{T0}.thresholds.consecutive_timeouts.warning", 2, "not below the critical level"),
    (f"{T0}.thresholds.consecutive_timeouts.critical", 0, "between 1 and"),
    (f"{T0}.thresholds.hysteresis.raise_k", 6, "raise_k <= raise_n"),
    (f"{T0}.thresholds.hysteresis.clear_m", 0, "between 1 and"),
    (f"{T0}.thresholds.jitter", "30ms", "must be a table"),
    (f"{T0}.thresholds.latency", {"warning": 1}, "not a known key"),
    (f"{T0}.thresholds.jitter.warn", "1ms", "did you mean 'warning'"),
    # Genesys settings
    (f"{T0}.environment", "mypurecloud.co", "did you mean 'mypurecloud.com'"),
    (f"{T0}.environment", 42, "must be a string"),
    (f"{T0}.api_url", "http://api.example.com", "unencrypted http://"),
    (f"{T0}.login_url", "ftp://login.example.com", "https:// URL"),
    (f"{T0}.login_url", "https://user:pw@login.example.com", "must not carry credentials"),
    (f"{T0}.api_url", "https://api.example.com/?a=1", "?query"),
    (f"{T0}.api_url", "https://", "has no host"),
    (f"{T0}.api_url", "https://h:99999", "not a valid URL"),
    (f"{T0}.client_id", "", "must not be empty"),
    (f"{T0}.client_id", "a\nb", "control characters"),
    (f"{T0}.client_id_env", "1BAD", "environment variable name"),
    (f"{T0}.client_secret_env", "A-B", "environment variable name"),
    (f"{T0}.topics", "v2.a", "list of topic names"),
    (f"{T0}.topics", [f"v2.t{i}" for i in range(1001)], "above the 1000 maximum"),
    (f"{T0}.topics", [f"v2.{i:04d}." + "x" * 190 for i in range(400)], "64 KiB"),
    (f"{T0}.url", "wss://example.org", 'applies only to kind = "websocket"'),
    (f"{T0}.client_secret", "hunter2hunter2", "secrets come from the environment"),
    (f"{T0}.intervall", "1s", "did you mean 'interval'"),
    # WebSocket settings
    (f"{T1}.url", "ws://example.org/ws", "unencrypted ws://"),
    (f"{T1}.url", "https://example.org/ws", "wss:// URL"),
    (f"{T1}.url", "wss://exa mple.org", "must not contain spaces"),
    (f"{T1}.echo_message", "x" * (64 * 1024 + 1), "64 KiB maximum outgoing message"),
    (f"{T1}.echo_message", "é" * (32 * 1024 + 1), "64 KiB maximum outgoing message"),
    (f"{T1}.echo_message", "", "must not be empty"),
    (f"{T1}.expected_reply", 7, "must be a string"),
    (f"{T1}.topics", ["v2.a"], 'applies only to kind = "genesys"'),
    # top level
    ("window", "0.5s", "minimum"),
    ("window", "2d", "not a duration"),
    ("journal_path", "", "must not be empty"),
    ("journal_path", 3, "must be a string"),
    ("shard", [4, 4], "0 <= index < count"),
    ("shard", "0/4", "[index, count]"),
    ("targets", [], "at least one target"),
    ("targets", {"id": "x"}, "list of tables"),
    ("defaults", [], "must be a table"),
    ("defaults.url", "wss://x", "not a known key"),
    ("windw", "60s", "did you mean 'window'"),
]


@pytest.mark.parametrize(("field", "value", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_rule_names_its_field(field: str, value: object, fragment: str) -> None:
    errors = errors_of(mutate(BASE, field, value))
    assert [e.field for e in errors] == [field], [str(e) for e in errors]
    (e,) = errors
    assert fragment in e.rule or fragment in str(e), str(e)
    assert str(e).startswith(f"{field}: ")


def test_topic_entries_are_named_by_index() -> None:
    for topic, fragment in [("", "non-empty"), ("v2 a", "printable"), ("v2." + "a" * 200, "200")]:
        errors = errors_of(mutate(BASE, f"{T0}.topics", ["v2.ok", topic]))
        assert [e.field for e in errors] == [f"{T0}.topics[1]"]
        assert fragment in str(errors[0])
    errors = errors_of(mutate(BASE, f"{T0}.topics", ["v2.ok", "v2.ok"]))
    assert [e.field for e in errors] == [f"{T0}.topics[1]"] and "twice" in errors[0].rule


@pytest.mark.parametrize(
    "url", ["ws://localhost:8765/x", "ws://127.0.0.1:1/", "ws://[::1]:9/", "ws://127.8.9.10/"]
)
def test_plain_ws_allowed_on_loopback(url: str) -> None:
    cfg = parse_config(mutate(BASE, f"{T1}.url", url))
    ws = cfg.targets[1].websocket
    assert ws is not None and ws.url == url


def test_plain_http_allowed_on_loopback_only() -> None:
    parse_config(mutate(BASE, f"{T0}.api_url", "http://127.0.0.1:8080"))
    errors = errors_of(mutate(BASE, f"{T0}.api_url", "http://10.0.0.1:8080"))
    assert [e.field for e in errors] == [f"{T0}.api_url"]


def test_missing_environment_and_urls() -> None:
    data = copy.deepcopy(BASE)
    del data["targets"][0]["environment"]
    errors = errors_of(data)
    assert [e.field for e in errors] == [f"{T0}.environment"]
    assert "api_url" in errors[0].rule


def test_unknown_environment_with_urls_is_fine() -> None:
    data = mutate(BASE, f"{T0}.environment", "inintca.com")
    data = mutate(data, f"{T0}.api_url", "https://api.inintca.com")
    g = parse_config(data).targets[0].genesys
    assert g is not None and g.environment == "inintca.com"


def test_websocket_needs_url_and_something_to_measure() -> None:
    data = copy.deepcopy(BASE)
    del data["targets"][1]["url"]
    assert [e.field for e in errors_of(data)] == [f"{T1}.url"]

    data = copy.deepcopy(BASE)
    del data["targets"][1]["echo_message"]
    errors = errors_of(data)
    assert [e.field for e in errors] == [f"{T1}.expected_reply"]

    data = mutate(BASE, f"{T1}.application_pings", True)
    del data["targets"][1]["echo_message"]
    del data["targets"][1]["expected_reply"]
    assert [e.field for e in errors_of(data)] == [f"{T1}.application_pings"]

    data = mutate(BASE, f"{T1}.control_pings", False)
    del data["targets"][1]["echo_message"]
    del data["targets"][1]["expected_reply"]
    assert [e.field for e in errors_of(data)] == [f"{T1}.control_pings"]


def test_echo_without_expected_reply_expects_the_echo() -> None:
    data = copy.deepcopy(BASE)
    del data["targets"][1]["expected_reply"]
    ws = parse_config(data).targets[1].websocket
    assert ws is not None and ws.expected_reply == "ping"


def test_missing_id_is_required() -> None:
    data = copy.deepcopy(BASE)
    del data["targets"][1]["id"]
    errors = errors_of(data)
    assert [e.field for e in errors] == [f"{T1}.id"] and "required" in errors[0].rule


def test_defaults_problem_reported_once_and_cross_field_inherited() -> None:
    data = {
        "defaults": {"interval": "50ms", "timeout": "3s"},
        "targets": [
            {"id": "target-01", "environment": "mypurecloud.ie", "interval": "1s"},
            {"id": "target-02", "environment": "mypurecloud.ie", "interval": "2s"},
        ],
    }
    errors = errors_of(data)
    assert [e.field for e in errors] == [
        "defaults.interval",
        "targets[0].timeout",
        "targets[1].timeout",
    ]
    assert "inherited from defaults.timeout" in errors[1].rule


def test_non_mapping_and_non_string_keys() -> None:
    assert [e.field for e in errors_of([1, 2])] == ["(top level)"]
    errors = errors_of({1: 2, "targets": [{"id": "target-01"}]})
    assert errors[0].field == "1"
    errors = errors_of({"targets": ["not a table"]})
    assert [e.field for e in errors] == ["targets[0]"]


def test_toml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigErrors) as ei:
        loads_config('window = "60s"\n[[targets]\n', {})
    (e,) = ei.value.errors
    assert e.field == "file" and "line 2" in e.rule


def test_stability_accepts_percent() -> None:
    cfg = parse_config(
        mutate(BASE, f"{T0}.thresholds.stability", {"warning": "99.5%", "critical": "98%"})
    )
    s = cfg.targets[0].thresholds.stability
    assert (s.warning, s.critical) == pytest.approx((0.995, 0.98))


def test_heartbeat_silence_follows_heartbeat_period() -> None:
    cfg = parse_config(mutate(BASE, f"{T0}.heartbeat_period", "10s"))
    hs = cfg.targets[0].thresholds.heartbeat_silence
    assert (hs.warning, hs.critical) == (20.0, 30.0)


def test_client_secret_key_names_the_targets_variable() -> None:
    data = mutate(BASE, f"{T0}.client_secret_env", "EU_SECRET")
    errors = errors_of(mutate(data, f"{T0}.client_secret", "x"))
    assert [e.field for e in errors] == [f"{T0}.client_secret"]
    assert errors[0].rule.endswith("set EU_SECRET")


def test_reconnect_max_delay_default_and_override() -> None:
    assert parse_config(BASE).targets[0].reconnect_max_delay == 5.0
    cfg = parse_config(mutate(BASE, f"{T0}.reconnect_max_delay", "20s"))
    assert cfg.targets[0].reconnect_max_delay == 20.0
