"""Fault controller: distributions, spec grammar, and each fault observed by a
client over in-memory streams under a MockClock."""

from __future__ import annotations

import json
import random
import statistics

import pytest
import trio
import trio.testing

from genesys_pulse.emulator._faults import (
    Delay,
    FaultController,
    FaultSpec,
    FaultSpecError,
    parse_delay,
    parse_duration,
    parse_fault_spec,
)

from .test_streaming_support import FakeChannel, FakeRuntime, session

PONG = {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}


# -- grammar and distributions ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20ms", 0.020), ("1.5s", 1.5), ("2m", 120.0), ("1h", 3600.0), ("500us", 0.0005), ("3", 3.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "fast", "-1s", "10 parsecs", "nan"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_duration(text)


def test_parse_delay_forms() -> None:
    assert parse_delay("fixed:20ms") == Delay.fixed(0.020)
    assert parse_delay("normal:40ms:5ms:floor=1ms") == Delay.normal(0.040, 0.005, 0.001)
    spiky = parse_delay("normal:40ms:5ms:p=0.02:spike=200ms..600ms")
    assert (spiky.spike_p, spiky.spike_low, spiky.spike_high) == (0.02, 0.2, 0.6)
    assert parse_delay("uniform:1ms:3ms") == Delay("uniform", 0.001, 0.003)
    assert parse_delay(str(spiky)) == spiky  # str() round-trips


