"""The event-loop lag task: telling a stalled host from a slow network.

One task per monitor wakes on an absolute schedule every :data:`TICK` seconds
and feeds how late it woke to the core
:class:`~genesys_pulse.core._looplag.LoopLagEstimator`, which remembers recent
stall intervals (bounded) and answers "was the loop stalled between ``t0`` and
``t1``?" -- including "is it stalled right now?" when the ticker itself is
overdue (a probe task may be scheduled before the ticker after a stall).
Each stall beyond the threshold is reported once through ``on_stall``.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from genesys_pulse.core import DEFAULT_STALL_THRESHOLD, LoopLagEstimator

__all__ = ["TICK", "LoopLag"]

TICK = 0.25
"""Seconds between two lateness measurements (4 wake-ups a second for the whole monitor)."""

_MAX_STALLS = 64


class LoopLag:
    """Measures event-loop stalls.

    Args:
      threshold: lateness in seconds from which a wake-up counts as a stall.
      on_stall: called once per detected stall with ``(start, end, lateness)``
        (monotonic times), from the lag task.
      tick: seconds between two measurements.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_STALL_THRESHOLD,
        on_stall: Callable[[float, float, float], None] | None = None,
        tick: float = TICK,
    ) -> None:
        self.threshold = threshold
        self.tick = tick
        self._on_stall = on_stall
        self.estimator = LoopLagEstimator(tick, record_min=threshold, max_stalls=_MAX_STALLS)
        self.stall_count = 0

    @property
    def stall_capacity(self) -> int:
        """How many recent stall intervals are remembered."""
        return _MAX_STALLS

    @property
    def remembered(self) -> int:
        """Stall intervals currently remembered (bounded by :attr:`stall_capacity`)."""
        return self.estimator.remembered

    @property
    def max_lateness(self) -> float:
        """The largest lateness measured so far (seconds)."""
        return self.estimator.max_lag

    def stalled_during(self, t0: float, t1: float) -> bool:
        """Whether the loop stalled at any time in ``[t0, t1]`` (monotonic)."""
        return self.estimator.stalled_during(t0, t1, self.threshold)

    def record(self, due: float, woke: float) -> None:
        """Record one measurement: the tick due at ``due`` ran at ``woke``."""
        lateness = self.estimator.record(due, woke)
        if lateness > self.threshold:
            self.stall_count += 1
            if self._on_stall is not None:
                self._on_stall(due, woke, lateness)

    async def run(self) -> None:
        """Measure forever (until cancelled)."""
        start = trio.current_time()
        self.estimator.record(start, start)
        k = 1
        while True:
            due = start + k * self.tick
            await trio.sleep_until(due)
            now = trio.current_time()
            self.record(due, now)
            # skip the ticks a long stall swallowed (one measurement per stall)
            k = max(k + 1, int((now - start) / self.tick) + 1)
