"""A fixed-capacity ring window of recent RTT samples.

Definitions used here:

nearest-rank quantile
    For ``q`` in ``[0, 1]`` and ``n`` sorted values ``x[0] <= ... <= x[n-1]``,
    the value ``x[max(0, ceil(q * n) - 1)]``: always an observed value; ``q=0``
    gives the minimum and ``q=1`` the maximum.

PDV (RFC 5481 packet delay variation, two-point form of ITU-T Y.1540)
    ``p99 - min`` of the answered RTTs in the window.

Updates are O(1). The ring (8 bytes a slot) is allocated by the first
update. Quantiles sort the window on demand (the window holds a few hundred
samples) and cache the sorted list until the next update, so reading p50,
p95, p99 and the PDV together sorts once.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence

__all__ = ["RttWindow", "nearest_rank"]


def nearest_rank(sorted_values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile of ``sorted_values`` (``None`` when empty)."""
    n = len(sorted_values)
    if n == 0:
        return None
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    return sorted_values[max(0, math.ceil(q * n) - 1)]


_TIMEOUT = math.inf
"""A timed-out slot in the ring: ``+inf`` sorts after every RTT (NaN would not sort)."""
_ZERO: array[float] = array("d", [0.0])
_NO_RING: array[float] = array("d")
"""The ring of every window before its first sample (never written: replaced)."""


class RttWindow:
    """The last ``capacity`` probe outcomes: an RTT in seconds, or ``None`` for a timeout.

    Timeouts occupy their slot in the window (they are samples, not gaps) and
    are counted by :attr:`timeouts`. Quantiles are computed over answered
    samples only, unless ``include_timeouts=True``, in which case a timeout
    ranks as ``+inf`` (so a p99 that falls on a timeout is ``inf``).
    """

    __slots__ = ("_answered_sorted", "_full", "_pos", "_ring", "_timeouts", "capacity")

    def __init__(self, capacity: int = 300) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        # RTTs as C doubles, +inf for a timeout: 8 bytes a slot instead of a
        # pointer plus a float object (2.4 KiB instead of 9.4 KiB for 300 slots),
        # allocated by the first add (a window that never records costs nothing)
        self._ring = _NO_RING
        self._pos = 0
        self._full = False
        self._timeouts = 0
        self._answered_sorted: list[float] | None = None

    def add(self, rtt: float | None) -> None:
        """Record one outcome (``None`` = timed out), evicting the oldest when full.

        Raises ValueError for an RTT that is not finite (NaN or infinite): it
        is not a measurement, and ``+inf`` marks a timeout in the ring.
        """
        if rtt is not None and not rtt < _TIMEOUT:
            raise ValueError(f"an RTT must be finite, got {rtt}")
        pos = self._pos
        ring = self._ring
        if self._full:
            old = ring[pos]
            if old == _TIMEOUT:  # a timeout leaves the window
                self._timeouts -= 1
        if rtt is None:
            rtt = _TIMEOUT
            self._timeouts += 1
        try:
            ring[pos] = rtt
        except IndexError:  # the first sample: allocate the ring
            # exactly `capacity` doubles: array("d", bytes(n)) over-allocates its
            # buffer (2,648 + ~430 bytes traced for 300 slots instead of 2,480)
            self._ring = ring = _ZERO * self.capacity
            ring[pos] = rtt
        pos += 1
        if pos == self.capacity:
            pos = 0
            self._full = True
        self._pos = pos
        self._answered_sorted = None

    def clear(self) -> None:
        """Empty the window."""
        self._ring = _NO_RING
        self._pos = 0
        self._full = False
        self._timeouts = 0
        self._answered_sorted = None

    def __len__(self) -> int:
        return self.capacity if self._full else self._pos

    @property
    def timeouts(self) -> int:
        """Timed-out samples in the window."""
        return self._timeouts

    @property
    def answered(self) -> int:
        """Answered samples in the window."""
        return len(self) - self._timeouts

    @property
    def timeout_ratio(self) -> float | None:
        """``timeouts / len`` (``None`` when empty)."""
        n = len(self)
        return self._timeouts / n if n else None

    def values(self) -> list[float | None]:
        """The samples, oldest first."""
        ring = self._ring
        ordered = ring[self._pos :] + ring[: self._pos] if self._full else ring[: self._pos]
        return [None if v == _TIMEOUT else v for v in ordered]

    def latest(self) -> Iterable[float | None]:
        """The samples, newest first (for sparklines)."""
        return reversed(self.values())

    def sorted_answered(self) -> list[float]:
        """The answered RTTs, ascending (cached until the next :meth:`add`)."""
        cached = self._answered_sorted
        if cached is None:
            cached = self._answered_sorted = self.sorted_answered_once()
        return cached

    def sorted_answered_once(self) -> list[float]:
        """The answered RTTs, ascending, without caching them.

        For a reader that takes every figure at once (the ``window`` event):
        the sorted list (a float object per slot, ~9 KiB for 300 slots) is not
        kept until the next :meth:`add`.
        """
        cached = self._answered_sorted
        if cached is not None:
            return cached
        ring = self._ring if self._full else self._ring[: self._pos]
        # one list, straight from the C doubles; timeouts (+inf) sort last
        values = sorted(ring)
        if self._timeouts:
            del values[len(values) - self._timeouts :]  # in place: no second list
        return values

    def quantile(self, q: float, *, include_timeouts: bool = False) -> float | None:
        """Nearest-rank ``q``-quantile of the window (``None`` when nothing to rank)."""
        values = self.sorted_answered()
        if include_timeouts and self._timeouts:
            n = len(values) + self._timeouts
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"quantile must be in [0, 1], got {q}")
            idx = max(0, math.ceil(q * n) - 1)
            return values[idx] if idx < len(values) else math.inf
        return nearest_rank(values, q)

    @property
    def min(self) -> float | None:
        """Smallest answered RTT in the window."""
        values = self.sorted_answered()
        return values[0] if values else None

    @property
    def max(self) -> float | None:
        """Largest answered RTT in the window."""
        values = self.sorted_answered()
        return values[-1] if values else None

    def mean(self) -> float | None:
        """Mean of the answered RTTs in the window."""
        values = self.sorted_answered()
        return math.fsum(values) / len(values) if values else None

    def pdv(self) -> float | None:
        """RFC 5481 PDV: ``p99 - min`` of the answered RTTs (``None`` when empty)."""
        values = self.sorted_answered()
        if not values:
            return None
        p99 = nearest_rank(values, 0.99)
        assert p99 is not None
        return p99 - values[0]
