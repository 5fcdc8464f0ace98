"""Acceptance 2, 5 (short token lifetime) and 6: hours of probing under MockClock.

Slot ``k`` must be scheduled *and sent* at exactly ``start + phase + k * interval``
through token refreshes, channel-expiry rotations and ``socket_closing``
rotations, with no slot missing or unanswered, and every internal structure
bounded. ``GENESYS_PULSE_SOAK_HOURS`` sets the emulated duration (default 24,
the acceptance run: about 45 s of real time on 2 idle cores; set it lower for
a quick local run).
"""

from __future__ import annotations

import itertools
import os
import time

import trio

from genesys_pulse.core.model import ProbeKind
from genesys_pulse.emulator import EmulatorSettings
from genesys_pulse.monitor import Monitor

from .conftest import Collector, genesys_config, monitored

HOURS = float(os.environ.get("GENESYS_PULSE_SOAK_HOURS", "24"))


def _check_contiguous(col: Collector, mon: Monitor, tid: str) -> None:
    probe = mon.targets[tid]
    sched = probe.schedule
    assert sched is not None
    for kind in (ProbeKind.CONTROL, ProbeKind.APPLICATION):
        samples = col.of(kind, tid)
        seqs = [s.seq for s in samples]
        assert seqs == list(range(probe.first_slot, probe.first_slot + len(seqs))), kind
        for s in samples:
            # exact: one multiplication from the slot index, never accumulated
            assert s.scheduled_mono == sched.start + sched.phase + s.seq * sched.interval
            assert s.sent_mono == s.scheduled_mono, (kind, s)
            assert not s.timed_out, (kind, s)
        sent = [s.sent_mono for s in samples]
        gaps = [b - a for a, b in itertools.pairwise(sent) if a is not None and b is not None]
        assert max(gaps) <= sched.interval + 1e-6


def _check_bounded(mon: Monitor) -> None:
    for probe in mon.targets.values():
        for st in probe.state.values():
            sizes = st.stats.sizes()
            assert sizes["window"] <= st.stats.capacity
            assert sizes["stable"] <= st.stats.capacity
            for key in ("all_time_buckets", "gap_buckets", "ipdv_buckets"):
                assert sizes[key] <= 1500, key
    for sup in mon.supervisors.values():
        assert len(sup.open_links) <= 2
        for link in sup.open_links:
            assert link.app.owed + link.app.pending <= 1  # stop-and-wait
            assert link.control.pending <= 1
    assert mon.looplag.remembered <= mon.looplag.stall_capacity
    assert mon.dispatcher.queue_length <= mon.dispatcher.capacity


async def test_hours_of_rotations_keep_the_schedule(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(
        heartbeat_period=30.0, token_ttl=3600, channel_ttl=1800.0, seed=7, event_rate=0.0
    )
    real0 = time.perf_counter()
    async with monitored(lambda e: genesys_config(e), settings=settings, loop_lag_tick=2.0) as (
        emu,
        mon,
        col,
        _,
    ):
        closes = 0
        end = trio.current_time() + HOURS * 3600
        while trio.current_time() < end:
            await trio.sleep(min(37 * 60, end - trio.current_time()))
            _check_bounded(mon)
            # a maintenance close of one target's current socket, announced 60 s ahead
            link = mon.targets["target-00"].link
            if link is not None and link.channel_id is not None and trio.current_time() < end - 120:
                emu.faults.schedule_close(90.0, channel=link.channel_id)
                closes += 1
        # let the last slot resolve
        await trio.sleep(0.5)
    real = time.perf_counter() - real0
    print(f"\n{HOURS:g} h emulated in {real:.1f} s real time")
    for tid in mon.targets:
        _check_contiguous(col, mon, tid)
    reasons = [e.attributes.get("reason") for e in col.named("rotation")]
    assert "channel_expiry" in reasons
    assert "token" in reasons
    if closes:
        assert "socket_closing" in reasons
    assert not col.named("connection.lost"), col.named("connection.lost")
    assert not col.named("timeout")
    assert len(emu.state.channels) <= 20
    _check_bounded(mon)


async def test_short_token_lifetime_refreshes_without_a_gap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(token_ttl=300, seed=3)
    async with monitored(lambda e: genesys_config(e), settings=settings) as (_e, mon, col, _):
        await trio.sleep(3600)
    refreshes = col.named("token.refresh")
    assert len(refreshes) >= 10
    assert len(col.named("token.issued")) == len(refreshes) + 1
    assert [e.attributes["reason"] for e in col.named("rotation")].count("token") >= 10
    _check_contiguous(col, mon, "target-00")
