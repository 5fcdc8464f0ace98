"""``run_monitor``: one supervisor per target and one driver for every target's slots.

Cancellation is the shutdown path: cancel the scope around
:func:`run_monitor` (``--duration``, a signal, the host stopping). Every
socket is then closed with a bounded close inside a shielded scope, the
``monitor.stopped`` event is emitted and queued callback records are
delivered for at most one more second.
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from genesys_pulse.genesys import SecretRegistry

from genesys_pulse.core import DEFAULT_LAG_WINDOW, HealthSnapshot, TargetHealth, shard_of, stagger
from genesys_pulse.core.config import MonitorConfig, TargetConfig, redacted
from genesys_pulse.core.model import Event
from genesys_pulse.transport import Connector, NetConnector

from ._dispatch import MONITOR_TARGET, Dispatcher, EventCallback, SampleCallback, Sink
from ._driver import Driver
from ._genesys_supervisor import GenesysSupervisor, TargetAuthRefused
from ._looplag import TICK, LoopLag
from ._supervisor import CONNECT_CONCURRENCY, WebSocketSupervisor
from ._target import TargetProbe

__all__ = ["AuthenticationRefused", "Monitor", "MonitorError", "run_monitor", "select_shard"]


class MonitorError(Exception):
    """The monitor stopped because every target stopped."""


class AuthenticationRefused(MonitorError):
    """Every remaining target stopped and at least one because its OAuth client was refused.

    Attributes:
      targets: ids of the targets whose credentials were refused.
    """

    def __init__(self, targets: Sequence[str], detail: str) -> None:
        self.targets = tuple(targets)
        super().__init__(detail)


@dataclass
class Monitor:
    """A running monitor, handed to ``task_status.started()`` (for hosts and tests).

    Attributes:
      targets: per target id, its probe (statistics, thresholds, current link).
      supervisors: per target id, its connection supervisor.
      dispatcher: the fan-out to sinks and callbacks (counters in ``.stats``).
      looplag: the event-loop lag tracker.
      driver: the one task that starts every target's slots and times them out.
      start: ``trio.current_time()`` origin of every schedule.
      failed: target id -> reason, for targets that stopped.
    """

    targets: dict[str, TargetProbe]
    supervisors: dict[str, GenesysSupervisor | WebSocketSupervisor]
    dispatcher: Dispatcher
    looplag: LoopLag
    driver: Driver
    start: float
    failed: dict[str, str] = field(default_factory=dict)
    shard: tuple[int, int] | None = None
    started: bool = False
    """Set once every target task is started (what ``task_status.started`` reports)."""

    def health_snapshot(self, lag_window: float = DEFAULT_LAG_WINDOW) -> HealthSnapshot:
        """Liveness and readiness inputs at this instant (see :mod:`genesys_pulse.core._health`).

        Reads only what the monitor publishes (probe connection states, the
        latest reported back-off, stop reasons, loop lag), so a health endpoint
        never reaches into supervisors.
        """
        now = trio.current_time()
        est = self.looplag.estimator
        overdue = 0.0
        if est.is_stalled(now, 0.0):
            overdue = now - (est.last_expected + est.tick) if est.last_expected is not None else 0.0
        targets = []
        for tid, probe in self.targets.items():
            last = probe.last_backoff
            in_backoff = probe.connection_state == "backoff" and last is not None
            targets.append(
                TargetHealth(
                    id=tid,
                    state=probe.connection_state,
                    ever_connected=probe.connected.is_set(),
                    backoff_reason=last[0] if last is not None else None,
                    backoff_error=last[1] if last is not None else "",
                    retry_in=(last[2] - now) if in_backoff and last is not None else None,
                    failure=self.failed.get(tid),
                )
            )
        return HealthSnapshot(
            now=now,
            started=self.started,
            targets=targets,
            lag_now=max(0.0, overdue),
            max_recent_lag=est.max_lag_during(now - lag_window, now),
            shard=self.shard,
        )

    def summary(self) -> dict[str, Any]:
        """Per target and probe kind, the whole-run summary (JSON-able)."""
        return {tid: probe.summary() for tid, probe in self.targets.items()}


def select_shard(config: MonitorConfig) -> tuple[TargetConfig, ...]:
    """The targets this instance owns under ``config.shard`` (all when unset)."""
    if config.shard is None:
        return config.targets
    i, n = config.shard
    return tuple(t for t in config.targets if shard_of(t.id, n) == i)


async def run_monitor(
    config: MonitorConfig,
    *,
    sinks: Sequence[Sink] = (),
    connector: Connector | None = None,
    on_sample: SampleCallback | None = None,
    on_event: EventCallback | None = None,
    rng: random.Random | None = None,
    callback_capacity: int = 10_000,
    freeze_gc: bool = False,
    loop_lag_tick: float = TICK,
    redactor: SecretRegistry | None = None,
    task_status: trio.TaskStatus[Monitor] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Probe every target of ``config`` (of this shard) until cancelled.

    Args:
      config: the validated configuration (Genesys targets need credentials).
      sinks: synchronous consumers on the probing path (must be cheap).
      connector: opens streams; default a :class:`~genesys_pulse.transport.NetConnector`
        going through ``config.proxy`` (``HTTPS_PROXY`` & co., see ``docs/proxies.md``).
      on_sample: user callback (sync or async), isolated from probing.
      on_event: user callback (sync or async), isolated from probing.
      rng: source of jitter (default: a fresh ``random.Random()``).
      callback_capacity: bound of the callback queue (oldest dropped first).
      loop_lag_tick: period of the event-loop lag measurement (default 0.25 s;
        emulated-time tests of many hours may use a longer one).
      freeze_gc: once every target has connected (or after
        :data:`GC_FREEZE_WAIT` seconds), move every object alive to the garbage
        collector's permanent generation (``gc.freeze()``), so later full
        collections no longer traverse the connections, statistics and
        windows built at start-up (with thousands of targets those traversals
        were the p99 tail). Process-wide: the CLI enables it; hosts embedding
        the monitor decide for themselves.
      redactor: where each OAuth client registers its secret and every token
        it is issued, to be masked in logs (e.g. a
        :class:`~genesys_pulse.core._redact.RedactingFilter` attached to the
        host's log handlers).
      task_status: receives the :class:`Monitor` once every target is started.

    Raises:
      AuthenticationRefused: every target stopped, at least one because its
        credentials were refused (the CLI exits with 3).
    """
    connector = connector if connector is not None else NetConnector(proxy=config.proxy)
    rng = rng if rng is not None else random.Random()
    dispatcher = Dispatcher(
        sinks, on_sample=on_sample, on_event=on_event, capacity=callback_capacity
    )

    def on_stall(start: float, end: float, lateness: float) -> None:
        dispatcher.event(
            Event(
                MONITOR_TARGET,
                "local_stall",
                time.time(),
                {"lateness_s": round(lateness, 6), "duration_s": round(end - start, 6)},
            )
        )

    looplag = LoopLag(on_stall=on_stall, tick=loop_lag_tick)
    limiter = trio.CapacityLimiter(CONNECT_CONCURRENCY)
    targets = select_shard(config)
    start = trio.current_time() + 0.01
    wall_anchor = (trio.current_time(), time.time())
    driver = Driver()
    monitor = Monitor({}, {}, dispatcher, looplag, driver, start, shard=config.shard)
    count = len(targets)
    for i, tc in enumerate(targets):
        probe = TargetProbe(
            tc,
            phase=stagger(i, count, tc.interval),
            dispatcher=dispatcher,
            looplag=looplag,
            window=config.window,
            heartbeats=tc.kind == "genesys",
            driver=driver,
        )
        monitor.targets[tc.id] = probe
        sup: GenesysSupervisor | WebSocketSupervisor
        if tc.kind == "genesys":
            sup = GenesysSupervisor(
                probe,
                connector,
                rng,
                wall_anchor=wall_anchor,
                redactor=redactor,
                connect_limiter=limiter,
            )
        else:
            sup = WebSocketSupervisor(probe, connector, rng, connect_limiter=limiter)
        monitor.supervisors[tc.id] = sup

    dispatcher.event(
        Event(
            MONITOR_TARGET,
            "monitor.started",
            time.time(),
            {
                "targets": count,
                "config": json.dumps(redacted(config), separators=(",", ":"), default=str),
            },
        )
    )
    refused: list[TargetAuthRefused] = []
    try:
        async with trio.open_nursery() as outer:
            outer.start_soon(dispatcher.run)
            outer.start_soon(looplag.run)
            outer.start_soon(driver.run)
            if freeze_gc:
                outer.start_soon(_freeze_gc_after_startup, monitor)
            async with trio.open_nursery() as nursery:
                now = trio.current_time()
                for probe in monitor.targets.values():
                    probe.begin(start, now)
                for tid, probe in monitor.targets.items():
                    nursery.start_soon(
                        _run_target, probe, monitor.supervisors[tid], monitor, refused
                    )
                monitor.started = True
                task_status.started(monitor)
            # every target stopped
            outer.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            dispatcher.event(
                Event(
                    MONITOR_TARGET,
                    "monitor.stopped",
                    time.time(),
                    {
                        "failed_targets": len(monitor.failed),
                        "config": json.dumps(redacted(config), separators=(",", ":"), default=str),
                    },
                )
            )
            await dispatcher.drain(1.0)
    if refused:
        detail = "; ".join(str(r) for r in refused)
        raise AuthenticationRefused([r.target for r in refused], detail)
    if count:
        raise MonitorError("every target stopped: " + "; ".join(monitor.failed.values()))


