"""OAuth, REST and the WebSocket through a real HTTP proxy (tinyproxy on loopback).

Every test here talks to a tinyproxy process started for it (see conftest)
and checks the proxy's own log for the ``CONNECT`` it received, so "went
through the proxy" is observed, not assumed. The destinations are the
emulator and test servers on 127.0.0.1 (plain HTTP/WebSocket is allowed only
to loopback); TLS inside the tunnel is checked against a test CA.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import httpx
import pytest
import trio

from genesys_pulse.core._proxy import ProxyRules, parse_proxy_url, proxy_rules_from_env
from genesys_pulse.core._redact import RedactingFilter
from genesys_pulse.core.config import Secret, parse_config, redacted, with_credentials
from genesys_pulse.emulator import open_emulator
from genesys_pulse.genesys import ApiError, NotificationsClient, OAuthClient, RetryPolicy
from genesys_pulse.monitor import run_monitor
from genesys_pulse.telemetry import config_secrets
from genesys_pulse.transport import (
    ConnectError,
    NetConnector,
    failure_cause,
    httpx_transport,
    open_websocket,
)

from ._servers import echo_handler, tcp_server, tls_server
from ._tinyproxy import ProxyFactory, dead_port, tinyproxy
from .conftest import PKI

__all__ = ["dead_port", "tinyproxy"]  # fixtures used by name

GUARD = 20.0
"""Outer bound of every test body (a hang fails instead of blocking CI)."""

PASSWORD = "pr0xy-PASSWORD-7f3a"
USER = "alice"


async def _echo_once(url: str, connector: NetConnector) -> str | bytes:
    ws = await open_websocket(url, connector=connector, connect_timeout=10)
    # through the tunnel, frames are still timed at the system call (on the proxy socket)
    assert ws.socket is not None and ws.syscall_timestamps
    got: list[str | bytes] = []
    done = trio.Event()

    def on_message(d: str | bytes, t: float) -> None:
        got.append(d)
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ws.run_reader, on_message, lambda p, t: None)
        await ws.send_text("through the proxy")
        await done.wait()
        await ws.aclose(timeout=2)
    return got[0]


# ---------------------------------------------------------------- WebSocket


async def test_websocket_goes_through_http_proxy_from_environment(
    tinyproxy: ProxyFactory,
) -> None:
    proxy = tinyproxy()
    rules = proxy_rules_from_env({"HTTP_PROXY": proxy.url})
    with trio.fail_after(GUARD):
        async with tcp_server(echo_handler) as port:
            got = await _echo_once(f"ws://127.0.0.1:{port}/x", NetConnector(proxy=rules))
    assert got == "through the proxy"
    assert proxy.connects(f"127.0.0.1:{port}") == 1


async def test_tls_websocket_inside_the_connect_tunnel(tinyproxy: ProxyFactory, pki: PKI) -> None:
    proxy = tinyproxy()
    rules = proxy_rules_from_env({"HTTPS_PROXY": proxy.url})
    connector = NetConnector(ca_bundle=str(pki.ca_pem), proxy=rules)
    with trio.fail_after(GUARD):
        async with tls_server(echo_handler, pki.server_context) as port:
            got = await _echo_once(f"wss://127.0.0.1:{port}/channels/x", connector)
            # the certificate is still verified end to end, through the tunnel
            with pytest.raises(ConnectError) as info:
                await NetConnector(ca_bundle=str(pki.other_ca_pem), proxy=rules).open_stream(
                    "127.0.0.1", port, tls=True, timeout=10
                )
    assert got == "through the proxy"
    assert info.value.kind == "tls"
    assert proxy.connects(f"127.0.0.1:{port}") == 2


async def test_all_proxy_is_the_fallback(tinyproxy: ProxyFactory) -> None:
    proxy = tinyproxy()
    rules = proxy_rules_from_env({"ALL_PROXY": proxy.url})
    with trio.fail_after(GUARD):
        async with tcp_server(echo_handler) as port:
            await _echo_once(f"ws://127.0.0.1:{port}/x", NetConnector(proxy=rules))
    assert proxy.connects(f"127.0.0.1:{port}") == 1


# ---------------------------------------------------------------- OAuth and REST


async def test_oauth_and_rest_go_through_the_proxy(tinyproxy: ProxyFactory) -> None:
    proxy = tinyproxy()
    connector = NetConnector(proxy=proxy_rules_from_env({"HTTP_PROXY": proxy.url}))
    with trio.fail_after(GUARD):
        async with (
            open_emulator() as emu,
            # two clients, two connection pools: each call opens its own tunnel
            httpx.AsyncClient(transport=httpx_transport(connector)) as login_http,
            httpx.AsyncClient(transport=httpx_transport(connector)) as api_http,
        ):
            rng = random.Random(1)
            oauth = OAuthClient(
                login_http, emu.login_url, emu.client_id, Secret(emu.client_secret), rng=rng
            )
            api = NotificationsClient(api_http, emu.api_url, oauth, rng=rng)
            token = await oauth.token()
            after_login = proxy.connects(f"127.0.0.1:{emu.port}")
            channel = await api.create_channel()
            after_rest = proxy.connects(f"127.0.0.1:{emu.port}")
    assert emu.state.check_token(token.value.reveal(), trio.current_time())
    assert channel.connect_uri.startswith("ws://127.0.0.1")
    assert (after_login, after_rest) == (1, 2)


async def test_monitor_end_to_end_through_the_proxy_from_the_environment(
    tinyproxy: ProxyFactory,
) -> None:
    """The whole monitor (OAuth, channel, subscription, WebSocket) via ``HTTP_PROXY``."""
    proxy = tinyproxy(basic_auth=(USER, PASSWORD))
    env = {"HTTP_PROXY": proxy.url_with(USER, PASSWORD)}
    samples: list[object] = []
    with trio.fail_after(GUARD):
        async with open_emulator() as emu:
            base = parse_config(
                {
                    "targets": [
                        {
                            "id": "proxied-target",
                            "environment": "mypurecloud.com",
                            "interval": "200ms",
                            "topics": ["v2.analytics.queues.q-1.observations"],
                        }
                    ]
                },
                env,
            )
            config = with_credentials(
                base, emu.client_id, emu.client_secret, emu.login_url, emu.api_url
            )
            async with trio.open_nursery() as nursery:
                got_one = trio.Event()

                def on_sample(sample: object) -> None:  # runs in a worker thread
                    samples.append(sample)
                    trio.from_thread.run_sync(got_one.set)

                nursery.start_soon(lambda: run_monitor(config, on_sample=on_sample))
                await got_one.wait()
                nursery.cancel_scope.cancel()
    assert samples
    # HTTP (login, channel, subscription) and the WebSocket: at least two tunnels
    assert proxy.connects(f"127.0.0.1:{emu.port}") >= 2
    assert PASSWORD not in proxy.log_text()


# ---------------------------------------------------------------- NO_PROXY and overrides


async def test_no_proxy_goes_direct(dead_port: int) -> None:
    dead = f"http://127.0.0.1:{dead_port}"
    with trio.fail_after(GUARD):
        async with tcp_server(echo_handler) as port:
            url = f"ws://127.0.0.1:{port}/x"
            bypass = proxy_rules_from_env({"HTTP_PROXY": dead, "NO_PROXY": "localhost,127.0.0.1"})
            assert await _echo_once(url, NetConnector(proxy=bypass)) == "through the proxy"
            # the same proxy without the bypass: the dead proxy is named
            other = proxy_rules_from_env({"HTTP_PROXY": dead, "NO_PROXY": "example.com"})
            with pytest.raises(ConnectError) as info:
                await NetConnector(proxy=other).open_stream("127.0.0.1", port, tls=False, timeout=5)
    assert info.value.kind == "refused"
    assert f"proxy {dead} could not be reached" in str(info.value)


async def test_config_key_overrides_the_environment(
    tinyproxy: ProxyFactory, dead_port: int
) -> None:
    proxy = tinyproxy()
    env = {"HTTP_PROXY": f"http://127.0.0.1:{dead_port}", "HTTPS_PROXY": "http://10.9.9.9:1"}
    target = [{"id": "websocket-1", "url": "ws://127.0.0.1:9/x"}]
    off = parse_config({"proxy": "off", "targets": target}, env).proxy
    via = parse_config({"proxy": proxy.url, "targets": target}, env).proxy
    assert off is not None and via is not None
    with trio.fail_after(GUARD):
        async with tcp_server(echo_handler) as port:
            url = f"ws://127.0.0.1:{port}/x"
            await _echo_once(url, NetConnector(proxy=off))  # direct: the env proxy is dead
            assert proxy.connects(f"127.0.0.1:{port}") == 0
            await _echo_once(url, NetConnector(proxy=via))
            assert proxy.connects(f"127.0.0.1:{port}") == 1


# ---------------------------------------------------------------- auth and refusal


async def test_proxy_basic_auth(tinyproxy: ProxyFactory) -> None:
    proxy = tinyproxy(basic_auth=(USER, PASSWORD))
    with trio.fail_after(GUARD):
        async with tcp_server(echo_handler) as port:
            url = f"ws://127.0.0.1:{port}/x"
            good = proxy_rules_from_env({"HTTP_PROXY": proxy.url_with(USER, PASSWORD)})
            assert await _echo_once(url, NetConnector(proxy=good)) == "through the proxy"
            wrong = proxy_rules_from_env({"HTTP_PROXY": proxy.url_with(USER, "not-" + PASSWORD)})
            with pytest.raises(ConnectError) as bad_info:
                await NetConnector(proxy=wrong).open_stream("127.0.0.1", port, tls=False, timeout=5)
            none = proxy_rules_from_env({"HTTP_PROXY": proxy.url})
            with pytest.raises(ConnectError) as none_info:
                await NetConnector(proxy=none).open_stream("127.0.0.1", port, tls=False, timeout=5)
    bad = str(bad_info.value)
    assert bad_info.value.kind == "proxy"
    # tinyproxy answers 407 without credentials and 401 to wrong ones
    assert f"proxy {proxy.url} refused the tunnel to 127.0.0.1:{port}: 401" in bad
    assert "check the proxy credentials" in bad
    assert PASSWORD not in bad and USER + ":" not in bad
    assert none_info.value.kind == "proxy"
    assert f"refused the tunnel to 127.0.0.1:{port}: 407" in str(none_info.value)
    assert "it wants credentials" in str(none_info.value)
    # the failure's telemetry names the cause as a proxy failure, without the password
    cause = failure_cause(bad_info.value)
    assert cause.error_type == "proxy"
    assert "401" in cause.message and PASSWORD not in cause.message


async def test_refusing_proxy_is_a_clear_error_from_oauth(tinyproxy: ProxyFactory) -> None:
    """A proxy that forbids the destination (403): OAuth's error names the proxy and the status."""
    proxy = tinyproxy(connect_ports=[443], basic_auth=(USER, PASSWORD))
    rules = proxy_rules_from_env({"HTTP_PROXY": proxy.url_with(USER, PASSWORD)})
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    redactor = RedactingFilter(rules.secrets())
    handler.addFilter(redactor)
    with trio.fail_after(GUARD):
        async with (
            open_emulator() as emu,
            httpx.AsyncClient(transport=httpx_transport(NetConnector(proxy=rules))) as http,
        ):
            oauth = OAuthClient(
                http,
                emu.login_url,
                emu.client_id,
                Secret(emu.client_secret),
                rng=random.Random(1),
                policy=RetryPolicy(max_attempts=1),
            )
            with pytest.raises(ApiError) as info:
                await oauth.token()
    message = str(info.value)
    assert f"proxy {proxy.url} refused the tunnel to 127.0.0.1:{emu.port}: 403" in message
    assert PASSWORD not in message
    # logging the error with its request (worst case: the header itself) leaks nothing
    auth = rules.http.authorization() if rules.http is not None else None
    assert auth is not None
    logger = logging.getLogger("test.proxy.refusal")
    logger.addHandler(handler)
    try:
        logger.warning("%s; sent Proxy-Authorization: %s; via %r", message, auth, rules.http)
    finally:
        logger.removeHandler(handler)
    assert records and PASSWORD not in records[0] and auth.split()[1] not in records[0]


