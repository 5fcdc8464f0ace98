"""The streaming socket session, driven over in-memory streams under a MockClock."""

from __future__ import annotations

import itertools
import json

import pytest
import trio
import trio.testing

from .test_streaming_support import Client, FakeChannel, FakeRuntime, session

HEARTBEAT = {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
PONG = {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}
QUEUE_TOPIC = "v2.analytics.queues.0b0e5d0c-8e5c-4f0a-9a9b-111122223333.observations"


async def test_heartbeats_on_absolute_schedule(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=30.0)
        async with session(runtime) as (client, channel):
            start = trio.current_time()
            beats = []
            for _ in range(4):
                item = await client.next(heartbeats=True)
                assert item.json() == HEARTBEAT
                beats.append(item.at - start)
            assert beats == pytest.approx([30.0, 60.0, 90.0, 120.0], abs=1e-6)
            assert channel.session is not None
        nursery.cancel_scope.cancel()


async def test_app_ping_gets_pong(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, channel):
            sent = await client.send_json({"message": "ping"})
            item = await client.next()
            assert item.kind == "text" and item.json() == PONG
            assert item.at == pytest.approx(sent, abs=1e-9)
            (record,) = runtime.faults.records_for(channel.id, "app")
            assert record.delay == 0.0 and record.sent_at is not None
        nursery.cancel_scope.cancel()


async def test_control_ping_gets_pong_with_payload(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, channel):
            await client.ping(b"probe-17")
            item = await client.next()
            assert item.kind == "pong" and item.data == b"probe-17"
            assert len(runtime.faults.records_for(channel.id, "control")) == 1
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("switch", ["settings", "global", "channel"])
async def test_control_pongs_switched_off(
    autojump_clock: trio.testing.MockClock, switch: str
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, control_pongs=(switch != "settings"))
        channel = FakeChannel()
        if switch == "global":
            runtime.faults.set_control_pongs(False)
        elif switch == "channel":
            runtime.faults.set_control_pongs(False, channel=channel.id)
            runtime.faults.set_control_pongs(True)  # the channel's switch wins
        async with session(runtime, channel) as (client, _):
            await client.ping(b"x")
            assert await client.nothing_for(10.0)
            await client.send_json({"message": "ping"})  # app pings still answered
            assert (await client.next()).json() == PONG
        nursery.cancel_scope.cancel()


async def test_subscribe_and_unsubscribe_acks(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, event_rate=0.0)
        async with session(runtime) as (client, channel):
            await client.send_json(
                {"message": "subscribe", "topics": [QUEUE_TOPIC], "correlationId": "abc123"}
            )
            ack = (await client.next()).json()
            assert ack == {"result": "200", "status": "subscribed", "correlationId": "abc123"}
            assert QUEUE_TOPIC in channel.topics
            assert channel.expires_at == pytest.approx(trio.current_time() + 86400.0)
            await client.send_json(
                {"message": "unsubscribe", "topics": [QUEUE_TOPIC], "correlationId": "c2"}
            )
            ack = (await client.next()).json()
            assert ack == {"result": "200", "status": "unsubscribed", "correlationId": "c2"}
            assert channel.topics == {}
            # refused by the state: its status and message come back
            await client.send_json(
                {"message": "subscribe", "topics": ["v2.forbidden.x"], "correlationId": "c3"}
            )
            fail = (await client.next()).json()
            assert fail["result"] == "403" and fail["status"] == "failure"
            assert fail["correlationId"] == "c3" and "permission" in fail["message"]
            # topics of the wrong shape
            await client.send_json({"message": "subscribe", "topics": [{"id": QUEUE_TOPIC}]})
            fail = (await client.next()).json()
            assert fail["result"] == "400" and fail["status"] == "failure"
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "payload",
    ["not json at all", "[1, 2, 3]", '{"message": "dance"}', '{"nomessage": 1}', '"ping"'],
)
async def test_bad_client_messages_get_400_and_session_survives(
    autojump_clock: trio.testing.MockClock, payload: str
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, _):
            await client.send_text(payload)
            reply = (await client.next()).json()
            assert reply["result"] == "400" and reply["status"] == "failure"
            assert reply["message"]
            await client.send_json({"message": "ping"})
            assert (await client.next()).json() == PONG
        nursery.cancel_scope.cancel()


async def test_binary_message_gets_400(autojump_clock: trio.testing.MockClock) -> None:
    from wsproto.events import BytesMessage

    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, _):
            await client.stream.send_all(client.ws.send(BytesMessage(data=b"\x00\x01")))
            reply = (await client.next()).json()
            assert reply["result"] == "400"
        nursery.cancel_scope.cancel()


async def test_oversized_inbound_message_closes_1009(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, max_ws_message=1024)
        async with session(runtime) as (client, channel):
            await client.send_text(json.dumps({"message": "ping", "pad": "x" * 2000}))
            item = await client.next()
            assert item.kind == "close" and item.code == 1009
            assert (await client.next()).kind == "eof"
            assert channel.session is None
        nursery.cancel_scope.cancel()


