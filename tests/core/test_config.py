"""Configuration parsing: the happy paths, defaults, precedence and environment overrides."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from genesys_pulse.core._regions import REGIONS, find_region
from genesys_pulse.core.config import (
    ENV_GLOBAL_VARIABLES,
    ENV_TARGET_VARIABLES,
    ConfigError,
    ConfigErrors,
    GenesysSettings,
    Levels,
    MonitorConfig,
    Secret,
    TargetConfig,
    loads_config,
    missing_credentials,
    parse_config,
    parse_duration,
    with_credentials,
)

SECRET = "zz-TOP-secret-4f1c9e"
ENV = {"GENESYS_CLOUD_CLIENT_SECRET": SECRET, "GENESYS_CLOUD_CLIENT_ID": "env-client-id"}

EXAMPLE = """
window = "30s"
journal_path = "/var/lib/genesys-pulse/audit.journal"

[defaults]
interval = "500ms"
timeout = "400ms"

[defaults.thresholds.rtt_application]
warning = "100ms"
critical = "300ms"

[[targets]]
id = "prod-us-east"
environment = "mypurecloud.com"
topics = ["v2.analytics.queues.q1.observations"]

[[targets]]
id = "echo-test-1"
kind = "websocket"
url = "wss://example.org/ws"
echo_message = "ping"
expected_reply = "pong"
interval = 1
timeout = "1s"
"""


def test_example_parses_with_defaults_and_overrides() -> None:
    cfg = loads_config(EXAMPLE, ENV)
    assert isinstance(cfg, MonitorConfig)
    assert cfg.window == 30.0
    assert cfg.journal_path == "/var/lib/genesys-pulse/audit.journal"
    g, w = cfg.targets
    assert (g.kind, g.interval, g.timeout) == ("genesys", 0.5, 0.4)
    assert g.thresholds.rtt_application == Levels(0.1, 0.3)
    assert g.thresholds.rtt_control == Levels(0.150, 0.400)  # built-in
    assert g.thresholds.heartbeat_silence == Levels(60.0, 90.0)  # 2x / 3x heartbeat period
    assert g.genesys == GenesysSettings(
        environment="mypurecloud.com",
        login_url="https://login.mypurecloud.com",
        api_url="https://api.mypurecloud.com",
        client_id="env-client-id",
        client_secret=Secret(SECRET),
        topics=("v2.analytics.queues.q1.observations",),
        region="us-east-1",
    )
    assert (w.kind, w.interval, w.timeout) == ("websocket", 1.0, 1.0)
    assert w.websocket is not None
    assert (w.websocket.url, w.websocket.echo_message, w.websocket.expected_reply) == (
        "wss://example.org/ws",
        "ping",
        "pong",
    )
    assert w.application_pings and w.control_pings


def test_builtin_defaults() -> None:
    cfg = parse_config({"targets": [{"id": "target-01", "environment": "usw2.pure.cloud"}]})
    (t,) = cfg.targets
    assert t == TargetConfig(
        id="target-01",
        kind="genesys",
        genesys=GenesysSettings(
            environment="usw2.pure.cloud",
            login_url="https://login.usw2.pure.cloud",
            api_url="https://api.usw2.pure.cloud",
            client_id=None,
            client_secret=None,
            region="us-west-2",
        ),
    )
    assert cfg.window == 60.0 and cfg.shard is None and cfg.journal_path is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1s", 1.0),
        ("1.5s", 1.5),
        (2, 2.0),
        (0.1, 0.1),
        ("2m", 120.0),
        ("100ms", 0.1),
        ("1h", 3600.0),
        ("500us", 0.0005),
        (".5s", 0.5),
        ("3", 3.0),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "fast", "1 parsec", "-1s", True, None, [1], float("nan"), -2])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_region_aliases_normalise_to_domain() -> None:
    for alias in ("us_west_2", "us-west-2", "USW2.PURE.CLOUD", "usw2.pure.cloud."):
        cfg = parse_config({"targets": [{"id": "target-01", "environment": alias}]})
        assert cfg.targets[0].genesys is not None
        assert cfg.targets[0].genesys.environment == "usw2.pure.cloud"


def test_explicit_urls_for_emulator_and_gateways() -> None:
    cfg = parse_config(
        {"targets": [{"id": "emulated1", "api_url": "http://127.0.0.1:8080/", "client_id": "x"}]}
    )
    g = cfg.targets[0].genesys
    assert g is not None
    assert (g.environment, g.api_url, g.login_url) == (
        None,
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080",
    )
    cfg = parse_config(
        {
            "targets": [
                {
                    "id": "dev-env-1",
                    "environment": "inindca.com",
                    "api_url": "https://api.inindca.com",
                }
            ]
        }
    )
    g = cfg.targets[0].genesys
    assert g is not None
    assert (g.environment, g.login_url, g.region) == (
        "inindca.com",
        "https://login.inindca.com",
        None,
    )


def test_credentials_from_named_env_vars_and_file_client_id_wins() -> None:
    env = {"MY_ID": "id-from-env", "MY_SECRET": SECRET, "GENESYS_CLOUD_CLIENT_ID": "other"}
    t = {
        "id": "target-01",
        "environment": "mypurecloud.ie",
        "client_id_env": "MY_ID",
        "client_secret_env": "MY_SECRET",
    }
    g = parse_config({"targets": [t]}, env).targets[0].genesys
    assert g is not None
    assert g.credentials() == ("id-from-env", Secret(SECRET))
    g = parse_config({"targets": [{**t, "client_id": "literal-id"}]}, env).targets[0].genesys
    assert g is not None and g.client_id == "literal-id"


def test_missing_credentials_and_with_credentials() -> None:
    cfg = parse_config(
        {
            "targets": [
                {"id": "target-01", "environment": "mypurecloud.ie"},
                {
                    "id": "target-02",
                    "environment": "mypurecloud.de",
                    "client_id": "abc",
                    "client_secret_env": "DE_SECRET",
                },
                {"id": "websock-1", "url": "wss://example.org"},
            ]
        }
    )
    assert missing_credentials(cfg) == [
        "DE_SECRET",
        "GENESYS_CLOUD_CLIENT_ID",
        "GENESYS_CLOUD_CLIENT_SECRET",
    ]
    g = cfg.targets[0].genesys
    assert g is not None
    with pytest.raises(ConfigError, match="GENESYS_CLOUD_CLIENT_ID"):
        g.credentials()
    emu = with_credentials(cfg, "emu-id", "emu-secret", "http://127.0.0.1:9/", "http://127.0.0.1:9")
    assert missing_credentials(emu) == []
    for t in emu.targets[:2]:
        assert t.genesys is not None
        assert t.genesys.credentials() == ("emu-id", Secret("emu-secret"))
        assert (t.genesys.login_url, t.genesys.environment) == ("http://127.0.0.1:9", None)
    assert emu.targets[2] == cfg.targets[2]


def test_env_only_single_target() -> None:
    env = {
        "GENESYS_PULSE_ENVIRONMENT": "euw2.pure.cloud",
        "GENESYS_PULSE_INTERVAL": "250ms",
        "GENESYS_PULSE_TIMEOUT": "200ms",
        "GENESYS_PULSE_TOPICS": "v2.a.b, v2.c.d,",
        "GENESYS_PULSE_APPLICATION_PINGS": "no",
        "GENESYS_PULSE_STABILITY_WINDOW": "120",
        "GENESYS_PULSE_WINDOW": "10s",
        "GENESYS_PULSE_SHARD": "1/3",
        **ENV,
    }
    cfg = parse_config({}, env)
    (t,) = cfg.targets
    assert t.id == "genesys-euw2-pure-cloud"
    assert (t.interval, t.timeout, t.stability_window, t.application_pings) == (
        0.25,
        0.2,
        120,
        False,
    )
    assert t.genesys is not None and t.genesys.topics == ("v2.a.b", "v2.c.d")
    assert (cfg.window, cfg.shard) == (10.0, (1, 3))
    cfg = parse_config({}, {**env, "GENESYS_PULSE_TARGET_ID": "my-target-9"})
    assert cfg.targets[0].id == "my-target-9"
    cfg = parse_config({}, {"GENESYS_PULSE_URL": "ws://localhost:8765/echo"})
    assert cfg.targets[0].kind == "websocket" and cfg.targets[0].id == "websocket-localhost"


def test_env_overrides_the_single_file_target() -> None:
    data = {"targets": [{"id": "target-01", "environment": "mypurecloud.ie", "interval": "2s"}]}
    cfg = parse_config(data, {"GENESYS_PULSE_INTERVAL": "3s"})
    assert cfg.targets[0].interval == 3.0
    assert data["targets"][0]["interval"] == "2s"  # input not mutated


def test_env_target_override_refused_with_several_targets() -> None:
    data = {
        "targets": [
            {"id": "target-01", "environment": "mypurecloud.ie"},
            {"id": "target-02", "environment": "mypurecloud.ie"},
        ]
    }
    with pytest.raises(ConfigErrors) as ei:
        parse_config(data, {"GENESYS_PULSE_INTERVAL": "3s"})
    assert [e.field for e in ei.value.errors] == ["GENESYS_PULSE_INTERVAL"]


def test_env_error_names_the_variable() -> None:
    with pytest.raises(ConfigErrors) as ei:
        parse_config(
            {}, {"GENESYS_PULSE_ENVIRONMENT": "mypurecloud.com", "GENESYS_PULSE_INTERVAL": "25ms"}
        )
    (e,) = ei.value.errors
    assert e.field == "targets[0].interval"
    assert "GENESYS_PULSE_INTERVAL" in str(e) and "100 ms minimum" in str(e)


def test_all_errors_collected_in_order() -> None:
    with pytest.raises(ConfigErrors) as ei:
        parse_config(
            {
                "window": 0,
                "targets": [
                    {"id": "short", "environment": "mypurecloud.com", "interval": "50ms"},
                    {"id": "websock-1", "url": "ws://example.org"},
                ],
            }
        )
    fields = [e.field for e in ei.value.errors]
    assert fields == ["window", "targets[0].id", "targets[0].interval", "targets[1].url"]
    assert str(ei.value).startswith("4 problems in the configuration:")
    assert isinstance(ei.value, ConfigError) and ei.value.field == "window"


def test_config_objects_are_frozen() -> None:
    cfg = parse_config({"targets": [{"id": "target-01", "environment": "mypurecloud.ie"}]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.targets[0].interval = 2.0  # type: ignore[misc]


# --- the region table, and the reference staying in step (load_config: tests/config_sources) --

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_region_table() -> None:
    assert len(REGIONS) == 18
    assert len({r.domain for r in REGIONS}) == 18
    assert len({r.name for r in REGIONS}) == 18
    r = find_region(" US-WEST-2 ")
    assert r is not None and r.domain == "usw2.pure.cloud"
    assert (r.api_base, r.login_base, r.streaming_base) == (
        "https://api.usw2.pure.cloud",
        "https://login.usw2.pure.cloud",
        "wss://streaming.usw2.pure.cloud",
    )
    assert find_region("example.com") is None


def test_reference_documents_every_key_variable_and_region() -> None:
    doc = DOC.read_text(encoding="utf-8")
    from genesys_pulse.core import _config_values as c

    keys = {*c._TARGET_KEYS, *c._TOP_KEYS, *c._MEASURES, *c._HYSTERESIS_KEYS, *c._LEVEL_KEYS}
    for key in sorted(keys):
        assert re.search(rf"`{key}`", doc), key
    for var in (*ENV_TARGET_VARIABLES, *ENV_GLOBAL_VARIABLES, "GENESYS_PULSE_CONFIG"):
        assert f"`{var}`" in doc, var
    for region in REGIONS:
        assert f"`{region.domain}`" in doc and f"`{region.name}`" in doc, region
