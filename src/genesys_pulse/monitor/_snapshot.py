"""An immutable picture of the monitor at one instant, for readers that must not touch live state.

Why: the live dashboard used to reach into each probe's statistics
(``probe.state[kind].stats.window`` and friends) while it formatted a frame,
so every change to the probe's internals broke a reader in another package,
and a frame could mix figures from before and after a sample. A
:class:`MonitorSnapshot` is built in one go, between two awaits (so no sample
lands half-way), from plain copies: frozen dataclasses holding numbers,
strings and tuples. Holding one keeps nothing of the monitor alive and it
never changes when the monitor moves on.

Definitions of the figures (seconds throughout):

* ``window_p50_s`` / ``window_p95_s`` / ``window_p99_s``: nearest-rank
  quantiles of the answered-in-time RTTs in the sliding window (the last
  ``stability_window`` slots), exact; ``None`` for heartbeats and when the
  window holds no answer.
* ``all_time_p50_s`` / ``all_time_p95_s`` / ``all_time_p99_s`` /
  ``all_time_max_s``: the whole run's histogram -- RTTs including late
  answers for control and application probes, gaps between heartbeats for
  heartbeats -- nearest-rank within the histogram's relative error (1 %),
  exact maximum.
* ``jitter_s``: RFC 3550 smoothed jitter (current value), ``None`` before the
  first pair of answers.
* ``stability``: share of the sliding window's slots answered within the
  critical RTT (planned and locally stalled slots excluded).
* ``count``, ``timeouts``, ``late``: slots recorded (heartbeats: gaps seen),
  slots timed out (heartbeats: silences beyond the critical level), answers
  that came after their slot's timeout.
* ``level``: the worst current threshold level of the probe kind;
  ``levels`` each metric's level.

Only the few ``_read_*`` functions below know the probe's fields; everything
else works on what they return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from genesys_pulse.core import ProbeKind, nearest_rank

if TYPE_CHECKING:
    from ._monitor import Monitor
    from ._stats import KindStats
    from ._target import TargetProbe

__all__ = ["BackoffSnapshot", "KindSnapshot", "MonitorSnapshot", "TargetSnapshot", "take_snapshot"]

RECENT = 30
"""Slots kept in :attr:`KindSnapshot.recent` by default (a sparkline's width)."""

_ORDER = ("ok", "warning", "critical")


@dataclass(frozen=True, slots=True)
class BackoffSnapshot:
    """The latest back-off the supervisor reported.

    Attributes:
      reason: why it backs off (``connect_failed``, a close reason, ...).
      error: the error type of the failed attempt (``""`` if none).
      retry_in_s: seconds until the next attempt, while backing off (else ``None``).
    """

    reason: str
    error: str
    retry_in_s: float | None


@dataclass(frozen=True, slots=True)
class KindSnapshot:
    """One probe kind of one target (the figures are defined in the module docstring)."""

    kind: ProbeKind
    count: int
    timeouts: int
    late: int
    window_p50_s: float | None
    window_p95_s: float | None
    window_p99_s: float | None
    recent: tuple[float | None, ...]
    """The last slots of the sliding window, oldest first; ``None`` a timed-out slot."""
    all_time_p50_s: float | None
    all_time_p95_s: float | None
    all_time_p99_s: float | None
    all_time_max_s: float | None
    jitter_s: float | None
    stability: float | None
    level: str
    levels: tuple[tuple[str, str], ...]
    """``(metric, level)`` for each threshold machine of this kind."""


@dataclass(frozen=True, slots=True)
class TargetSnapshot:
    """One target: its connection and each probe kind (control, application, heartbeat).

    Attributes:
      id: the target id.
      connection: ``connecting``, ``connected``, ``reconnecting``, ``backoff``,
        ``rotating``, ``stopped`` or ``auth_refused``.
      ever_connected: whether a first link was ever installed.
      backoff: the latest reported back-off, if any.
      failure: why the target stopped, if it did.
      kinds: the enabled probe kinds, then heartbeat.
    """

    id: str
    connection: str
    ever_connected: bool
    backoff: BackoffSnapshot | None
    failure: str | None
    kinds: tuple[KindSnapshot, ...]

    @property
    def level(self) -> str:
        """The worst level over every probe kind."""
        return max((k.level for k in self.kinds), key=_ORDER.index, default="ok")


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    """The monitor at ``at`` (``trio.current_time()``).

    Attributes:
      at: when it was taken, on the monitor's clock.
      targets: the snapshotted targets, in the monitor's order.
      total_targets: every target of the monitor (``targets`` may hold fewer).
      total_kinds: probe kinds (heartbeat included) over every target.
    """

    at: float
    targets: tuple[TargetSnapshot, ...]
    total_targets: int
    total_kinds: int


# -- the probe's fields, read in one place --------------------------------------------
# (the only lines that know how a TargetProbe and its statistics are laid out)


def _read_kinds(probe: TargetProbe) -> tuple[ProbeKind, ...]:
    return (*probe.kinds, ProbeKind.HEARTBEAT)


def _read_stats(probe: TargetProbe, kind: ProbeKind) -> KindStats:
    return probe.state[kind].stats


def _read_levels(probe: TargetProbe) -> dict[str, str]:
    return probe.levels()


def _read_connection(probe: TargetProbe) -> tuple[str, bool, tuple[str, str, float] | None]:
    return probe.connection_state, probe.connected.is_set(), probe.last_backoff


def _read_counts(stats: KindStats, kind: ProbeKind) -> tuple[int, int, int]:
    """(count, timeouts, late) of one probe kind."""
    if kind is ProbeKind.HEARTBEAT:
        return stats.all_time.count, stats.timeouts, 0
    probe = stats.probe
    return probe.timeouts.count, probe.timeouts.timeouts, probe.late


def _read_all_time(stats: KindStats) -> tuple[float | None, ...]:
    """(p50, p95, p99, max) of the whole-run histogram (``None`` each when empty)."""
    h = stats.all_time
    if not h.count:
        return (None, None, None, None)
    return (h.quantile(0.5), h.quantile(0.95), h.quantile(0.99), h.max)


def _read_window(stats: KindStats) -> tuple[list[float | None], float | None, float | None]:
    """The sliding window's slots (oldest first), the RFC 3550 jitter and the stability."""
    return stats.window.values(), stats.jitter.rfc3550_or_none(), stats.stability()


# -- building ---------------------------------------------------------------------------


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _worst(levels: Sequence[tuple[str, str]]) -> str:
    return max((lvl for _, lvl in levels), key=_ORDER.index, default="ok")


def _kind_snapshot(
    probe: TargetProbe, kind: ProbeKind, levels: dict[str, str], recent: int
) -> KindSnapshot:
    stats = _read_stats(probe, kind)
    count, timeouts, late = _read_counts(stats, kind)
    prefix = kind.value + "."
    mine = tuple((k[len(prefix) :], v) for k, v in levels.items() if k.startswith(prefix))
    all_time = _read_all_time(stats)
    if kind is ProbeKind.HEARTBEAT:
        window: tuple[float | None, float | None, float | None] = (None, None, None)
        last: tuple[float | None, ...] = ()
        jitter = stability = None
    else:
        values, jitter, stability = _read_window(stats)
        answered = sorted(v for v in values if v is not None)
        window = (
            nearest_rank(answered, 0.5),
            nearest_rank(answered, 0.95),
            nearest_rank(answered, 0.99),
        )
        last = tuple(values[-recent:]) if recent > 0 else ()
    return KindSnapshot(
        kind=kind,
        count=count,
        timeouts=timeouts,
        late=late,
        window_p50_s=window[0],
        window_p95_s=window[1],
        window_p99_s=window[2],
        recent=last,
        all_time_p50_s=_finite(all_time[0]),
        all_time_p95_s=_finite(all_time[1]),
        all_time_p99_s=_finite(all_time[2]),
        all_time_max_s=_finite(all_time[3]),
        jitter_s=_finite(jitter),
        stability=stability,
        level=_worst(mine),
        levels=mine,
    )


def _target_snapshot(
    probe: TargetProbe, failure: str | None, now: float, recent: int
) -> TargetSnapshot:
    state, ever, last = _read_connection(probe)
    backoff = None
    if last is not None:
        reason, error, next_at = last
        retry_in = max(0.0, next_at - now) if state == "backoff" else None
        backoff = BackoffSnapshot(reason, error, retry_in)
    levels = _read_levels(probe)
    return TargetSnapshot(
        id=probe.id,
        connection=state,
        ever_connected=ever,
        backoff=backoff,
        failure=failure,
        kinds=tuple(_kind_snapshot(probe, k, levels, recent) for k in _read_kinds(probe)),
    )


def take_snapshot(
    monitor: Monitor,
    *,
    max_targets: int | None = None,
    recent: int = RECENT,
    now: float | None = None,
) -> MonitorSnapshot:
    """The monitor's state now, as immutable values.

    Args:
      monitor: the running (or stopped) monitor.
      max_targets: snapshot only the first this many targets (a screen's
        worth: every snapshotted kind sorts its sliding window); the totals
        still count every target.
      recent: slots of each sliding window to keep in :attr:`KindSnapshot.recent`.
      now: the monitor's clock (default ``trio.current_time()``), for ``retry_in_s``.
    """
    at = trio.current_time() if now is None else now
    probes = list(monitor.targets.values())
    total_kinds = sum(len(_read_kinds(p)) for p in probes)
    chosen = probes if max_targets is None else probes[: max(0, max_targets)]
    failed = monitor.failed
    return MonitorSnapshot(
        at=at,
        targets=tuple(_target_snapshot(p, failed.get(p.id), at, recent) for p in chosen),
        total_targets=len(probes),
        total_kinds=total_kinds,
    )
