"""Measuring the event loop's own lateness, to tell a stalled host from a slow network.

One task per monitor wakes on an absolute schedule every :data:`TICK` seconds
and measures how late it woke. A wake-up later than ``threshold`` means the
loop was stalled (a blocking call, a long garbage collection, a starved
process) for roughly that long, during ``[due, woke]``.

A probe whose pong is timestamped during or just after a stall has an
inflated RTT that says nothing about the network. :meth:`LoopLag.stalled_during`
answers "did the loop stall between ``t0`` and ``t1``?" from the recorded
stall intervals *and* from the time since the last tick: if the lag task has
not run for longer than ``TICK + threshold``, the loop is stalled right now
(the probe task was simply scheduled before the lag task after the stall).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import trio

__all__ = ["TICK", "LoopLag"]

TICK = 0.25
"""Seconds between two lateness measurements."""

DEFAULT_STALL_THRESHOLD = 0.05
"""Lateness (seconds) from which the loop counts as stalled."""

_MAX_STALLS = 64


class LoopLag:
    """Tracks event-loop stalls.

    Args:
      threshold: lateness in seconds from which a wake-up counts as a stall.
      on_stall: called once per detected stall with ``(start, end, lateness)``
        (monotonic times), from the lag task.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_STALL_THRESHOLD,
        on_stall: Callable[[float, float, float], None] | None = None,
    ) -> None:
        self.threshold = threshold
        self._on_stall = on_stall
        self._stalls: deque[tuple[float, float]] = deque(maxlen=_MAX_STALLS)
        self.last_tick = trio.current_time()
        self.max_lateness = 0.0
        self.stall_count = 0

    @property
    def stall_capacity(self) -> int:
        """How many recent stall intervals are remembered."""
        return _MAX_STALLS

    @property
    def remembered(self) -> int:
        """Stall intervals currently remembered (bounded by :attr:`stall_capacity`)."""
        return len(self._stalls)

    def stalled_during(self, t0: float, t1: float) -> bool:
        """Whether the loop stalled at any time in ``[t0, t1]`` (monotonic)."""
        if t1 - self.last_tick > TICK + self.threshold:
            return True
        for start, end in reversed(self._stalls):
            if end < t0:
                return False
            if start <= t1:
                return True
        return False

    def record(self, due: float, woke: float) -> None:
        """Record one measurement: the tick due at ``due`` ran at ``woke``."""
        self.last_tick = woke
        lateness = woke - due
        if lateness > self.max_lateness:
            self.max_lateness = lateness
        if lateness > self.threshold:
            self.stall_count += 1
            self._stalls.append((due, woke))
            if self._on_stall is not None:
                self._on_stall(due, woke, lateness)

    async def run(self) -> None:
        """Measure forever (until cancelled)."""
        start = trio.current_time()
        self.last_tick = start
        k = 1
        while True:
            due = start + k * TICK
            await trio.sleep_until(due)
            now = trio.current_time()
            self.record(due, now)
            # skip ticks that a long stall swallowed (one measurement per stall)
            k = max(k + 1, int((now - start) / TICK) + 1)


def wall_clock() -> float:
    """``time.time()``: wall-clock seconds, used only to label records."""
    return time.time()
