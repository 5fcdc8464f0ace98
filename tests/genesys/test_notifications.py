"""NotificationsClient against the emulator, and the full path to a streaming socket."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import trio
import trio.testing

from genesys_pulse.genesys import ApiError, InvalidResponse, parse_channel
from genesys_pulse.transport import open_websocket

from .conftest import rig

CHANNELS = "/api/v2/notifications/channels"
TOKEN = "/oauth/token"


async def test_channel_and_subscription_lifecycle(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        n = r.notifications
        ch = await n.create_channel()
        assert ch.connect_uri.endswith(ch.id)
        assert ch.expires.tzinfo is not None
        assert ch.id not in repr(ch)
        assert await n.head_channel(ch.id) is True
        assert await n.head_channel("streaming-0-doesnotexist") is False
        assert ch.id in [c.id for c in await n.list_channels()]
        topic = "v2.system.health"
        forbidden = "v2.users.abc.workforcemanagement.adherence"
        got = await n.put_subscriptions(ch.id, [topic, forbidden])
        by_id = {t.id: t for t in got}
        assert not by_id[topic].rejected
        assert by_id[forbidden].rejected
        assert by_id[forbidden].rejection_reason
        assert [t.id for t in await n.get_subscriptions(ch.id)] == [topic]
        await n.delete_subscriptions(ch.id)
        assert await n.get_subscriptions(ch.id) == []
        assert "channel.created" in r.event_names()


async def test_rest_401_refreshes_token_once_and_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with rig() as r:
        await r.notifications.create_channel()
        r.emulator.state.tokens.clear()  # every issued token is now unknown: a real 401
        await r.notifications.create_channel()
        assert len(r.times(TOKEN)) == 2
        assert len(r.times(CHANNELS)) == 3
        assert ("token.failed", {"reason": "rest_401", "endpoint": "channels.create"}) in r.events


async def test_persistent_401_is_an_api_error_without_token(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with rig() as r:
        r.emulator.faults.fail_api(401, 5)
        with pytest.raises(ApiError) as info:
            await r.notifications.create_channel()
        assert info.value.status == 401
        assert info.value.code == "bad.credentials"
        assert len(r.times(CHANNELS)) == 2  # original + one retry with a fresh token
        assert len(r.times(TOKEN)) == 2
        current = r.oauth.current
        assert current is not None
        assert current.value.reveal() not in str(info.value)


async def test_429_on_channel_creation_honours_retry_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with rig() as r:
        await r.oauth.token()
        r.emulator.faults.fail_api(429, 2, retry_after=5, path_prefix=CHANNELS)
        await r.notifications.create_channel()
        times = r.times(CHANNELS)
        assert len(times) == 3
        assert times[1] - times[0] >= 5
        assert times[2] - times[1] >= 5


async def test_5xx_on_subscriptions_is_retried(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        ch = await r.notifications.create_channel()
        r.emulator.faults.fail_api(503, 2)
        topics = await r.notifications.put_subscriptions(ch.id, ["v2.system.health"])
        assert [t.id for t in topics] == ["v2.system.health"]
        assert [a["status"] for n, a in r.events if n == "http.retry"] == [503, 503]


async def test_full_path_to_streaming_socket(autojump_clock: trio.testing.MockClock) -> None:
    async with rig() as r:
        ch = await r.notifications.create_channel()
        ws = await open_websocket(
            ch.connect_uri, connector=r.emulator.connector, connect_timeout=10
        )
        replies: list[tuple[str | bytes, float]] = []
        pongs: list[tuple[bytes, float]] = []
        got_reply = trio.Event()
        got_pong = trio.Event()

        def on_message(data: str | bytes, t: float) -> None:
            replies.append((data, t))
            got_reply.set()

        def on_pong(payload: bytes, t: float) -> None:
            pongs.append((payload, t))
            got_pong.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.run_reader, on_message, on_pong)
            with trio.fail_after(30):
                sent = await ws.send_text(json.dumps({"message": "ping"}))
                await got_reply.wait()
                psent = await ws.send_ping(b"probe-1")
                await got_pong.wait()
            await ws.aclose(timeout=2)
        assert pongs[0][0] == b"probe-1" and pongs[0][1] >= psent
        bodies = [json.loads(d) for d, _ in replies]
        assert any(b.get("eventBody", {}).get("message") == "pong" for b in bodies), bodies
        assert replies[0][1] >= sent


def test_parse_channel_is_strict() -> None:
    good = {
        "id": "streaming-0-abc",
        "connectUri": "wss://streaming.mypurecloud.com/channels/streaming-0-abc",
        "expires": "2026-11-29T03:00:00.123Z",
    }
    ch = parse_channel(good)
    assert ch.expires == datetime(2026, 11, 29, 3, 0, 0, 123000, tzinfo=UTC)
    cases = {
        "id": {**good, "id": ""},
        "connectUri": {**good, "connectUri": "https://x/channels/y"},
        "expires": {**good, "expires": "tomorrow"},
    }
    for field, data in cases.items():
        with pytest.raises(InvalidResponse) as info:
            parse_channel(data)
        assert info.value.field == field
        assert field in str(info.value)
    missing = dict(good)
    del missing["expires"]
    with pytest.raises(InvalidResponse, match="'expires'"):
        parse_channel(missing)
    with pytest.raises(InvalidResponse, match=r"entities\[2\]\.id"):
        parse_channel({"x": 1}, where="entities[2]")
    with pytest.raises(InvalidResponse):
        parse_channel(["not", "an", "object"])


async def test_emulator_upgrade_faults_surface_as_transport_errors(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from genesys_pulse.transport import ConnectError, HandshakeError

    async with rig() as r:
        ch = await r.notifications.create_channel()
        r.emulator.faults.hang_upgrades(1)
        start = trio.current_time()
        with pytest.raises(ConnectError) as info:
            await open_websocket(ch.connect_uri, connector=r.emulator.connector, connect_timeout=4)
        assert info.value.kind == "timeout"
        assert trio.current_time() - start == pytest.approx(4)
        unknown = ch.connect_uri.rsplit("/", 1)[0] + "/streaming-9-unknown"
        with pytest.raises(HandshakeError) as rejected:
            await open_websocket(unknown, connector=r.emulator.connector, connect_timeout=4)
        assert rejected.value.status == 404
