"""One driver task for every target's probe slots.

The previous design ran one trio task per target, looping ``sleep_until(due)``
and opening a cancel scope per slot to wait for a ``trio.Event`` the
connection's reader set: at 10,000 targets trio's scheduler (task switches,
cancel scopes, deadline bookkeeping) was about a third of the busy time. Here
one task owns every target's timers in a core
:class:`~genesys_pulse.core.TimerHeap` -- the next slot's due time and the
deadline of the slot in flight, both absolute -- sleeps until the earliest,
and calls :meth:`TargetProbe.on_timer` for each one that came due. The probe
writes its slot's pre-encoded frames without waiting (see
:meth:`Link.send <genesys_pulse.monitor._link.Link.send>`), so one connection
with a full send buffer never delays another target; the connection's reader
resolves a slot as soon as its answers are in (no task is woken for it).

Waking earlier: a timer set from another task (a first connection, a write
stamped by a connection's writer, a slot resolved by a reader) that is due
before the driver's current wake-up moves the deadline of the driver's sleep
(``CancelScope.deadline`` may be changed from any task).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from genesys_pulse.core import TimerHeap

if TYPE_CHECKING:
    from ._target import TargetProbe

__all__ = ["Driver"]

BATCH = 512
"""Timers handled before the driver lets other tasks run (a burst never starves readers)."""


def _live(probe: TargetProbe, rank: int, generation: int) -> bool:
    return probe.timer_live(rank, generation)


class Driver:
    """Owns every target's timers; one :meth:`run` task per monitor.

    Attributes:
      wakeups: how many times the driver woke (for benchmarks and tests).
      handled: how many timers it handled.
    """

    def __init__(self) -> None:
        self._heap: TimerHeap[TargetProbe] = TimerHeap()
        self._scope: trio.CancelScope | None = None
        self.wakeups = 0
        self.handled = 0

    def __len__(self) -> int:
        """Timers held (live or not yet discarded)."""
        return len(self._heap)

    def at(self, when: float, rank: int, probe: TargetProbe, generation: int) -> None:
        """Call ``probe.on_timer(rank, now)`` at ``when`` if the timer is still live then."""
        self._heap.push(when, rank, probe, generation)
        scope = self._scope
        if scope is not None and when < scope.deadline:
            scope.deadline = when

    async def run(self) -> None:
        """Drive every target's slots forever (until cancelled)."""
        heap = self._heap
        now_fn = trio.current_time
        while True:
            self.wakeups += 1
            handled = 0
            while handled < BATCH:
                now = now_fn()
                entry = heap.pop_due(now, _live)
                if entry is None:
                    break
                _, rank, probe, _ = entry
                probe.on_timer(rank, now)
                handled += 1
            self.handled += handled
            if handled >= BATCH:
                await trio.lowlevel.checkpoint()
                continue
            wake = heap.next_due(_live)
            with trio.CancelScope(deadline=wake if wake < math.inf else math.inf) as scope:
                self._scope = scope
                try:
                    await trio.sleep_forever()
                finally:
                    self._scope = None
