"""Bad requests never crash the emulator and get the real service's answers.

Raw bytes go through the in-memory connector (and, for a few cases, real
loopback TCP); after each abuse a normal request must still succeed.
"""

from __future__ import annotations

import json
import random

import httpx
import pytest
import trio
import trio.testing

from genesys_pulse.emulator import Emulator, EmulatorSettings, _rest, open_emulator

from .conftest import bearer, login, memory_client

CHANNELS = "/api/v2/notifications/channels"


async def _exchange(
    emulator: Emulator, data: bytes, *, eof: bool = True, limit: float = 120.0
) -> bytes:
    """Send ``data`` on a fresh in-memory connection; read until the server closes."""
    stream = await emulator.connector.open_stream("127.0.0.1", 0, tls=False, timeout=5)
    out = bytearray()
    with trio.fail_after(limit):
        await stream.send_all(data)
        if eof:
            await stream.send_eof()  # type: ignore[attr-defined]
        while chunk := await stream.receive_some(65536):
            out += chunk
    await stream.aclose()
    return bytes(out)


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


async def _still_serves(emulator: Emulator) -> None:
    async with memory_client(emulator) as http:
        token = await login(http, emulator)
        response = await http.post(CHANNELS, headers=bearer(token))
        assert response.status_code == 200
    assert emulator.stats["internal_errors"] == 0


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /api HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS ClientHello
    ],
)
async def test_garbage_is_400_bad_request(emulator: Emulator, garbage: bytes) -> None:
    status, headers, body = _parse(await _exchange(emulator, garbage))
    assert status == 400
    payload = json.loads(body)
    assert payload["code"] == "bad.request"
    assert payload["status"] == 400
    assert headers["connection"] == "close"
    assert headers["inin-correlation-id"] == payload["contextId"]
    assert "inin-ratelimit-count" in headers
    assert emulator.stats["protocol_errors"] >= 1
    await _still_serves(emulator)


