"""Each socket and HTTP fault injected into a running emulator and observed by a
plain client over real loopback (``websockets``, ``httpx``, raw sockets)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trio
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from genesys_pulse.emulator import EmulatorSettings, open_emulator
from genesys_pulse.emulator._faults import Delay

from .test_streaming_e2e import create_channel, is_pong, open_ws, recv_until

PING = json.dumps({"message": "ping"})
SETTINGS = EmulatorSettings(heartbeat_period=3600.0, event_rate=0.0, seed=5)


async def in_thread(fn: Callable[[], Any], limit: float = 20.0) -> Any:
    with trio.fail_after(limit):
        return await trio.to_thread.run_sync(fn)


def closed_with(ws: ClientConnection, timeout: float = 5.0) -> ConnectionClosed:
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as exc:
        return exc


async def test_pong_delays_and_drops_seen_by_plain_client() -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        channel_id, uri = await create_channel(emulator)
        faults = emulator.faults
        faults.set_pong_delay("control", Delay.fixed(0.150), channel=channel_id)
        faults.set_pong_drop("app", 1.0, channel=channel_id)

        def client() -> dict[str, Any]:
            with open_ws(uri) as ws:
                t0 = time.perf_counter()
                ok = ws.ping(b"c1").wait(2.0)
                control_rtt = time.perf_counter() - t0
                ws.send(PING)
                try:
                    recv_until(ws, is_pong, timeout=0.5)
                    app_pong = True
                except TimeoutError:
                    app_pong = False
                return {"ok": ok, "control_rtt": control_rtt, "app_pong": app_pong}

        out = await in_thread(client)
    assert out["ok"] is True
    assert 0.150 <= out["control_rtt"] < 0.180
    assert out["app_pong"] is False
    (record,) = emulator.faults.records_for(channel_id, "app")
    assert record.dropped


async def test_control_pongs_switched_off_seen_by_plain_client() -> None:
    settings = EmulatorSettings(heartbeat_period=3600.0, control_pongs=False, seed=5)
    async with open_emulator(settings=settings) as emulator:
        _, uri = await create_channel(emulator)

        def client() -> tuple[bool, Any]:
            with open_ws(uri) as ws:
                answered = ws.ping(b"c").wait(0.5)
                ws.send(PING)
                pong, _ = recv_until(ws, is_pong, timeout=2.0)
                return answered, pong

        answered, pong = await in_thread(client)
    assert answered is False
    assert pong["eventBody"]["message"] == "pong"


async def test_half_open_stall_seen_by_plain_client() -> None:
    settings = EmulatorSettings(heartbeat_period=0.1, seed=5)
    async with open_emulator(settings=settings) as emulator:
        _channel_id, uri = await create_channel(emulator)

        def client() -> dict[str, Any]:
            with open_ws(uri) as ws:
                recv_until(ws, lambda m: True, timeout=2.0)  # a heartbeat: alive
                trio.from_thread.run_sync(emulator.faults.stall, None)
                with contextlib.suppress(TimeoutError):
                    ws.recv(timeout=0.3)  # drain one that may have been in flight
                got: list[Any] = []
                try:
                    while True:
                        got.append(ws.recv(timeout=0.6))
                except TimeoutError:
                    pass
                pinged = ws.ping(b"s").wait(0.3)
                ws.send(PING)
                try:
                    ws.recv(timeout=0.3)
                    silent = False
                except TimeoutError:
                    silent = True
                return {"got": got, "pinged": pinged, "silent": silent, "state": ws.state.name}

        out = await in_thread(client)
    assert out["got"] == []  # no heartbeats for 0.6 s at a 0.1 s period
    assert out["pinged"] is False and out["silent"] is True
    assert out["state"] == "OPEN"  # the socket stayed open


async def test_tcp_reset_seen_by_raw_socket() -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        _channel_id, uri = await create_channel(emulator)
        parts = urlsplit(uri)

        def client() -> str:
            sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(
                (
                    f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(4096)
            assert head.startswith(b"HTTP/1.1 101")
            trio.from_thread.run_sync(emulator.faults.reset)
            try:
                while sock.recv(4096):
                    pass
                return "eof"
            except ConnectionResetError:
                return "reset"
            finally:
                sock.close()

        assert await in_thread(client) == "reset"


@pytest.mark.parametrize(("code", "reason"), [(1001, "idle timeout"), (1011, "server error")])
async def test_close_codes_seen_by_plain_client(code: int, reason: str) -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        _channel_id, uri = await create_channel(emulator)

        def client() -> tuple[int, str] | None:
            with open_ws(uri) as ws:
                trio.from_thread.run_sync(lambda: emulator.faults.close(code, reason))
                exc = closed_with(ws)
                return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else None

        assert await in_thread(client) == (code, reason)


async def test_malformed_and_oversized_seen_by_plain_client() -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        _, uri = await create_channel(emulator)

        def client() -> list[Any]:
            with open_ws(uri) as ws:
                trio.from_thread.run_sync(lambda: emulator.faults.send_malformed("not-json"))
                first = ws.recv(timeout=2)
                trio.from_thread.run_sync(lambda: emulator.faults.send_oversized(70_000))
                second = ws.recv(timeout=2)
                return [first, second]

        first, second = await in_thread(client)
    with pytest.raises(ValueError):
        json.loads(first)
    assert len(second) == 70_000


async def test_oversized_client_message_closed_1009() -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        _, uri = await create_channel(emulator)

        def client() -> int | None:
            with open_ws(uri) as ws:
                ws.send(json.dumps({"message": "ping", "pad": "x" * 70_000}))
                exc = closed_with(ws)
                return exc.rcvd.code if exc.rcvd else None

        assert await in_thread(client) == 1009


async def test_second_socket_takes_over_seen_by_plain_client() -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        _, uri = await create_channel(emulator)

        def client() -> tuple[int | None, Any]:
            with open_ws(uri) as first:
                first.send(PING)
                recv_until(first, is_pong)
                with open_ws(uri) as second:
                    exc = closed_with(first)
                    second.send(PING)
                    pong, _ = recv_until(second, is_pong)
                    return (exc.rcvd.code if exc.rcvd else None), pong

        code, pong = await in_thread(client)
    assert code == 1000
    assert pong["eventBody"]["message"] == "pong"


async def test_hung_upgrade_seen_by_plain_client() -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        channel_id, uri = await create_channel(emulator)
        emulator.faults.hang_upgrades(1, channel=channel_id)

        def client() -> tuple[str, bool]:
            from websockets.sync.client import connect

            try:
                with connect(uri, open_timeout=0.5, ping_interval=None):
                    first = "connected"
            except TimeoutError:
                first = "timeout"
            with open_ws(uri) as ws:  # the next upgrade is answered
                ws.send(PING)
                recv_until(ws, is_pong)
                return first, True

        assert await in_thread(client) == ("timeout", True)


async def test_rest_and_login_bursts_seen_by_httpx() -> None:
    async with open_emulator(settings=SETTINGS) as emulator:
        faults = emulator.faults
        auth = (emulator.client_id, emulator.client_secret)
        form = {"grant_type": "client_credentials"}
        async with httpx.AsyncClient(base_url=emulator.base_url, timeout=5.0) as http:
            faults.fail_login(429, count=2, retry_after=3)
            for _ in range(2):
                r = await http.post("/oauth/token", data=form, auth=auth)
                assert r.status_code == 429 and r.headers["Retry-After"] == "3"
                assert r.json()["code"] == "too.many.requests.retry.after"
            r = await http.post("/oauth/token", data=form, auth=auth)
            assert r.status_code == 200
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            faults.fail_api(503, count=1, path_prefix="/api/v2/notifications/channels")
            r = await http.post("/api/v2/notifications/channels", headers=headers)
            assert r.status_code == 503
            faults.fail_api(401)
            r = await http.get("/api/v2/notifications/channels", headers=headers)
            assert r.status_code == 401
            faults.fail_login(500)
            r = await http.post("/oauth/token", data=form, auth=auth)
            assert r.status_code == 500
            r = await http.post("/api/v2/notifications/channels", headers=headers)
            assert r.status_code == 200