async def test_a_proxy_failure_is_logged_once_per_cause(
    tinyproxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Callers retry quietly; the operator still gets one warning line naming the proxy."""
    proxy = tinyproxy(connect_ports=[443], basic_auth=(USER, PASSWORD))
    connector = NetConnector(
        proxy=proxy_rules_from_env({"HTTP_PROXY": proxy.url_with(USER, PASSWORD)})
    )
    caplog.set_level(logging.WARNING, logger="genesys_pulse.transport")
    with trio.fail_after(GUARD):
        async with tcp_server(echo_handler) as port:
            for _ in range(3):
                with pytest.raises(ConnectError):
                    await connector.open_stream("127.0.0.1", port, tls=False, timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "genesys_pulse.transport"]
    assert len(lines) == 1, lines
    assert f"proxy {proxy.url} refused the tunnel to 127.0.0.1:{port}: 403" in lines[0]
    assert PASSWORD not in lines[0]


async def test_a_proxy_that_never_answers_or_breaks_http() -> None:
    """Faults of the proxy itself (injected by stand-ins: tinyproxy does neither)."""

    async def mute(stream: trio.abc.Stream) -> None:
        await trio.sleep_forever()

    async def garbage(stream: trio.abc.Stream) -> None:
        await stream.receive_some(4096)
        await stream.send_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        await trio.sleep_forever()

    with trio.fail_after(GUARD):
        async with tcp_server(mute) as mute_port, tcp_server(garbage) as garbage_port:
            for port, kind, text in (
                (mute_port, "timeout", "no connection within 0.3 s through proxy"),
                (garbage_port, "proxy", "broke HTTP answering CONNECT"),
            ):
                rules = proxy_rules_from_env({"HTTPS_PROXY": f"127.0.0.1:{port}"})
                with pytest.raises(ConnectError) as info:
                    await NetConnector(proxy=rules).open_stream(
                        "login.example", 443, tls=True, timeout=0.3
                    )
                assert info.value.kind == kind
                assert text in str(info.value)


def test_auth_hint_names_schemes_we_cannot_speak() -> None:
    from genesys_pulse.transport._connector import _auth_hint

    assert _auth_hint(407, ["NTLM", "Negotiate"], True) == (
        " (it asks for NTLM, Negotiate; only Basic is supported)"
    )
    assert _auth_hint(407, ["Basic", "NTLM"], True) == " (check the proxy credentials)"
    assert _auth_hint(407, [], False).startswith(" (it wants credentials")
    assert _auth_hint(403, ["NTLM"], False) == ""


# ---------------------------------------------------------------- secrets stay secret


def test_proxy_credentials_are_redacted_everywhere() -> None:
    env = {"HTTPS_PROXY": f"http://{USER}:{PASSWORD}@proxy.corp.example:3128"}
    config = parse_config({"targets": [{"id": "websocket-1", "url": "wss://echo.example/x"}]}, env)
    rules = config.proxy
    assert isinstance(rules, ProxyRules) and rules.https is not None
    assert rules.https.password == Secret(PASSWORD)
    for shown in (repr(config), str(config), repr(rules), str(rules.https), str(redacted(config))):
        assert PASSWORD not in shown and f"{USER}:" not in shown, shown
    assert redacted(config)["proxy"]["https"] == {
        "host": "proxy.corp.example",
        "port": 3128,
        "username": "***",
        "password": "***",
    }
    assert PASSWORD in config_secrets(config)
    assert rules.https.authorization() is not None
    assert str(parse_proxy_url(env["HTTPS_PROXY"])) == "http://proxy.corp.example:3128"


def test_run_emulator_is_never_proxied(dead_port: int, tmp_path: Path) -> None:
    """``run --emulator`` reaches its in-process emulator directly, whatever the environment
    (with a configuration file, which reads the proxy variables)."""
    import json
    import os
    import subprocess
    import sys

    dead = f"http://127.0.0.1:{dead_port}"
    env = {**os.environ, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "ALL_PROXY": dead}
    config = tmp_path / "pulse.toml"
    config.write_text('[[targets]]\nid = "emulated-1"\nenvironment = "mypurecloud.com"\n')
    config.chmod(0o600)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "genesys_pulse.cli", "run", "--emulator"),
            *("--config", str(config), "--duration", "3s", "--output", "jsonl"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert any(x.get("type") == "sample" and x.get("rtt_s") is not None for x in lines)
    assert "proxy" not in proc.stderr
