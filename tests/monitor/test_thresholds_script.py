"""Acceptance 3: a scripted scenario gives exactly the expected threshold events,
and a late application pong is never credited to a later ping.

Under MockClock with the emulator's in-memory connector the only latency is
the one the emulator injects, so RTTs are exact and the event sequence is
deterministic.
"""

from __future__ import annotations

import trio

from genesys_pulse.core.model import ProbeKind
from genesys_pulse.emulator import EmulatorSettings
from genesys_pulse.emulator._faults import Delay

from .conftest import genesys_config, monitored

SETTINGS = EmulatorSettings(seed=5, event_rate=0.0)


def _threshold_events(col):  # type: ignore[no-untyped-def]
    return [
        (e.name, e.attributes["probe"], e.attributes["metric"], e.attributes["level"])
        for e in col.named("threshold.breach", "threshold.clear")
    ]


async def test_scripted_scenario_gives_exactly_the_expected_transitions(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with monitored(lambda e: genesys_config(e), settings=SETTINGS) as (emu, mon, col, _):
        probe = mon.targets["target-00"]
        await probe.connected.wait()
        sched = probe.schedule
        assert sched is not None
        k0 = sched.next_slot(trio.current_time()) + 60
        # slots k0 .. k0+7: application pongs 200 ms late (warning: 150 ms, critical 400 ms)
        await trio.sleep_until(sched.due(k0) - 0.5)
        emu.faults.set_pong_delay("app", Delay.fixed(0.200))
        await trio.sleep_until(sched.due(k0 + 8) - 0.5)
        emu.faults.set_pong_delay("app", None)
        # slots k0+20 .. k0+29: application pongs 500 ms late (critical)
        await trio.sleep_until(sched.due(k0 + 20) - 0.5)
        emu.faults.set_pong_delay("app", Delay.fixed(0.500))
        await trio.sleep_until(sched.due(k0 + 30) - 0.5)
        emu.faults.set_pong_delay("app", None)
        await trio.sleep_until(sched.due(k0 + 45))
    app = {s.seq: s for s in col.of(ProbeKind.APPLICATION)}
    assert app[k0].rtt_s is not None and abs(app[k0].rtt_s - 0.2) < 1e-6
    assert app[k0 + 20].rtt_s is not None and abs(app[k0 + 20].rtt_s - 0.5) < 1e-6
    # Expected, from the rules (k=3 of n=5 raise, m=5 clear):
    # * RTT 200 ms for 8 slots: warning after the 3rd, clear after 5 clean ones;
    # * jitter |IPDV| of each step (0.2, 0.2, then 0.5, 0.5) is critical but only
    #   once per step within any 5 samples: no jitter transition;
    # * RTT 500 ms for 10 slots: critical after the 3rd (the 400 ms level), then
    #   straight back to ok after 5 clean ones;
    # * stability (answered within 400 ms) over the 300-slot window: 80 good
    #   slots are in it when the 500 ms pongs start: 80/81 = 0.988 and 80/82 =
    #   0.976 are warnings, 80/83 = 0.964 and lower are critical. Warning after
    #   3 values (W, W, C), critical after 5 (three C), and it stays critical
    #   (the window remembers the misses);
    # * control probes are untouched; no timeouts.
    got = _threshold_events(col)
    assert got == [
        ("threshold.breach", "application", "rtt", "warning"),
        ("threshold.clear", "application", "rtt", "ok"),
        ("threshold.breach", "application", "rtt", "critical"),
        ("threshold.breach", "application", "stability", "warning"),
        ("threshold.breach", "application", "stability", "critical"),
        ("threshold.clear", "application", "rtt", "ok"),
    ], got
    assert not col.named("timeout")


async def test_late_pong_is_not_credited_to_the_next_ping(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with monitored(lambda e: genesys_config(e), settings=SETTINGS) as (emu, mon, col, _):
        probe = mon.targets["target-00"]
        await probe.connected.wait()
        sched = probe.schedule
        assert sched is not None
        k = sched.next_slot(trio.current_time()) + 2
        # ping k: its pong comes 1.2 s later, after ping k+1 (interval 1 s, timeout 1 s)
        await trio.sleep_until(sched.due(k) - 0.5)
        emu.faults.set_pong_delay("app", Delay.fixed(1.2))
        # ping k+1: its own pong comes 0.5 s after it, i.e. 0.3 s after k's late pong
        await trio.sleep_until(sched.due(k) + 0.5)
        emu.faults.set_pong_delay("app", Delay.fixed(0.5))
        await trio.sleep_until(sched.due(k + 1) + 0.5)
        emu.faults.set_pong_delay("app", None)
        await trio.sleep_until(sched.due(k + 5))
        link = probe.link
        assert link is not None
        assert link.late_pongs == 1  # k's pong, recognised as late
        assert link.app.strays == 0
    app = {s.seq: s for s in col.of(ProbeKind.APPLICATION)}
    assert app[k].timed_out and app[k].rtt_s is None
    # a naive "next pong answers the outstanding ping" rule would report 0.2 s here
    assert app[k + 1].rtt_s is not None and abs(app[k + 1].rtt_s - 0.5) < 1e-6
    assert not app[k + 2].timed_out
    assert [e.attributes["probe"] for e in col.named("timeout")] == ["application"]
    assert not col.named("threshold.breach")