GC_FREEZE_WAIT = 60.0
"""Longest wait for every target's first connection before ``gc.freeze()``."""


async def _freeze_gc_after_startup(monitor: Monitor) -> None:
    """``gc.freeze()`` once start-up is over (see ``run_monitor(freeze_gc=True)``)."""
    with trio.move_on_after(GC_FREEZE_WAIT):
        for probe in monitor.targets.values():
            await probe.connected.wait()
    gc.freeze()


async def _run_target(
    probe: TargetProbe,
    sup: GenesysSupervisor | WebSocketSupervisor,
    monitor: Monitor,
    refused: list[TargetAuthRefused],
) -> None:
    """Run one target's supervisor (the driver runs its slots); a refused target stops alone."""
    try:
        await sup.run()
    except TargetAuthRefused as exc:
        refused.append(exc)
        monitor.failed[probe.id] = str(exc)
    except BaseExceptionGroup as group:
        matched, rest = group.split(TargetAuthRefused)
        if matched is not None:
            for err in matched.exceptions:
                if isinstance(err, TargetAuthRefused):
                    refused.append(err)
                    monitor.failed[probe.id] = str(err)
        if rest is not None:
            raise rest from None
    finally:
        probe.stop(auth_refused=probe.id in monitor.failed)
        await sup.close_links(1001, "monitor stopping")
