"""First end-to-end run under MockClock."""

from __future__ import annotations

import trio

from genesys_pulse.core.model import ProbeKind
from genesys_pulse.emulator import EmulatorSettings

from .conftest import genesys_config, monitored


async def test_smoke_probes_flow(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(heartbeat_period=2.0, seed=1)
    async with monitored(lambda e: genesys_config(e, heartbeat_period=2.0), settings=settings) as (
        _emu,
        _mon,
        col,
        _,
    ):
        await trio.sleep(20)
    ctrl = col.of(ProbeKind.CONTROL)
    app = col.of(ProbeKind.APPLICATION)
    hb = col.of(ProbeKind.HEARTBEAT)
    print([e.name for e in col.events])
    print(ctrl[:3], app[:3], hb[:3])
    assert len(ctrl) >= 19 and not any(s.timed_out for s in ctrl)
    assert len(app) >= 19 and not any(s.timed_out for s in app)
    assert hb
