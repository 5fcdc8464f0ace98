"""Acceptance 6: socket_closing and channel expiry rotate make-before-break.

Also: an unannounced close reconnects on the same channel with a quick first
retry, and the unanswered slots in between are recorded as timed-out samples.
"""

from __future__ import annotations

import itertools

import trio

from genesys_pulse.core.model import ProbeKind
from genesys_pulse.emulator import EmulatorSettings

from .conftest import Collector, genesys_config, monitored


def _max_gap(col: Collector, kind: ProbeKind) -> float:
    sent = [s.sent_mono for s in col.of(kind) if s.sent_mono is not None]
    return max(b - a for a, b in itertools.pairwise(sent))


async def test_socket_closing_rotates_before_the_close(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=11, socket_closing_lead=60.0, event_rate=0.0)
    async with monitored(lambda e: genesys_config(e), settings=settings) as (emu, mon, col, _):
        probe = mon.targets["target-00"]
        sup = mon.supervisors["target-00"]
        await trio.sleep(10)
        old = probe.link
        assert old is not None and old.channel_id is not None
        emu.faults.schedule_close(70.0, channel=old.channel_id)
        await trio.sleep(12)  # the warning came at +10 s; the old link retires after 1 timeout
        new = probe.link
        assert new is not None and new is not old
        assert new.channel_id != old.channel_id  # a second socket would kick the first
        assert old.ws.close_info is not None and old.ws.close_info.code == 1000  # we closed it
        assert len(sup.open_links) == 1
        await trio.sleep(80)  # past the scheduled close: nothing happens to the new socket
    assert [e.attributes["reason"] for e in col.named("rotation")] == ["socket_closing"]
    assert len(col.named("socket_closing")) == 1
    assert not col.named("connection.lost")
    assert not [s for s in col.samples if s.timed_out]
    for kind in (ProbeKind.CONTROL, ProbeKind.APPLICATION):
        assert _max_gap(col, kind) <= 1.0 + 1e-9
    assert len(col.named("channel.created")) == 2


async def test_channel_expiry_rotates_five_minutes_ahead(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=12, channel_ttl=700.0, event_rate=0.0)
    async with monitored(lambda e: genesys_config(e), settings=settings) as (emu, _mon, col, _):
        await trio.sleep(1000)  # rotations at ~400 s and ~800 s (expires - 300 s)
    rotations = col.named("rotation")
    assert [e.attributes["reason"] for e in rotations] == ["channel_expiry", "channel_expiry"]
    assert not col.named("connection.lost", "channel.expired")
    assert not [s for s in col.samples if s.timed_out]
    for kind in (ProbeKind.CONTROL, ProbeKind.APPLICATION):
        assert _max_gap(col, kind) <= 1.0 + 1e-9
    assert len(emu.state.channels) <= 3


async def test_unannounced_close_reconnects_and_records_the_lost_slots(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=13, event_rate=0.0)
    async with monitored(lambda e: genesys_config(e), settings=settings) as (emu, mon, col, _):
        probe = mon.targets["target-00"]
        await trio.sleep(5.5)
        old = probe.link
        assert old is not None
        emu.faults.close(1001, "idle timeout")
        await trio.sleep(10)
        assert probe.link is not None and probe.link is not old
        assert probe.link.channel_id == old.channel_id  # the channel is reused
    lost = col.named("connection.lost")
    assert len(lost) == 1 and lost[0].attributes["code"] == 1001
    assert len(col.named("connection.restored")) == 1
    assert len(col.named("channel.created")) == 1
    # the quick first retry (<= 0.25 s) costs at most one slot per kind, recorded as a timeout
    ctrl = col.of(ProbeKind.CONTROL)
    seqs = [s.seq for s in ctrl]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    unanswered = [s for s in ctrl if s.timed_out]
    assert len(unanswered) <= 1
    assert all(s.sent_mono is None for s in unanswered)


async def test_maintenance_scenario_announces_every_socket_without_churn(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The ``maintenance`` scenario announces the close to every socket, including the
    one we rotate to: rotate once, then reconnect at once on the planned close, with no
    slot lost and no channel churn (503 bursts on REST are never hit: the channel is reused)."""
    from genesys_pulse.core.config import parse_config, with_credentials
    from genesys_pulse.emulator import open_emulator
    from genesys_pulse.monitor import run_monitor

    col = Collector()
    async with open_emulator(scenario="maintenance") as emu:
        base = parse_config({"targets": [{"id": "target-00", "environment": "mypurecloud.com"}]})
        cfg = with_credentials(base, emu.client_id, emu.client_secret, emu.login_url, emu.api_url)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_monitor(
                    cfg, sinks=[col], connector=emu.connector, task_status=task_status
                )
            )
            await trio.sleep(400)  # two maintenance cycles (every 180 s)
            nursery.cancel_scope.cancel()
    assert [e.attributes["reason"] for e in col.named("rotation")] == ["socket_closing"] * 2
    lost = col.named("connection.lost")
    assert len(lost) == 2 and all(e.attributes["planned"] for e in lost)
    # the first rotation creates a channel; the second reuses the one the first left idle
    assert len(col.named("channel.created")) == 2
    assert not [s for s in col.samples if s.timed_out]
    assert not col.named("threshold.breach")