async def test_socket_closing_exactly_lead_before_scheduled_close(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=1000.0)
        async with session(runtime) as (client, _):
            start = trio.current_time()
            scheduled = runtime.faults.schedule_close(300.0, code=1001, reason="maintenance")
            warning = await client.next()
            body = warning.json()
            assert body["topicName"] == "v2.system.socket_closing"
            assert body["version"] == "2"
            assert body["eventBody"] == {"message": "Socket closing"}
            assert body["metadata"]["CorrelationId"] == scheduled.correlation_id
            assert warning.at - start == pytest.approx(240.0, abs=1e-6)
            close = await client.next()
            assert close.kind == "close" and (close.code, close.reason) == (1001, "maintenance")
            assert close.at - start == pytest.approx(300.0, abs=1e-6)
        nursery.cancel_scope.cancel()


async def test_scheduled_close_without_warning_and_other_channel_untouched(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=1000.0)
        other = FakeChannel(id="streaming-1-otherotherotherotherotherot")
        async with session(runtime) as (client, channel), session(runtime, other) as (c2, _):
            runtime.faults.schedule_close(
                100.0, code=1011, reason="x", channel=channel.id, warn=False
            )
            close = await client.next()
            assert close.kind == "close" and close.code == 1011
            assert await c2.nothing_for(200.0)
        nursery.cancel_scope.cancel()


async def test_channel_expiry_closes_and_resubscribe_extends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(
            nursery, heartbeat_period=10_000.0, event_rate=0.0, channel_ttl=3600.0
        )
        channel = FakeChannel(expires_at=trio.current_time() + 3600.0)
        async with session(runtime, channel) as (client, _):
            start = trio.current_time()
            await trio.sleep(3000.0)
            await client.send_json({"message": "subscribe", "topics": ["v2.users.u1.presence"]})
            assert (await client.next()).json()["status"] == "subscribed"
            notice = await client.next()
            assert notice.json()["result"] == "404"
            assert notice.at - start == pytest.approx(3000.0 + 3600.0, abs=1e-3)
            close = await client.next()
            assert close.kind == "close" and close.code == 1000
        nursery.cancel_scope.cancel()


async def test_second_socket_takes_over_channel(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        channel = FakeChannel()
        async with session(runtime, channel) as (first, _):
            first_session = channel.session
            async with session(runtime, channel) as (second, _):
                close = await first.next()
                assert close.kind == "close" and close.code == 1000
                assert "replaced" in close.reason
                assert channel.session is not first_session and channel.session is not None
                await second.send_json({"message": "ping"})
                assert (await second.next()).json() == PONG
        nursery.cancel_scope.cancel()


async def test_client_close_is_answered(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, channel):
            await client.close(1000)
            item = await client.next()
            assert item.kind == "close" and item.code == 1000
            assert (await client.next()).kind == "eof"
            assert channel.session is None
        nursery.cancel_scope.cancel()


async def test_queue_observation_events_at_most_one_per_second(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=10_000.0)
        async with session(runtime) as (client, _):
            await client.send_json({"message": "subscribe", "topics": [QUEUE_TOPIC]})
            assert (await client.next()).json()["status"] == "subscribed"
            times = []
            for _ in range(5):
                item = await client.next()
                body = item.json()
                assert body["topicName"] == QUEUE_TOPIC
                assert body["version"] == "2"
                assert body["metadata"]["CorrelationId"]
                group = body["eventBody"]["group"]
                assert group["queueId"] == "0b0e5d0c-8e5c-4f0a-9a9b-111122223333"
                data = body["eventBody"]["data"][0]
                start, _, end = data["interval"].partition("/")
                assert start.endswith("Z") and end.endswith("Z")
                assert {m["metric"] for m in data["metrics"]} >= {"oWaiting", "oAlerting"}
                times.append(item.at)
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert min(gaps) >= 1.0 - 1e-9
        nursery.cancel_scope.cancel()


async def test_handshake_garbage_is_refused(autojump_clock: trio.testing.MockClock) -> None:
    from genesys_pulse.emulator._streaming import serve_channel_socket

    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        client_stream, server_stream = trio.testing.memory_stream_pair()
        with trio.fail_after(5):
            await serve_channel_socket(
                runtime, server_stream, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", FakeChannel()
            )
        data = await client_stream.receive_some(1000)
        assert data.startswith(b"HTTP/1.1 4") or data == b""
        nursery.cancel_scope.cancel()


__all__ = ["Client"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\x81\x05hello", 1002),  # unmasked client frame
        (b"\x81\x82\x00\x00\x00\x00\xff\xfe", 1007),  # masked text frame, invalid UTF-8
        (b"\x8f\x80\x00\x00\x00\x00", 1002),  # reserved opcode
    ],
)
async def test_protocol_errors_close_without_crashing(
    autojump_clock: trio.testing.MockClock, raw: bytes, code: int
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, channel):
            await client.stream.send_all(raw)
            item = await client.next()
            assert item.kind == "close" and item.code == code
            await trio.sleep(5.0)
            assert channel.session is None
        nursery.cancel_scope.cancel()
