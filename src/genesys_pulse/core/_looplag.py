"""Event-loop lag: telling a stalled local host from a slow network.

A periodic task sleeps until an absolute deadline (``expected_wake``) and
records when it actually ran (``actual_wake``). Definitions:

lag
    ``max(0, actual_wake - expected_wake)``: how long the loop could not run
    the task; the loop was stalled (or busy) during
    ``[expected_wake, actual_wake]``.
stalled sample
    a probe whose lifetime ``[sent, received]`` overlaps a stall interval
    whose lag exceeds the threshold (default 50 ms): its RTT includes local
    delay and says little about the network.
stalled now
    the ticker's next wake-up (``last expected_wake + tick``) is overdue by
    more than the threshold: the loop has not been able to run it, so
    whatever the caller is timing right now is affected (the caller may
    simply have been scheduled before the ticker after a stall).

Only stall intervals with lag at least ``record_min`` are remembered, at most
``max_stalls`` of them, so queries on a healthy loop are O(1) and memory is
bounded.
"""

from __future__ import annotations

from collections import deque

__all__ = ["DEFAULT_STALL_THRESHOLD", "LoopLagEstimator"]

DEFAULT_STALL_THRESHOLD = 0.05
"""Lag in seconds above which the loop counts as stalled."""


class LoopLagEstimator:
    """Records loop lag and answers "was the loop stalled then / now?".

    Args:
      tick: the ticker's period in seconds (> 0), for :meth:`is_stalled`.
      record_min: smallest lag remembered as a stall interval (seconds).
      max_stalls: how many recent stall intervals are remembered.
    """

    __slots__ = ("_last_expected", "_stalls", "count", "last_lag", "max_lag", "record_min", "tick")

    def __init__(
        self, tick: float = 0.1, *, record_min: float = 0.01, max_stalls: int = 64
    ) -> None:
        if not tick > 0:
            raise ValueError(f"tick must be > 0, got {tick}")
        if max_stalls < 1:
            raise ValueError("max_stalls must be >= 1")
        self.tick = tick
        self.record_min = record_min
        self._stalls: deque[tuple[float, float, float]] = deque(maxlen=max_stalls)
        self._last_expected: float | None = None
        self.count = 0
        self.last_lag = 0.0
        self.max_lag = 0.0

    def record(self, expected_wake: float, actual_wake: float) -> float:
        """Record one wake-up; return its lag."""
        lag = actual_wake - expected_wake
        if lag < 0.0:
            lag = 0.0
        self.count += 1
        self.last_lag = lag
        if lag > self.max_lag:
            self.max_lag = lag
        self._last_expected = expected_wake
        if lag >= self.record_min:
            self._stalls.append((expected_wake, actual_wake, lag))
        return lag

    def max_lag_during(self, start: float, end: float) -> float:
        """The largest remembered lag whose stall interval overlaps ``[start, end]`` (0 if none)."""
        worst = 0.0
        for s, e, lag in reversed(self._stalls):
            if e < start:
                break
            if s <= end and lag > worst:
                worst = lag
        return worst

    def stalled_during(
        self, start: float, end: float, threshold: float = DEFAULT_STALL_THRESHOLD
    ) -> bool:
        """True if a stall with lag > ``threshold`` overlapped ``[start, end]``, or the loop is stalled at ``end``."""
        return self.max_lag_during(start, end) > threshold or self.is_stalled(end, threshold)

    def is_stalled(self, now: float, threshold: float = DEFAULT_STALL_THRESHOLD) -> bool:
        """True if the ticker's next wake-up is overdue at ``now`` by more than ``threshold``."""
        last = self._last_expected
        if last is None:
            return False
        return now - (last + self.tick) > threshold

    @property
    def last_expected(self) -> float | None:
        """When the latest recorded wake-up was due (``None`` before the first)."""
        return self._last_expected

    @property
    def remembered(self) -> int:
        """Stall intervals currently remembered."""
        return len(self._stalls)
