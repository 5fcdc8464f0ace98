"""All-time distribution summaries with bounded memory.

:class:`LogHistogram` is a log-linear bucket histogram in the style of
DDSketch (Masson, Rim & Lee, VLDB 2019): bucket ``i`` holds the values in
``(gamma**(i-1), gamma**i]`` with ``gamma = (1 + alpha) / (1 - alpha)``, and
reports the value ``2 * gamma**i / (gamma + 1)`` for it, which is within a
*relative* error ``alpha`` (default 1 %) of every value in the bucket.

Definitions:

quantile (nearest rank)
    The value of rank ``max(1, ceil(q * count))`` in ascending order,
    reported as its bucket's representative value and clamped to the exact
    ``[min, max]``; ``q=0`` gives the exact minimum and ``q=1`` the exact
    maximum.

Memory is bounded: buckets are kept in a dense ``array('H')`` (two bytes a
counter) over the occupied index range only, grown to the exact size needed
(an RTT spread from 0.2 ms to 50 ms needs about 276 counters at 1 %, 550
bytes). A counter that would pass 65,535 is reset to 0 and 65,536 is carried
into a small dict of carries keyed by bucket index, created the first time it
is needed (after days at one value a second, for the busiest buckets only);
so the two-byte counters never need widening. Values are clamped into
``[min_value, max_value]``, so the range can never exceed about 1,400 buckets
at 1 % accuracy (``min_value=1e-9`` s to ``max_value=1e6`` s). The accuracy
constants are shared by every histogram of the same ``alpha`` and limits.
Adding a value is O(1) amortised; a quantile walks the buckets.
"""

from __future__ import annotations

import math
from array import array
from functools import lru_cache

__all__ = ["LogHistogram"]

_ceil = math.ceil
_log = math.log
_CARRY = 1 << 16
"""What a bucket's two-byte counter holds before it carries."""
_EMPTY: array[int] = array("H")
"""The buckets of every empty histogram (never written: the first value replaces it)."""


@lru_cache(maxsize=64)
def _shape(
    alpha: float, min_value: float, max_value: float
) -> tuple[float, float, float, float, float]:
    """``(alpha, gamma, 1 / log(gamma), min_value, max_value)``, validated, shared."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < min_value < max_value:
        raise ValueError("need 0 < min_value < max_value")
    gamma = (1.0 + alpha) / (1.0 - alpha)
    return (alpha, gamma, 1.0 / math.log(gamma), min_value, max_value)


class LogHistogram:
    """Count, sum, exact min/max and approximate quantiles of non-negative values.

    Args:
      alpha: relative accuracy of quantiles, ``0 < alpha < 1`` (default 0.01).
      min_value: values at or below this (including 0 and negatives) go to a
        zero bucket reported as ``0.0`` (clamped to the exact min).
      max_value: larger values are counted in the bucket of ``max_value``
        (the exact max is still tracked).
    """

    __slots__ = (
        "_buckets",
        "_carry",
        "_inv_log_gamma",
        "_offset",
        "_shape",
        "_zero",
        "count",
        "max",
        "max_value",
        "min",
        "min_value",
        "sum",
    )

    def __init__(
        self, alpha: float = 0.01, *, min_value: float = 1e-9, max_value: float = 1e6
    ) -> None:
        shape = _shape(alpha, min_value, max_value)
        self._shape = shape
        self._inv_log_gamma = shape[2]
        self.min_value = shape[3]
        self.max_value = shape[4]
        self._buckets: array[int] = _EMPTY
        self._carry: dict[int, int] | None = None
        self._offset = 0
        self._zero = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    @property
    def alpha(self) -> float:
        """The relative accuracy of the quantiles."""
        return self._shape[0]

    @property
    def gamma(self) -> float:
        """The bucket ratio ``(1 + alpha) / (1 - alpha)``."""
        return self._shape[1]

    def add(self, value: float) -> None:
        """Record one value. Raises ValueError for NaN."""
        if value != value:  # NaN
            raise ValueError("cannot record NaN")
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if value <= self.min_value:
            self._zero += 1
            return
        if value > self.max_value:
            value = self.max_value
        i = _ceil(_log(value) * self._inv_log_gamma)
        j = i - self._offset
        buckets = self._buckets
        if j < 0 or j >= len(buckets):
            buckets, j = self._grow(i)
        try:
            buckets[j] += 1
        except OverflowError:  # 65,536 more in this bucket: carry them
            buckets[j] = 0
            carry = self._carry
            if carry is None:
                carry = self._carry = {}
            carry[i] = carry.get(i, 0) + _CARRY

    def _grow(self, i: int) -> tuple[array[int], int]:
        """Extend the buckets to the exact size that holds index ``i``."""
        buckets = self._buckets
        n = len(buckets)
        if n == 0:
            self._offset = i
            buckets = array("H", b"\0\0")
        elif i < self._offset:
            buckets = array("H", bytes(2 * (self._offset - i))) + buckets
            self._offset = i
        else:
            buckets = buckets + array("H", bytes(2 * (i - self._offset - n + 1)))
        self._buckets = buckets
        return buckets, i - self._offset

    def _value_of(self, index: int) -> float:
        gamma = self._shape[1]
        return 2.0 * gamma**index / (gamma + 1.0)

    def quantile(self, q: float) -> float | None:
        """Nearest-rank ``q``-quantile within relative error ``alpha`` (``None`` when empty)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {q}")
        count = self.count
        if count == 0:
            return None
        rank = max(1, math.ceil(q * count))
        if rank == 1:
            return self.min
        if rank >= count:
            return self.max
        seen = self._zero
        if rank <= seen:
            value = 0.0
        else:
            value = self.max
            offset = self._offset
            carry = self._carry or {}
            for idx, c in enumerate(self._buckets):
                seen += c + carry.get(idx + offset, 0) if carry else c
                if seen >= rank:
                    value = self._value_of(idx + offset)
                    break
        return min(max(value, self.min), self.max)

    def mean(self) -> float | None:
        """Arithmetic mean (``None`` when empty)."""
        return self.sum / self.count if self.count else None

    @property
    def bucket_count(self) -> int:
        """Number of counters held (a memory measure)."""
        return len(self._buckets) + 1

    def clear(self) -> None:
        """Forget everything."""
        self._buckets = _EMPTY
        self._carry = None
        self._offset = 0
        self._zero = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def __repr__(self) -> str:
        return f"LogHistogram(alpha={self.alpha}, count={self.count})"