@pytest.mark.parametrize(
    "text", ["gamma:1ms", "fixed", "normal:1ms", "fixed:1ms:color=red", "uniform:3ms:1ms"]
)
def test_parse_delay_rejects(text: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_delay(text)


def test_normal_delay_respects_floor_and_moments() -> None:
    rng = random.Random(3)
    dist = Delay.normal(0.020, 0.005, floor=0.012)
    draws = [dist.sample(rng) for _ in range(5000)]
    assert min(draws) >= 0.012
    unclamped = [dist.sample(rng) for _ in range(5000) if True]
    assert statistics.median(unclamped) == pytest.approx(0.020, abs=0.0005)


def test_spikes_occur_with_their_probability() -> None:
    rng = random.Random(4)
    dist = Delay.fixed(0.010).with_spikes(0.1, 0.200, 0.300)
    draws = [dist.sample(rng) for _ in range(5000)]
    spikes = [d for d in draws if d > 0.1]
    assert 0.08 < len(spikes) / len(draws) < 0.12
    assert all(0.210 <= d <= 0.310 for d in spikes)


def test_parse_fault_specs() -> None:
    spec = parse_fault_spec("app-pong-delay=normal:20ms:5ms:floor=1ms")
    assert spec.name == "app-pong-delay" and spec.params["delay"] == Delay.normal(
        0.02, 0.005, 0.001
    )
    spec = parse_fault_spec("control-pong-delay=fixed:10ms:channel=streaming-0-x")
    assert spec.channel == "streaming-0-x" and spec.params["delay"] == Delay.fixed(0.01)
    assert parse_fault_spec("close=1011:internal error").params == {
        "code": 1011,
        "reason": "internal error",
    }
    assert parse_fault_spec("close").params == {"code": 1001, "reason": "idle timeout"}
    assert parse_fault_spec("login-fail=429:3:retry-after=2").params == {
        "status": 429,
        "count": 3,
        "retry-after": 2.0,
    }
    assert parse_fault_spec("api-fail=503:path=/api/v2/notifications").params["path"] == (
        "/api/v2/notifications"
    )
    assert parse_fault_spec("stall=5s").params == {"duration": 5.0}
    assert parse_fault_spec("control-pongs=off").params == {"enabled": False}
    sched = parse_fault_spec("schedule-close=90s:warn=false:lead=10s")
    assert sched.params["in"] == 90.0 and sched.params["warn"] is False
    assert sched.params["lead"] == 10.0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("teleport", "fault"),
        ("app-pong-delay=normal:20ms", "delay"),
        ("app-pong-drop=1.5", "fraction"),
        ("close=999", "code"),
        ("login-fail=200", "status"),
        ("stall=forever", "duration"),
        ("control-pongs=maybe", "enabled"),
        ("malformed=weird", "kind"),
        ("api-fail", "status"),
    ],
)
def test_bad_fault_specs_name_the_field(text: str, field: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_fault_spec(text)
    assert info.value.field == field
    assert field in str(info.value)


def test_policy_spec_apply_and_revert() -> None:
    faults = FaultController()
    revert = parse_fault_spec("app-pong-delay=fixed:20ms").apply(faults)
    assert faults.pong_delay("c", "app") == Delay.fixed(0.02)
    assert faults.pong_delay("c", "control") is None
    assert revert is not None
    revert()
    assert faults.pong_delay("c", "app") is None
    FaultSpec.from_mapping("control-pong-drop", {"fraction": 0.5, "channel": "c"}).apply(faults)
    assert faults.pong_drop("c", "control") == 0.5 and faults.pong_drop("d", "control") == 0.0


def test_http_faults_are_consumed() -> None:
    faults = FaultController()
    assert faults.take_login_fault() is None
    faults.fail_login(429, count=2, retry_after=3)
    first = faults.take_login_fault()
    assert first is not None and (first.status, first.retry_after, first.count) == (429, 3, 1)
    assert faults.take_login_fault() is not None
    assert faults.take_login_fault() is None
    faults.fail_api(503, path_prefix="/api/v2/notifications/channels")
    assert faults.take_api_fault("/api/v2/users/me") is None
    fault = faults.take_api_fault("/api/v2/notifications/channels/x/subscriptions")
    assert fault is not None and fault.status == 503
    faults.hang_upgrades(1, channel="a")
    assert faults.take_upgrade_hang("b") is False
    assert faults.take_upgrade_hang("a") is True
    assert faults.take_upgrade_hang("a") is False
    with pytest.raises(FaultSpecError):
        faults.fail_api(200)


# -- faults seen by a client -----------------------------------------------------------


async def test_app_and_control_pong_delays_are_exact_and_separate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        runtime.faults.set_pong_delay("app", Delay.fixed(0.020))
        runtime.faults.set_pong_delay("control", Delay.fixed(0.007))
        async with session(runtime) as (client, _):
            sent = await client.send_json({"message": "ping"})
            pong = await client.next()
            assert pong.json() == PONG
            assert pong.at - sent == pytest.approx(0.020, abs=1e-9)
            sent = await client.ping(b"c")
            pong = await client.next()
            assert pong.kind == "pong" and pong.at - sent == pytest.approx(0.007, abs=1e-9)
        nursery.cancel_scope.cancel()


async def test_per_channel_delay_overrides_global(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        channel = FakeChannel()
        runtime.faults.set_pong_delay("both", Delay.fixed(0.5))
        runtime.faults.set_pong_delay("app", Delay.fixed(0.1), channel=channel.id)
        async with session(runtime, channel) as (client, _):
            sent = await client.send_json({"message": "ping"})
            assert (await client.next()).at - sent == pytest.approx(0.1)
            sent = await client.ping(b"c")
            assert (await client.next()).at - sent == pytest.approx(0.5)
        nursery.cancel_scope.cancel()


async def test_delayed_pongs_keep_fifo_order(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        runtime.faults.set_pong_delay("control", Delay("uniform", 0.0, 0.5))
        async with session(runtime) as (client, channel):
            for i in range(30):
                await client.ping(str(i).encode())
                await trio.sleep(0.01)
            payloads = [(await client.next()).data for _ in range(30)]
            assert payloads == [str(i).encode() for i in range(30)]
            records = runtime.faults.records_for(channel.id, "control")
            assert all(r.delay is not None and r.drawn is not None for r in records)
            assert all(r.delay >= r.drawn - 1e-12 for r in records)  # type: ignore[operator]
            assert any(r.delay > r.drawn + 1e-6 for r in records)  # type: ignore[operator]
            sent = [r.sent_at for r in records]
            assert sent == sorted(sent)  # type: ignore[type-var]
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("kind", ["app", "control"])
async def test_pong_drops(autojump_clock: trio.testing.MockClock, kind: str) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=1e6, event_rate=0.0)
        runtime.faults.set_pong_drop(kind, 0.3)  # type: ignore[arg-type]
        async with session(runtime) as (client, channel):
            for _ in range(200):
                if kind == "app":
                    await client.send_json({"message": "ping"})
                else:
                    await client.ping(b"x")
            got = 0
            while not await client.nothing_for(1.0):
                got += 1
            records = runtime.faults.records_for(channel.id, kind)  # type: ignore[arg-type]
            dropped = sum(r.dropped for r in records)
            assert got == 200 - dropped
            assert 0.2 < dropped / 200 < 0.4
        nursery.cancel_scope.cancel()


async def test_stall_stops_reading_and_writing(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=10.0)
        async with session(runtime) as (client, channel):
            assert runtime.faults.stall(100.0) == 1
            await client.send_json({"message": "ping"})
            await client.ping(b"c")
            start = trio.current_time()
            assert await client.nothing_for(99.0, heartbeats=True)  # no heartbeats either
            # after the stall the held-back pings are processed again
            first = await client.next(heartbeats=True)
            assert first.at - start >= 99.0
            late = [first] + [await client.next(heartbeats=True) for _ in range(2)]
            kinds = {x.kind if x.kind != "text" else x.data for x in late}
            assert "pong" in kinds
            assert channel.session is not None
        nursery.cancel_scope.cancel()


async def test_stall_forever_keeps_socket_open_and_silent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=10.0)
        async with session(runtime) as (client, channel):
            runtime.faults.stall(channel=channel.id)
            await client.send_json({"message": "ping"})
            assert await client.nothing_for(3600.0, heartbeats=True)
            assert channel.session is not None
        nursery.cancel_scope.cancel()


async def test_reset_on_memory_stream_aborts_without_close_frame(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, channel):
            runtime.faults.reset()
            assert (await client.next()).kind == "eof"
            await trio.sleep(1.0)
            assert channel.session is None
            assert runtime.faults.sessions() == []
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(("code", "reason"), [(1001, "idle timeout"), (1011, "internal error")])
async def test_close_with_code(
    autojump_clock: trio.testing.MockClock, code: int, reason: str
) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, _):
            runtime.faults.close(code, reason)
            item = await client.next()
            assert (item.kind, item.code, item.reason) == ("close", code, reason)
            assert (await client.next()).kind == "eof"
        nursery.cancel_scope.cancel()


async def test_malformed_and_oversized_messages(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery)
        async with session(runtime) as (client, _):
            runtime.faults.send_malformed("not-json")
            item = await client.next()
            with pytest.raises(ValueError):
                json.loads(item.data)
            runtime.faults.send_malformed("wrong-shape")
            assert not isinstance((await client.next()).json(), dict)
            runtime.faults.send_oversized(70_000)
            big = await client.next()
            assert len(big.data.encode()) == 70_000 > 65536
            assert big.json()["topicName"] == "channel.metadata"
        nursery.cancel_scope.cancel()
