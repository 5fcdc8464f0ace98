"""Faults the monitor must detect and survive: half-open stall, heartbeat silence,
TCP reset; plus window events and sharding."""

from __future__ import annotations

import dataclasses
import itertools

import trio

from genesys_pulse.core.config import parse_config
from genesys_pulse.core.model import ProbeKind
from genesys_pulse.emulator import EmulatorSettings
from genesys_pulse.monitor import select_shard

from .conftest import genesys_config, monitored


async def test_half_open_stall_is_detected_and_recovered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=31, event_rate=0.0)
    async with monitored(lambda e: genesys_config(e), settings=settings) as (emu, mon, col, _):
        probe = mon.targets["target-00"]
        await trio.sleep(5.5)
        stalled = probe.link
        assert stalled is not None
        emu.faults.stall()  # nothing read or written any more, TCP stays up
        await trio.sleep(20)
        assert probe.link is not None and probe.link is not stalled
        assert stalled.dead_reason == "probe_timeouts"
        assert len(mon.supervisors["target-00"].open_links) == 1  # the stalled one was closed
    lost = col.named("connection.lost")
    assert len(lost) == 1 and lost[0].attributes["reason"] == "probe_timeouts"
    assert col.named("connection.restored")
    ctrl = col.of(ProbeKind.CONTROL)
    timeouts = [s for s in ctrl if s.timed_out]
    # detected after 3 lost slots (+ backoff below 1 s, so at most one more unanswered slot)
    assert 3 <= len(timeouts) <= 4
    seqs = [s.seq for s in ctrl]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert [e.attributes["probe"] for e in col.named("timeout")][:2] == ["control", "application"]


async def test_heartbeat_silence_is_a_timed_out_heartbeat_sample(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # no active probes: heartbeats are the only signal (period 2 s, critical silence 6 s)
    settings = EmulatorSettings(seed=32, heartbeat_period=2.0, event_rate=0.0)
    async with monitored(
        lambda e: genesys_config(
            e, heartbeat_period=2.0, control_pings=False, application_pings=False
        ),
        settings=settings,
    ) as (emu, _mon, col, _):
        await trio.sleep(10.5)
        emu.faults.stall()
        await trio.sleep(15)
    hb = col.of(ProbeKind.HEARTBEAT)
    silent = [s for s in hb if s.timed_out]
    assert len(silent) == 1
    assert silent[0].gap_s is not None and 6.0 < silent[0].gap_s <= 7.0
    assert all(s.gap_s == 2.0 for s in hb if not s.timed_out)
    lost = col.named("connection.lost")
    assert lost and lost[0].attributes["reason"] == "heartbeat_silence"
    assert not col.of(ProbeKind.CONTROL)


async def test_reset_is_a_lost_connection_with_code_1006(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=33, event_rate=0.0)
    async with monitored(lambda e: genesys_config(e), settings=settings) as (emu, mon, col, _):
        await trio.sleep(3.5)
        emu.faults.reset()
        await trio.sleep(5)
        assert mon.targets["target-00"].connection_state == "connected"
    lost = col.named("connection.lost")
    assert len(lost) == 1 and lost[0].attributes["code"] == 1006


async def test_window_events_carry_the_summary(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(seed=34, event_rate=0.0)
    async with monitored(
        lambda e: dataclasses.replace(genesys_config(e), window=10.0), settings=settings
    ) as (_e, _m, col, _):
        await trio.sleep(35)
    windows = col.named("window")
    assert len(windows) == 3
    for w in windows:
        assert w.attributes["window_s"] == 10.0
        assert "control.p50_s" in w.attributes and "application.stability" in w.attributes
        assert all(v is not None for v in w.attributes.values())


def test_shards_partition_the_targets() -> None:
    targets = [{"id": f"target-{i:04d}", "environment": "mypurecloud.com"} for i in range(200)]
    config = parse_config({"targets": targets})
    seen: list[str] = []
    for i in range(4):
        part = select_shard(dataclasses.replace(config, shard=(i, 4)))
        assert 20 < len(part) < 80
        seen += [t.id for t in part]
    assert sorted(seen) == sorted(t["id"] for t in targets)
    # adding targets never moves an existing one
    more = parse_config(
        {"targets": [*targets, {"id": "target-new-01", "environment": "mypurecloud.com"}]}
    )
    for i in range(4):
        before = {t.id for t in select_shard(dataclasses.replace(config, shard=(i, 4)))}
        after = {t.id for t in select_shard(dataclasses.replace(more, shard=(i, 4)))}
        assert before <= after


async def test_topics_are_subscribed_and_targets_are_staggered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    topic = "v2.analytics.queues.7d3a6a50-0000-4000-8000-000000000001.observations"
    settings = EmulatorSettings(seed=35, event_rate=1.0)
    async with monitored(lambda e: genesys_config(e, n=4, topics=[topic]), settings=settings) as (
        emu,
        mon,
        col,
        _,
    ):
        await trio.sleep(6)
        links = [p.link for p in mon.targets.values()]
        assert all(link is not None for link in links)
        for link in links:
            assert link is not None and link.channel_id is not None
            channel = emu.state.channels[link.channel_id]
            assert topic in channel.topics
            assert link.other_messages > 0  # notifications were read (and drained)
    # phases spread evenly over the interval: 0, 1/4, 2/4, 3/4
    phases = sorted({round(s.scheduled_mono % 1.0, 6) for s in col.of(ProbeKind.CONTROL)})
    offsets = [round((b - a), 6) for a, b in itertools.pairwise(phases)]
    assert len(phases) == 4 and all(abs(o - 0.25) < 1e-6 for o in offsets), phases
