"""Proxy selection from the environment and the ``proxy`` key (pure: no sockets)."""

from __future__ import annotations

import pytest

from genesys_pulse.core._proxy import (
    DEFAULT_PROXY_PORT,
    ProxyRules,
    bypasses_proxy,
    parse_proxy_url,
    proxy_rules_from_env,
)
from genesys_pulse.core.config import ConfigErrors, Secret, parse_config, redacted

TARGET = [{"id": "websocket-1", "url": "wss://echo.example/x"}]
PASSWORD = "pw-9d1e-SECRET"


def test_https_and_http_destinations_use_their_own_variable() -> None:
    rules = proxy_rules_from_env(
        {"HTTPS_PROXY": "http://tls-proxy:3128", "HTTP_PROXY": "http://plain-proxy:8080"}
    )
    tls = rules.select("api.mypurecloud.com", tls=True)
    plain = rules.select("127.0.0.1", tls=False)
    assert (str(tls), str(plain)) == ("http://tls-proxy:3128", "http://plain-proxy:8080")


def test_lower_case_wins_and_all_proxy_is_the_fallback() -> None:
    env = {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2", "ALL_PROXY": "all:3"}
    rules = proxy_rules_from_env(env)
    assert str(rules.https) == "http://lower:1"
    assert str(rules.http) == "http://all:3"  # no http_proxy: ALL_PROXY, scheme defaults to http
    assert rules.source == "https_proxy, ALL_PROXY"


def test_empty_values_are_unset_and_no_variables_mean_direct() -> None:
    rules = proxy_rules_from_env({"HTTPS_PROXY": "", "http_proxy": "  "})
    assert rules == ProxyRules()
    assert rules.select("example.com", tls=True) is None


def test_default_port_is_curls() -> None:
    assert parse_proxy_url("http://proxy.corp").port == DEFAULT_PROXY_PORT == 1080


@pytest.mark.parametrize(
    ("host", "entries", "bypass"),
    [
        ("api.example.com", ["example.com"], True),
        ("example.com", [".example.com"], True),
        ("api.example.com", ["*.example.com"], True),
        ("notexample.com", ["example.com"], False),
        ("EXAMPLE.com.", ["example.COM"], True),
        ("example.com", ["example.com:443"], True),
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("10.1.2.3", ["10.1.2.3"], True),
        ("11.1.2.3", ["10.0.0.0/8"], False),
        ("::1", ["::1"], True),
        ("[::1]", ["[::1]:8080"], True),
        ("fd00::5", ["fd00::/8"], True),
        ("anything.example", ["*"], True),
        # like curl and httpx: loopback is not bypassed unless listed
        ("127.0.0.1", ["localhost"], False),
        ("localhost", [], False),
        ("127.0.0.1", ["example.com", "127.0.0.1"], True),
    ],
)
def test_no_proxy_matching(host: str, entries: list[str], bypass: bool) -> None:
    assert bypasses_proxy(host, entries) is bypass


def test_no_proxy_list_is_split_on_commas_and_spaces() -> None:
    rules = proxy_rules_from_env({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "a.example, b.example,"})
    assert rules.no_proxy == ("a.example", "b.example")
    assert rules.select("x.b.example", tls=True) is None
    assert rules.select("c.example", tls=True) is not None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("socks5://user:" + PASSWORD + "@proxy:1080", "only http:// proxies"),
        ("https://user:" + PASSWORD + "@proxy:443", "only http:// proxies"),
        ("http://user:" + PASSWORD + "@proxy:99999", "not a valid proxy URL"),
        ("http://user:" + PASSWORD + "@proxy:3128/path", "no path"),
        ("http://:3128", "no host"),
    ],
)
def test_bad_proxy_variables_name_the_variable_never_the_password(value: str, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        proxy_rules_from_env({"HTTPS_PROXY": value})
    assert str(info.value).startswith("HTTPS_PROXY: ")
    assert problem in str(info.value)
    assert PASSWORD not in str(info.value)
    # and through the configuration: one error naming the variable
    with pytest.raises(ConfigErrors) as cinfo:
        parse_config({"targets": TARGET}, {"HTTPS_PROXY": value})
    assert [e.field for e in cinfo.value.errors] == ["HTTPS_PROXY"]
    assert PASSWORD not in str(cinfo.value) and "\n" not in str(cinfo.value)


def test_credentials_are_percent_decoded_and_kept_secret() -> None:
    url = parse_proxy_url("http://dom%5Cal%40ice:p%40ss%3Aword@proxy:3128")
    assert url.username == Secret("dom\\al@ice")
    assert url.password == Secret("p@ss:word")
    assert "p@ss" not in repr(url) and "p@ss" not in str(url)
    assert url.authorization() == "Basic ZG9tXGFsQGljZTpwQHNzOndvcmQ="


def test_config_key_overrides_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://env-proxy:1", "NO_PROXY": "internal.example"}
    off = parse_config({"proxy": "off", "targets": TARGET}, env).proxy
    assert off == ProxyRules(source="proxy")
    assert off.select("echo.example", tls=True) is None
    via = parse_config({"proxy": "http://file-proxy:3128", "targets": TARGET}, env).proxy
    assert via is not None
    assert str(via.select("echo.example", tls=True)) == "http://file-proxy:3128"
    assert str(via.select("echo.example", tls=False)) == "http://file-proxy:3128"
    # NO_PROXY still applies to a configured proxy (as it does to curl --proxy)
    assert via.select("api.internal.example", tls=True) is None
    # from the environment alone
    envonly = parse_config({"targets": TARGET}, env).proxy
    assert envonly is not None and str(envonly.https) == "http://env-proxy:1"
    assert parse_config({"targets": TARGET}, {}).proxy is None


def test_credentials_only_from_the_environment() -> None:
    in_file = f"http://alice:{PASSWORD}@proxy:3128"
    with pytest.raises(ConfigErrors) as info:
        parse_config({"proxy": in_file, "targets": TARGET}, {})
    assert info.value.field == "proxy"
    assert "secrets come from the environment" in str(info.value)
    assert PASSWORD not in str(info.value)
    config = parse_config({"targets": TARGET}, {"GENESYS_PULSE_PROXY": in_file})
    assert config.proxy is not None and config.proxy.https is not None
    assert config.proxy.https.password == Secret(PASSWORD)
    assert config.proxy.source == "GENESYS_PULSE_PROXY"
    assert PASSWORD not in repr(config) and PASSWORD not in str(redacted(config))


@pytest.mark.parametrize("raw", [3128, "socks5://proxy:1080", "ftp://proxy", "http://proxy:0"])
def test_bad_proxy_key_is_one_error(raw: object) -> None:
    with pytest.raises(ConfigErrors) as info:
        parse_config({"proxy": raw, "targets": TARGET}, {})
    assert [e.field for e in info.value.errors] == ["proxy"]


def test_cli_names_a_bad_proxy_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from genesys_pulse.cli import main

    for name in list(os.environ):
        if name.startswith(("GENESYS_PULSE_", "GENESYS_CLOUD_")) or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GENESYS_PULSE_URL", "wss://echo.example/ws")
    monkeypatch.setenv("HTTPS_PROXY", f"socks5://alice:{PASSWORD}@proxy.corp:1080")
    assert main(["validate"]) == 2
    out, err = capsys.readouterr()
    problems = err.splitlines()[1:]
    assert len(problems) == 1, err
    assert problems[0].strip().startswith("HTTPS_PROXY: uses a socks5:// proxy")
    assert PASSWORD not in out + err
