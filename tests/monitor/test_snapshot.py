"""``take_snapshot``: immutable values that stay as they were when the monitor moves on."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import trio
import trio.testing

from genesys_pulse.core.model import ProbeKind
from genesys_pulse.emulator import EmulatorSettings
from genesys_pulse.monitor import KindSnapshot, MonitorSnapshot, TargetSnapshot, take_snapshot

from .conftest import genesys_config, monitored


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def test_a_snapshot_is_immutable_and_does_not_follow_the_monitor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(heartbeat_period=2.0, seed=4)
    async with monitored(
        lambda e: genesys_config(e, n=2, heartbeat_period=2.0), settings=settings
    ) as (emu, monitor, col, _):
        await trio.sleep(12.5)
        snap = take_snapshot(monitor)
        kept = copy.deepcopy(snap)
        samples_then = list(col.samples)

        # the monitor moves on: every pong lost, then the socket closed
        emu.faults.set_pong_drop("both", 1.0)
        await trio.sleep(6)
        emu.faults.close(1011, "snapshot test")
        await trio.sleep(0.2)
        later = take_snapshot(monitor)

    # the figures were the monitor's at the time it was taken ...
    assert isinstance(snap, MonitorSnapshot)
    assert snap.total_targets == 2 and len(snap.targets) == 2
    assert snap.total_kinds == 6  # control, application, heartbeat per target
    first = snap.targets[0]
    assert isinstance(first, TargetSnapshot) and first.id == "target-00"
    assert first.connection == "connected" and first.ever_connected and first.failure is None
    assert [k.kind for k in first.kinds] == [
        ProbeKind.CONTROL,
        ProbeKind.APPLICATION,
        ProbeKind.HEARTBEAT,
    ]
    ctrl = first.kinds[0]
    assert isinstance(ctrl, KindSnapshot)
    sent = [s for s in samples_then if s.target == first.id and s.probe is ProbeKind.CONTROL]
    assert ctrl.count == len(sent) >= 10 and ctrl.timeouts == 0
    rtts = [s.rtt_s for s in sent if s.rtt_s is not None]
    assert ctrl.window_p50_s == nearest_rank(rtts, 0.5)
    assert ctrl.window_p99_s == nearest_rank(rtts, 0.99)
    assert ctrl.recent == tuple(s.rtt_s for s in sent)[-30:]
    assert ctrl.level == "ok" and dict(ctrl.levels)["rtt"] == "ok"
    hb = first.kinds[2]
    assert hb.count >= 4 and hb.all_time_max_s is not None and hb.recent == ()

    # ... and stay so: equal to the deep copy made at once, although the monitor changed
    assert snap == kept
    after = later.targets[0]
    assert after.kinds[0].timeouts > 0 and after.kinds[0].count > ctrl.count
    assert after.connection != "connected" or after.kinds[0].recent != ctrl.recent
    assert after != first

    # frozen all the way down: no attribute can be set, the sequences are tuples
    for obj, name in ((snap, "targets"), (first, "connection"), (ctrl, "timeouts")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)
    assert isinstance(snap.targets, tuple) and isinstance(first.kinds, tuple)
    assert isinstance(ctrl.recent, tuple) and isinstance(ctrl.levels, tuple)


async def test_max_targets_limits_the_work_but_not_the_totals(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with monitored(lambda e: genesys_config(e, n=3)) as (_emu, monitor, _col, _):
        await trio.sleep(3.5)
        snap = take_snapshot(monitor, max_targets=1, recent=2)
    assert [t.id for t in snap.targets] == ["target-00"]
    assert snap.total_targets == 3 and snap.total_kinds == 9
    assert len(snap.targets[0].kinds[0].recent) == 2


async def test_a_target_backing_off_shows_why_and_when_it_retries(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The socket closed and upgrades hang: the snapshot says ``backoff``, with the reason,
    the error and the time to the next attempt of the ``reconnect`` event reported last."""
    async with monitored(lambda e: genesys_config(e)) as (emu, monitor, col, _):
        await trio.sleep(3)
        emu.faults.hang_upgrades(count=1000)
        emu.faults.close(1011, "snapshot test")
        snap = take_snapshot(monitor)
        with trio.fail_after(120):
            while snap.targets[0].connection != "backoff":
                await trio.sleep(0.05)
                snap = take_snapshot(monitor)
        reported = col.named("reconnect")[-1]  # the back-off the snapshot was taken in
    target = snap.targets[0]
    assert target.backoff is not None
    assert target.backoff.reason == reported.attributes["reason"]
    assert target.backoff.error == reported.attributes["error"]
    delay = reported.attributes["delay_s"]
    assert isinstance(delay, float)
    assert target.backoff.retry_in_s is not None
    assert 0.0 <= target.backoff.retry_in_s <= delay + 0.001
    assert target.ever_connected and target.failure is None
