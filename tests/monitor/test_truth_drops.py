"""Random drops at a normal RTT: the reported timeouts are exactly the dropped pongs.

The emulator drops 20 % of application pongs (in order, RTT 20 ms otherwise)
and records the fate of every pong it was asked for (``faults.pong_records``).
With a timeout of 50 ms the stop-and-wait loss horizon (10 x timeout = 0.5 s)
ends before the next slot, so each dropped pong costs exactly its own slot.
MockClock, in-memory connection: times are exact.
"""

from __future__ import annotations

import trio
import trio.testing

from genesys_pulse.core.model import ProbeKind
from genesys_pulse.emulator import EmulatorSettings
from genesys_pulse.emulator._faults import Delay

from .conftest import genesys_config, monitored

DELAY = 0.020


async def test_random_drops_time_out_exactly_the_dropped_pongs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=3, event_rate=0.0)
    async with monitored(
        lambda e: genesys_config(e, interval="1s", timeout="50ms"), settings=settings
    ) as (emu, mon, col, _):
        probe = mon.targets["target-00"]
        await probe.connected.wait()
        await trio.sleep(3)
        t0 = trio.current_time()
        emu.faults.set_pong_delay("app", Delay.fixed(DELAY))
        emu.faults.set_pong_drop("app", 0.2)
        await trio.sleep(200)
        emu.faults.set_pong_drop("app", 0.0)
        t1 = trio.current_time()
        await trio.sleep(3)
        link = probe.link
        assert link is not None
        strays = link.app.strays
    records = [r for r in emu.faults.pong_records if r.kind == "app" and t0 <= r.received_at <= t1]
    dropped = sum(r.delay is None for r in records)
    assert dropped >= 20, dropped  # the fault really happened
    app = [
        s
        for s in col.of(ProbeKind.APPLICATION)
        if not s.late and s.sent_mono is not None and t0 <= s.sent_mono <= t1
    ]
    assert len(app) == len(records)  # one ping per slot, each reached the server
    timeouts = [s for s in app if s.timed_out]
    print(f"\n{dropped} of {len(records)} application pongs dropped; {len(timeouts)} timeouts")
    assert len(timeouts) == dropped
    assert all(s.timeout_reason == "no_answer" for s in timeouts)
    # no slot skipped: every slot sent its ping (the horizon ended before it)
    assert not [
        s for s in col.of(ProbeKind.APPLICATION) if s.timeout_reason == "previous_ping_unanswered"
    ]
    rtts = [s.rtt_s for s in app if s.rtt_s is not None]
    assert rtts and min(rtts) >= DELAY - 1e-9, min(rtts)
    assert max(rtts) <= DELAY + 1e-6
    assert not [s for s in col.samples if s.late] and strays == 0
    # the control probe was untouched
    ctl = [s for s in col.of(ProbeKind.CONTROL) if t0 <= s.scheduled_mono <= t1]
    assert ctl and not any(s.timed_out for s in ctl)
