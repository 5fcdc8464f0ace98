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

Coalescing: waking costs about 75 µs of CPU (trio's cancel-scope deadline and
the kernel's timed ``epoll_wait``, measured on the development machine), so
with thousands of staggered targets -- one timer every half millisecond at
10,000 targets x 1 per 5 s -- the driver does not wake more often than once
per :data:`COALESCE` (1 ms): timers that come due within that window after a
wake-up that handled a timer are handled together at its end. A slot is then written up to 1 ms
after its due time; the send time recorded is the true one (RTTs count from
it), so the lateness shows as send-time error, never in an RTT, and a
deadline handled late still compares each answer's arrival time with the
deadline itself. A single target, or targets further apart than 1 ms, are
never delayed.

Answered slots are recorded here, not in the reader: the reader stamps the
pong, matches it and, when the slot's answers are all in, hands the probe to
:meth:`Driver.resolve_soon`, which wakes the driver without a timer (a parked
task rescheduled, a few µs), or, when the driver's next timer is at most
:data:`RECORD_WITHIN` (5 ms) away, leaves it to that wake-up. The driver records
every slot answered since its last turn in one pass. Recording inline in the reader (the first version of
this design) cost the *next* readers of the same scheduler pass their
timestamps: each pong read after another target's recording (about 150 µs with
the SDK) was stamped that much later, and the control RTT median at 10,000
targets rose from 0.46 to 0.85 ms against the baseline in the same run.

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

COALESCE = 0.001
"""Shortest time between two wake-ups of the driver (seconds); see the module docstring."""

RECORD_WITHIN = 0.005
"""An answered slot is recorded at the driver's next timer if that comes within this many
seconds (no extra wake-up: with 200 targets a second there is one every 5 ms), else at once."""

BATCH = 32
"""Timers handled before the driver lets other tasks run: after a stall, a burst of due
slots must not keep the readers from stamping the pongs of the first ones."""

BUDGET = 0.002
"""Seconds of work in one turn before the driver lets other tasks run. Counting timers
alone is not enough: a slot that closes a summary window emits the window event, which
with the OpenTelemetry SDK costs milliseconds (a span ended, a log record, gauges), and
32 of them in one turn held the event loop for ~100 ms at 10,000 targets."""


def _live(probe: TargetProbe, rank: int, generation: int) -> bool:
    return probe.timer_live(rank, generation)


class Driver:
    """Owns every target's timers; one :meth:`run` task per monitor.

    Attributes:
      wakeups: how many times the driver woke (for benchmarks and tests).
      handled: how many timers it handled.
    """

    def __init__(self, coalesce: float = COALESCE) -> None:
        self._heap: TimerHeap[TargetProbe] = TimerHeap()
        self._scope: trio.CancelScope | None = None
        self._lot = trio.lowlevel.ParkingLot()
        self._answered: list[TargetProbe] = []
        """Probes whose slot in flight has every answer, to be recorded on the next turn."""
        self._coalesce = coalesce
        self._floor = -math.inf
        """No wake-up before this time (the last wake-up + ``coalesce``)."""
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
            scope.deadline = max(when, self._floor)

    def resolve_soon(self, probe: TargetProbe) -> None:
        """``probe``'s slot has all its answers: record it on the driver's next turn.

        The driver is woken for it only if its next timer is more than
        :data:`RECORD_WITHIN` away; otherwise that wake-up records it.
        """
        self._answered.append(probe)
        if len(self._answered) == 1:
            scope = self._scope
            if scope is not None and scope.deadline > trio.current_time() + RECORD_WITHIN:
                self._lot.unpark()

    async def run(self) -> None:
        """Drive every target's slots forever (until cancelled)."""
        heap = self._heap
        now_fn = trio.current_time
        while True:
            self.wakeups += 1
            woke = now_fn()
            limit = woke + BUDGET
            if self._answered:
                answered = self._answered
                self._answered = []
                for i, probe in enumerate(answered):
                    probe.resolve_answered(woke)
                    if now_fn() > limit:
                        # the rest first on the next turn, after the other tasks ran
                        self._answered = answered[i + 1 :] + self._answered
                        break
            handled = 0
            # at least one timer per turn, so answered slots cannot starve the schedule
            while handled < BATCH and (handled == 0 or now_fn() <= limit):
                now = now_fn()
                entry = heap.pop_due(now, _live)
                if entry is None:
                    break
                _, rank, probe, _ = entry
                probe.on_timer(rank, now)
                handled += 1
            self.handled += handled
            # coalesce only after a wake-up that did something (see the module docstring)
            self._floor = woke + self._coalesce if handled else -math.inf
            if handled >= BATCH or now_fn() > limit:
                await trio.lowlevel.checkpoint()
                continue
            wake = max(heap.next_due(_live), self._floor)
            if self._answered:
                await trio.lowlevel.checkpoint()
                continue
            with trio.CancelScope(deadline=wake) as scope:
                self._scope = scope
                try:
                    await self._lot.park()
                finally:
                    self._scope = None
