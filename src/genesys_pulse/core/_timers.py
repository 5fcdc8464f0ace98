"""The timer heap of the probe driver: every target's next due time and deadline in one place.

One driver task serves every target of a monitor (see ``monitor/_driver.py``).
Instead of a task and a cancel scope per target and slot, it keeps one binary
heap of *timers* -- "slot ``k`` of target ``t`` is due at ``when``", "the slot
in flight on target ``t`` times out at ``when``" -- and wakes once for the
earliest. This module is that heap, as plain data: no clock is read here (the
caller passes ``now``), no trio, so the ordering rules are tested with
numbers.

Ordering: by time, then by *rank* (a deadline, rank 0, is handled before a
slot start, rank 1, due at the same instant: a slot whose deadline is capped by
the next slot's due time is always resolved before that next slot starts), then
first in, first out (targets due at the same instant are served in the order
their timers were set).

Cancelling is lazy, as in most timer heaps: a timer carries a *generation*
(an int the owner increments whenever it re-arms or drops that timer); the
owner tells :meth:`TimerHeap.pop_due` and :meth:`TimerHeap.next_due` which
timers are still live, and stale ones are discarded when they reach the top
(so the driver never wakes for a timer that was cancelled).

Why hand-written: :mod:`heapq` does the heap; the few lines here only fix the
tie-breaking rule above and the lazy cancellation, which no library offers in
this shape.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["RANK_DEADLINE", "RANK_DUE", "TimerHeap"]

RANK_DEADLINE = 0
"""A probe slot's deadline: handled before a slot start due at the same time."""

RANK_DUE = 1
"""A probe slot's start."""

T = TypeVar("T")

_Entry = tuple[float, int, int, T, int]
"""``(when, rank, order, owner, generation)``."""


class TimerHeap(Generic[T]):
    """Timers ``(when, rank, owner, generation)`` ordered by time, rank, then insertion.

    ``owner`` is any object (the driver uses the target's probe); it is never
    compared (the insertion counter breaks every tie first).
    """

    __slots__ = ("_heap", "_order")

    def __init__(self) -> None:
        self._heap: list[_Entry[T]] = []
        self._order = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: float, rank: int, owner: T, generation: int) -> None:
        """Set a timer for ``owner`` at ``when``."""
        self._order += 1
        heapq.heappush(self._heap, (when, rank, self._order, owner, generation))

    def _drop_stale(self, live: Callable[[T, int, int], bool]) -> None:
        heap = self._heap
        while heap:
            _, rank, _, owner, gen = heap[0]
            if live(owner, rank, gen):
                return
            heapq.heappop(heap)

    def next_due(self, live: Callable[[T, int, int], bool]) -> float:
        """The time of the earliest live timer (``inf`` if none); stale ones are dropped.

        ``live(owner, rank, generation)`` says whether a timer still counts.
        """
        self._drop_stale(live)
        return self._heap[0][0] if self._heap else float("inf")

    def pop_due(
        self, now: float, live: Callable[[T, int, int], bool]
    ) -> tuple[float, int, T, int] | None:
        """The earliest live timer due at or before ``now``, removed, as
        ``(when, rank, owner, generation)``; ``None`` if there is none."""
        self._drop_stale(live)
        heap = self._heap
        if not heap or heap[0][0] > now:
            return None
        when, rank, _, owner, gen = heapq.heappop(heap)
        return when, rank, owner, gen
