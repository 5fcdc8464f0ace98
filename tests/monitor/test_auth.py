"""Acceptance 5 (monitor side): invalid_client stops the target, 429 on login honours Retry-After."""

from __future__ import annotations

import dataclasses

import pytest
import trio

from genesys_pulse.core.config import MonitorConfig, Secret
from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator
from genesys_pulse.monitor import AuthenticationRefused, run_monitor

from .conftest import Collector, genesys_config, monitored


def _wrong_secret(emulator: Emulator) -> MonitorConfig:
    config = genesys_config(emulator)
    t = config.targets[0]
    assert t.genesys is not None
    g = dataclasses.replace(t.genesys, client_secret=Secret("not-the-secret"))
    return dataclasses.replace(config, targets=(dataclasses.replace(t, genesys=g),))


async def test_invalid_client_stops_with_auth_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    col = Collector()
    async with open_emulator(settings=EmulatorSettings(seed=2)) as emu:
        config = _wrong_secret(emu)
        with trio.fail_after(60), pytest.raises(AuthenticationRefused) as info:
            await run_monitor(config, sinks=[col], connector=emu.connector)
        logins = emu.stats.get("requests", 0)
    assert info.value.targets == ("target-00",)
    assert "invalid_client" in str(info.value)
    assert "not-the-secret" not in str(info.value)
    failed = col.named("token.failed")
    assert len(failed) == 1  # no retry storm: one refusal, one event
    assert not col.samples
    assert logins <= 2
    assert col.events[-1].name == "monitor.stopped"


async def test_one_refused_target_does_not_stop_the_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    col = Collector()
    async with open_emulator(settings=EmulatorSettings(seed=2)) as emu:
        good = genesys_config(emu, n=2)
        bad = _wrong_secret(emu).targets[0]
        bad = dataclasses.replace(bad, id="refused-01")
        config = dataclasses.replace(good, targets=(*good.targets, bad))
        async with trio.open_nursery() as nursery:
            mon = await nursery.start(
                lambda task_status: run_monitor(
                    config, sinks=[col], connector=emu.connector, task_status=task_status
                )
            )
            await trio.sleep(10)
            assert set(mon.failed) == {"refused-01"}
            nursery.cancel_scope.cancel()
    assert len(col.of(ProbeKind.CONTROL, "target-00")) >= 8
    assert len(col.of(ProbeKind.CONTROL, "target-01")) >= 8
    assert not col.of(ProbeKind.CONTROL, "refused-01")


async def test_login_429_is_retried_after_retry_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    times: list[tuple[float, str]] = []

    class Timed(Collector):
        def on_event(self, event: Event) -> None:
            times.append((trio.current_time(), event.name))
            super().on_event(event)

        def on_sample(self, sample: Sample) -> None:
            super().on_sample(sample)

    settings = EmulatorSettings(seed=4)
    async with open_emulator(settings=settings) as emu:
        emu.faults.fail_login(429, 1, retry_after=7)
        config = genesys_config(emu)
        col = Timed()
        t0 = trio.current_time()
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_monitor(
                    config, sinks=[col], connector=emu.connector, task_status=task_status
                )
            )
            await trio.sleep(20)
            nursery.cancel_scope.cancel()
    issued = [t for t, name in times if name == "token.issued"]
    assert len(issued) == 1
    assert issued[0] - t0 >= 7.0  # not before Retry-After
    assert issued[0] - t0 < 9.0  # and not much later (<= 10 % jitter, at most 1 s)
    assert not col.named("token.failed")
    assert col.of(ProbeKind.APPLICATION)


async def test_rest_401_reauthenticates_without_losing_slots(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with monitored(lambda e: genesys_config(e), settings=EmulatorSettings(seed=8)) as (
        emu,
        mon,
        col,
        _,
    ):
        await trio.sleep(5)
        emu.faults.fail_api(401, 1)
        # force a REST call: a rotation creates a channel
        mon.supervisors["target-00"].request_rotation("test")  # type: ignore[union-attr]
        await trio.sleep(10)
    assert [e.attributes.get("reason") for e in col.named("rotation")] == ["test"]
    assert not [s for s in col.samples if s.timed_out]


async def test_failed_refresh_keeps_probing_on_the_old_token(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(token_ttl=300, seed=6, event_rate=0.0)
    async with monitored(lambda e: genesys_config(e), settings=settings) as (emu, _mon, col, _):
        await trio.sleep(200)  # before the refresh point (80-90 % of 300 s)
        emu.faults.fail_login(503, 12)  # the login service is down for a while
        await trio.sleep(300)
        logins_failed = len(col.named("token.failed"))
    assert logins_failed >= 1  # the refresh failed (old token kept) ...
    assert len(col.named("token.issued")) >= 2  # ... and succeeded once the service came back
    assert [e.attributes["reason"] for e in col.named("rotation")][:1] == ["token"]
    timed_out = [s for s in col.samples if s.timed_out]
    assert not timed_out, timed_out[:3]
