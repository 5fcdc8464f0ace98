"""Callbacks are isolated from probing: failing, slow and blocking callbacks,
sink failures, bounded queue (oldest dropped), callback.failed events."""

from __future__ import annotations

import threading

import trio

from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.emulator import EmulatorSettings

from .conftest import genesys_config, monitored

SETTINGS = EmulatorSettings(seed=21, event_rate=0.0)


async def test_raising_callbacks_are_counted_and_reported(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # async callbacks: delivered by the dispatcher task itself, so deterministic here
    async def on_sample(sample: Sample) -> None:
        raise RuntimeError("broken APM")

    seen: list[Event] = []

    async def on_event(event: Event) -> None:
        seen.append(event)

    async with monitored(
        lambda e: genesys_config(e), settings=SETTINGS, on_sample=on_sample, on_event=on_event
    ) as (_e, mon, col, _):
        await trio.sleep(10)
        stats = mon.dispatcher.stats
        assert stats.sample_callback_failures >= 16
    assert len(col.of(ProbeKind.CONTROL)) >= 8  # probing went on
    failed = col.named("callback.failed")
    assert failed and all(e.attributes["source"] == "on_sample" for e in failed)
    # rate-limited: at most one report per second, each with the count since the last
    assert len(failed) <= 12  # ten in ten seconds, plus what shutdown reported
    # each report carries the count since the last; the one at shutdown carries the
    # rest, so together they add up to every failure counted
    assert sum(int(e.attributes["failures"]) for e in failed) == stats.sample_callback_failures
    assert failed[-1].attributes["error"] == "RuntimeError"
    assert any(e.name == "callback.failed" for e in seen)  # on_event hears about it


async def test_raising_sync_callback_is_counted() -> None:
    """Real clock: sync callbacks run in a worker thread."""

    def on_sample(sample: Sample) -> None:
        raise RuntimeError("broken APM")

    async with monitored(
        lambda e: genesys_config(e, interval=0.2, timeout=0.2),
        settings=SETTINGS,
        on_sample=on_sample,
    ) as (_e, mon, col, _):
        await trio.sleep(1.5)
    stats = mon.dispatcher.stats
    assert 1 <= stats.sample_callback_failures <= len(col.samples)
    assert len(col.of(ProbeKind.CONTROL)) >= 5
    assert col.named("callback.failed")


async def test_slow_async_callback_never_delays_probes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    async def on_sample(sample: Sample) -> None:
        nonlocal calls
        calls += 1
        await trio.sleep(3600)  # never returns within the time limit

    async with monitored(
        lambda e: genesys_config(e), settings=SETTINGS, on_sample=on_sample, callback_capacity=5
    ) as (_e, mon, col, _):
        await trio.sleep(30)
        stats = mon.dispatcher.stats
        assert mon.dispatcher.queue_length <= 5
        assert stats.dropped > 0  # oldest dropped while the callback was stuck
        assert stats.sample_callback_failures >= 1  # each call times out (5 s)
    ctrl = col.of(ProbeKind.CONTROL)
    assert len(ctrl) >= 28 and not any(s.timed_out for s in ctrl)
    # every probe was sent exactly on its slot
    assert all(s.sent_mono == s.scheduled_mono for s in ctrl)
    assert calls >= 2


async def test_blocking_sync_callback_runs_off_the_event_loop() -> None:
    """A callback that blocks its thread (time.sleep) does not stall probing (real clock)."""
    release = threading.Event()
    main_thread = threading.get_ident()
    threads: set[int] = set()

    def on_sample(sample: Sample) -> None:
        threads.add(threading.get_ident())
        release.wait(5.0)

    async with monitored(
        lambda e: genesys_config(e, interval=0.2, timeout=0.2),
        settings=SETTINGS,
        on_sample=on_sample,
        memory=False,
    ) as (_e, _mon, col, _):
        await trio.sleep(2.0)
        release.set()
    assert main_thread not in threads
    ctrl = col.of(ProbeKind.CONTROL)
    assert len(ctrl) >= 8
    assert not any(s.timed_out for s in ctrl)
    assert not any(s.local_stall for s in ctrl)


async def test_failing_sink_is_isolated(autojump_clock: trio.testing.MockClock) -> None:
    class Broken:
        def on_sample(self, sample: Sample) -> None:
            raise ValueError("sink bug")

        def on_event(self, event: Event) -> None:
            pass

    async with monitored(
        lambda e: genesys_config(e), settings=SETTINGS, sinks_extra=[Broken()]
    ) as (_e, mon, col, _):
        await trio.sleep(5)
        assert mon.dispatcher.stats.sink_failures >= 8
    assert len(col.of(ProbeKind.CONTROL)) >= 4
    assert col.named("callback.failed")[0].attributes["source"] == "sink:Broken"


async def test_local_stall_is_flagged_not_alerted(autojump_clock: trio.testing.MockClock) -> None:
    async with monitored(lambda e: genesys_config(e), settings=SETTINGS) as (_e, mon, col, _):
        probe = mon.targets["target-00"]
        await probe.connected.wait()
        sched = probe.schedule
        assert sched is not None
        k = sched.next_slot(trio.current_time()) + 3
        await trio.sleep_until(sched.due(k) - 0.01)
        # the loop "blocks" for 2.5 s (like a long GC pause): time passes, nobody runs
        autojump_clock.jump(2.5)
        await trio.sleep(10)
    stalls = col.named("local_stall")
    assert stalls, "the lag task saw the stall"
    flagged = [s for s in col.samples if s.local_stall]
    assert flagged
    assert not col.named("threshold.breach")
    assert not col.named("connection.lost")