async def test_truncated_requests(emulator: Emulator) -> None:
    # head cut short, then EOF: the peer is gone mid-request
    raw = await _exchange(emulator, b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Le")
    assert raw == b"" or _parse(raw)[0] == 400
    # body cut short, then EOF
    raw = await _exchange(
        emulator,
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ngrant_type",
    )
    assert raw == b"" or _parse(raw)[0] == 400
    # nothing at all
    assert await _exchange(emulator, b"") == b""
    await _still_serves(emulator)


async def test_stalled_requests_time_out(
    emulator: Emulator, autojump_clock: trio.testing.MockClock
) -> None:
    settings = emulator.settings
    start = trio.current_time()
    # half a head and then silence: 408 after the idle timeout
    raw = await _exchange(
        emulator, b"GET /api/v2/notifications/channels HTTP/1.1\r\nHo", eof=False, limit=600
    )
    assert _parse(raw)[0] == 408
    assert trio.current_time() - start == pytest.approx(settings.idle_timeout)
    # a complete head whose body never comes: 408 after the request timeout
    start = trio.current_time()
    raw = await _exchange(
        emulator,
        b"PUT /api/v2/notifications/channels/x/subscriptions HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 50\r\n\r\n[",
        eof=False,
        limit=600,
    )
    assert _parse(raw)[0] == 408
    assert trio.current_time() - start == pytest.approx(settings.request_timeout)
    # an idle keep-alive connection is closed silently
    start = trio.current_time()
    assert await _exchange(emulator, b"", eof=False, limit=600) == b""
    assert trio.current_time() - start == pytest.approx(settings.idle_timeout)
    assert emulator.stats["timeouts"] == 2
    await _still_serves(emulator)


async def test_huge_headers_are_refused(emulator: Emulator) -> None:
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    status, _, _ = _parse(await _exchange(emulator, data))
    assert status == 431
    await _still_serves(emulator)


async def test_oversized_bodies_are_413(emulator: Emulator, http: httpx.AsyncClient) -> None:
    token = await login(http, emulator)
    channel = (await http.post(CHANNELS, headers=bearer(token))).json()
    url = f"{CHANNELS}/{channel['id']}/subscriptions"
    big = json.dumps([{"id": f"v2.users.{i:06d}.presence"} for i in range(20_000)]).encode()
    assert len(big) > 512_000
    response = await http.put(
        url, headers={**bearer(token), "Content-Type": "application/json"}, content=big
    )
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "request.entity.too.large"
    assert body["status"] == 413
    assert body["contextId"] == response.headers["inin-correlation-id"]

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 60_000

    chunked = await http.put(url, headers=bearer(token), content=chunks())
    assert chunked.status_code == 413
    # exactly the limit is accepted by the size check (and then parsed)
    at_limit = b"[" + b" " * (512_000 - 2) + b"]"
    ok = await http.put(
        url, headers={**bearer(token), "Content-Type": "application/json"}, content=at_limit
    )
    assert ok.status_code == 200
    assert ok.json() == {"entities": []}
    await _still_serves(emulator)


@pytest.mark.parametrize(
    "body",
    [b"{nope", b"[{", b"\xff\xfe\x00", b'[{"id": "v2.users.u.presence"}', b"[" * 100_000],
)
async def test_malformed_json_is_400(
    emulator: Emulator, http: httpx.AsyncClient, body: bytes
) -> None:
    token = await login(http, emulator)
    channel = (await http.post(CHANNELS, headers=bearer(token))).json()
    response = await http.post(
        f"{CHANNELS}/{channel['id']}/subscriptions",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "bad.request"
    assert payload["status"] == 400
    assert set(payload) == {"message", "code", "status", "contextId", "details", "errors"}
    await _still_serves(emulator)


async def test_pipelined_and_http10_requests(emulator: Emulator) -> None:
    one = b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /nowhere2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = await _exchange(emulator, one + one + last)
    assert raw.count(b"HTTP/1.1 404 Not Found") == 3
    raw10 = await _exchange(emulator, b"GET /nowhere HTTP/1.0\r\n\r\n", eof=False, limit=600)
    assert _parse(raw10)[0] == 404


async def test_upgrade_to_unknown_or_expired_channel_is_404(
    emulator: Emulator, http: httpx.AsyncClient, autojump_clock: trio.testing.MockClock
) -> None:
    def upgrade(channel_id: str) -> bytes:
        return (
            f"GET /channels/{channel_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()

    status, headers, body = _parse(
        await _exchange(emulator, upgrade("streaming-0-" + "c" * 26), eof=False)
    )
    assert status == 404
    assert json.loads(body)["code"] == "not.found"
    assert "upgrade" not in headers

    token = await login(http, emulator)
    channel = (await http.post(CHANNELS, headers=bearer(token))).json()
    await trio.sleep(emulator.settings.channel_ttl + 1)
    status, _, _ = _parse(await _exchange(emulator, upgrade(channel["id"]), eof=False))
    assert status == 404
    assert emulator.stats["upgrades"] == 2


async def test_upgrade_hang_fault_never_answers(
    emulator: Emulator, http: httpx.AsyncClient, autojump_clock: trio.testing.MockClock
) -> None:
    token = await login(http, emulator)
    channel = (await http.post(CHANNELS, headers=bearer(token))).json()
    emulator.faults.hang_upgrades(1)
    stream = await emulator.connector.open_stream("127.0.0.1", 0, tls=False, timeout=5)
    await stream.send_all(
        (
            f"GET /channels/{channel['id']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    with trio.move_on_after(3600) as scope:
        await stream.receive_some(1)
    assert scope.cancelled_caught  # an hour of emulated time, not one byte
    await stream.aclose()
    await _still_serves(emulator)


async def test_handler_bug_is_500_and_server_survives(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(req: _rest.Request, ctx: _rest.Context) -> _rest.Response:
        raise RuntimeError("boom")

    monkeypatch.setattr(_rest, "handle_request", broken)
    async with memory_client(emulator) as http:
        response = await http.get(CHANNELS)
        assert response.status_code == 500
        assert response.json()["code"] == "internal.server.error"
    assert emulator.stats["internal_errors"] == 1
    monkeypatch.undo()
    emulator.stats["internal_errors"] = 0
    await _still_serves(emulator)


async def test_random_bytes_never_crash(emulator: Emulator) -> None:
    rng = random.Random(20261128)
    templates = [
        b"GET /api/v2/notifications/channels HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 29\r\n\r\ngrant_type=client_credentials",
        b"PUT /api/v2/notifications/channels/a/subscriptions HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer x\r\nContent-Length: 2\r\n\r\n[]",
    ]
    for _ in range(150):
        data = bytearray(rng.choice(templates))
        for _ in range(rng.randrange(1, 6)):  # flip, insert or delete bytes
            pos = rng.randrange(len(data))
            op = rng.randrange(3)
            if op == 0:
                data[pos] = rng.randrange(256)
            elif op == 1:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
            else:
                del data[pos]
        raw = await _exchange(emulator, bytes(data), limit=5)
        if raw:
            assert raw.startswith(b"HTTP/1.1 ")
            assert 200 <= _parse(raw)[0] < 500
    assert emulator.stats["internal_errors"] == 0
    await _still_serves(emulator)


async def test_over_real_tcp(emulator: Emulator) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", emulator.port)
    await stream.send_all(b"\x00garbage\r\n\r\n")
    out = bytearray()
    with trio.fail_after(10):
        while chunk := await stream.receive_some(65536):
            out += chunk
    await stream.aclose()
    assert _parse(bytes(out))[0] == 400
    async with httpx.AsyncClient(base_url=emulator.base_url) as http:
        token = await login(http, emulator)
        big = await http.post(CHANNELS, headers=bearer(token), content=b"x" * 600_000)
        assert big.status_code == 413
        ok = await http.post(CHANNELS, headers=bearer(token))
        assert ok.status_code == 200


async def test_non_loopback_host_warns() -> None:
    with pytest.warns(RuntimeWarning, match="non-loopback"):
        async with open_emulator(host="0.0.0.0", settings=EmulatorSettings(seed=1)) as emu:
            assert emu.base_url.startswith("http://0.0.0.0:")
