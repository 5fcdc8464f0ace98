"""Per (target, probe kind) statistics: timeouts, stability, and the aggregate.

Definitions:

timeout ratio
    ``timeouts / count`` over the whole run, where ``count`` is every probe
    slot recorded (answered or timed out).
consecutive timeouts
    the length of the current run of timed-out slots (reset by an answered
    slot); ``max_consecutive`` is the longest such run seen.
stability
    over a sliding window of the last ``capacity`` *counted* probe slots,
    ``good / counted``, where a slot is *good* when answered with an RTT
    strictly below the critical RTT threshold. Slots marked as planned
    (make-before-break rotation) are excluded: they do not enter the window
    at all (they are only counted in ``planned_excluded``). ``None`` while the
    window is empty.

Every update is O(1) and every structure has a fixed bound.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from ._jitter import JitterTracker
from ._quantiles import LogHistogram
from ._window import RttWindow
from .model import AttrValue

__all__ = ["ProbeStats", "StabilityWindow", "TimeoutCounter", "window_keys"]

_NO_BITS = bytearray()
"""The ring of every stability window before its first slot (never written: replaced)."""


class TimeoutCounter:
    """Counts slots, timeouts and runs of consecutive timeouts."""

    __slots__ = ("consecutive", "count", "max_consecutive", "timeouts")

    def __init__(self) -> None:
        self.count = 0
        self.timeouts = 0
        self.consecutive = 0
        self.max_consecutive = 0

    def record(self, timed_out: bool) -> int:
        """Record one slot; return the current number of consecutive timeouts."""
        self.count += 1
        if timed_out:
            self.timeouts += 1
            c = self.consecutive + 1
            self.consecutive = c
            if c > self.max_consecutive:
                self.max_consecutive = c
            return c
        self.consecutive = 0
        return 0

    @property
    def ratio(self) -> float | None:
        """``timeouts / count`` (``None`` before the first slot)."""
        return self.timeouts / self.count if self.count else None


class StabilityWindow:
    """Share of good slots among the last ``capacity`` counted slots (see module docstring).

    The ring holds one bit a slot (38 bytes for 300 slots), allocated by the
    first counted slot.
    """

    __slots__ = ("_bits", "_full", "_good", "_pos", "capacity", "excluded")

    def __init__(self, capacity: int = 300) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._bits = _NO_BITS
        self._pos = 0
        self._full = False
        self._good = 0
        self.excluded = 0
        """Slots excluded as planned (never entered the window)."""

    def record(self, good: bool, *, planned: bool = False) -> None:
        """Record one slot's outcome; a ``planned`` slot is excluded (only counted)."""
        if planned:
            self.excluded += 1
            return
        pos = self._pos
        bits = self._bits
        i = pos >> 3
        bit = 1 << (pos & 7)
        try:
            byte = bits[i]
        except IndexError:  # the first counted slot: allocate the ring
            self._bits = bits = bytearray((self.capacity + 7) >> 3)
            byte = 0
        # a set bit is a good slot of the previous lap (a new ring is all clear),
        # so only a changed slot writes
        if good:
            if not byte & bit:
                bits[i] = byte | bit
                self._good += 1
        elif byte & bit:
            bits[i] = byte ^ bit
            self._good -= 1
        pos += 1
        if pos == self.capacity:
            pos = 0
            self._full = True
        self._pos = pos

    def __len__(self) -> int:
        return self.capacity if self._full else self._pos

    @property
    def good(self) -> int:
        """Good slots in the window."""
        return self._good

    @property
    def rate(self) -> float | None:
        """``good / counted`` over the window (``None`` when empty)."""
        n = len(self)
        return self._good / n if n else None

    def clear(self) -> None:
        """Empty the window (the excluded count is kept)."""
        self._bits = _NO_BITS
        self._pos = 0
        self._full = False
        self._good = 0


_WINDOW_KEYS = (
    "count",
    "timeouts",
    "consecutive_timeouts",
    "late",
    "late_max_s",
    "p50_s",
    "p95_s",
    "p99_s",
    "min_s",
    "max_s",
    "pdv_s",
    "jitter_rfc3550_s",
    "stability",
)


@lru_cache(maxsize=16)
def window_keys(prefix: str) -> tuple[str, ...]:
    """The window-summary keys (:data:`_WINDOW_KEYS` order) behind *prefix*, built once.

    A window event's attribute dict takes the same key objects every window, so
    a summary builds no key strings (and hashes none: a ``str`` caches its hash).
    """
    return tuple(prefix + key for key in _WINDOW_KEYS)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


class ProbeStats:
    """Everything measured for one probe kind of one target, with bounded memory.

    Combines a :class:`~genesys_pulse.core._window.RttWindow` (recent
    quantiles, PDV), an all-time
    :class:`~genesys_pulse.core._quantiles.LogHistogram` (run quantiles within
    ``alpha`` relative error, exact min/max), a
    :class:`~genesys_pulse.core._jitter.JitterTracker`, a
    :class:`TimeoutCounter` and a :class:`StabilityWindow`.

    Args:
      window: probe slots in the sliding window (RTT window and stability).
      critical_rtt: seconds; a slot is good (stable) when answered below it.
      alpha: relative accuracy of the all-time quantiles.
    """

    __slots__ = (
        "_late_w",
        "_late_w_max",
        "all_time",
        "critical_rtt",
        "jitter",
        "late",
        "late_max",
        "local_stalls",
        "stability",
        "timeouts",
        "window",
    )

    def __init__(self, window: int = 300, critical_rtt: float = 0.400, alpha: float = 0.01) -> None:
        self.window = RttWindow(window)
        self.all_time = LogHistogram(alpha)
        self.jitter = JitterTracker(alpha)
        self.timeouts = TimeoutCounter()
        self.stability = StabilityWindow(window)
        self.critical_rtt = critical_rtt
        self.local_stalls = 0
        self.late = 0
        """Late answers: pongs of pings already counted as timeouts."""
        self.late_max = 0.0
        self._late_w = 0
        self._late_w_max = 0.0

    def record(
        self, rtt: float | None, *, planned: bool = False, local_stall: bool = False
    ) -> float | None:
        """Record one probe slot (``rtt=None``: timed out); return its IPDV or ``None``.

        ``planned`` excludes the slot from stability only (the RTT or timeout
        still counts everywhere else). ``local_stall`` only counts the slot in
        :attr:`local_stalls`.
        """
        self.timeouts.record(rtt is None)
        self.window.add(rtt)
        if rtt is not None:
            self.all_time.add(rtt)
        if local_stall:
            self.local_stalls += 1
        self.stability.record(rtt is not None and rtt < self.critical_rtt, planned=planned)
        return self.jitter.add(rtt)

    def record_late(self, rtt: float) -> None:
        """Record the late answer of a slot already recorded as a timeout.

        The slot stays a timeout (count, timeouts, stability and IPDV are not
        touched); its true RTT enters the whole-run RTT histogram, so the
        ``rtt_*`` percentiles include late answers.
        """
        self.late += 1
        self.all_time.add(rtt)
        if rtt > self.late_max:
            self.late_max = rtt
        self._late_w += 1
        if rtt > self._late_w_max:
            self._late_w_max = rtt

    def summary(self) -> dict[str, Any]:
        """The whole-run summary (JSON-able, ``None`` where nothing was measured).

        Keys (stable; times in seconds):

        * ``count``: slots recorded; ``answered``; ``timeouts``;
          ``timeout_ratio`` (timeouts / count); ``max_consecutive_timeouts``;
          ``planned_excluded`` (slots excluded from stability); ``local_stalls``;
        * ``late``: late answers (pongs of slots already counted as timeouts);
          ``late_rtt_max_s``: the largest late RTT;
        * ``rtt_min_s``, ``rtt_p50_s``, ``rtt_p95_s``, ``rtt_p99_s``,
          ``rtt_max_s``, ``rtt_mean_s``: every measured RTT over the whole run,
          answered in time **and late answers** (so a delay beyond the timeout
          shows in the percentiles); nearest-rank quantiles within ``alpha``
          relative error; exact min, max and mean;
        * ``jitter``: ``ipdv_mean_s`` and ``ipdv_p99_s`` (|IPDV|, RFC 3393,
          whole run), ``rfc3550_s`` (RFC 3550 smoothed jitter, current value),
          ``pdv_s`` (RFC 5481 p99 - min over the current sliding window);
        * ``stability``: the current sliding-window stability rate.
        """
        h = self.all_time
        t = self.timeouts
        answered = t.count - t.timeouts
        j = self.jitter
        return {
            "count": t.count,
            "answered": answered,
            "timeouts": t.timeouts,
            "late": self.late,
            "late_rtt_max_s": self.late_max if self.late else None,
            "timeout_ratio": t.ratio,
            "max_consecutive_timeouts": t.max_consecutive,
            "planned_excluded": self.stability.excluded,
            "local_stalls": self.local_stalls,
            "rtt_min_s": _finite(h.quantile(0.0)),
            "rtt_p50_s": _finite(h.quantile(0.5)),
            "rtt_p95_s": _finite(h.quantile(0.95)),
            "rtt_p99_s": _finite(h.quantile(0.99)),
            "rtt_max_s": _finite(h.quantile(1.0)),
            "rtt_mean_s": _finite(h.mean()),
            "jitter": {
                "ipdv_mean_s": _finite(j.ipdv_mean()),
                "ipdv_p99_s": _finite(j.ipdv_quantile(0.99)),
                "rfc3550_s": _finite(j.rfc3550_or_none()),
                "pdv_s": _finite(self.window.pdv()),
            },
            "stability": self.stability.rate,
        }

    def window_attributes(self) -> dict[str, AttrValue]:
        """A flat summary of the sliding window, for ``Event(name="window")`` attributes.

        Keys: ``count``, ``timeouts``, ``p50_s``, ``p95_s``, ``p99_s``,
        ``min_s``, ``max_s``, ``pdv_s`` (RFC 5481), ``jitter_rfc3550_s``,
        ``stability``, ``consecutive_timeouts`` over the sliding window
        (answered-in-time RTTs); ``late`` and ``late_max_s``: late answers since
        the previous call (reported beside, not inside, the window quantiles);
        keys with no value are omitted (attribute values cannot be ``None``).
        """
        out: dict[str, AttrValue] = {}
        self.window_attributes_into(out, "")
        return out

    def window_attributes_into(self, out: dict[str, AttrValue], prefix: str) -> None:
        """:meth:`window_attributes` written into *out* under ``prefix + key``.

        For the window event, which merges every probe kind's summary into one
        dict: no dict per kind and no key string per window (the prefixed keys
        are built once per prefix). The sorted answered RTTs are one transient
        list (a float object per answered slot), dropped before returning.
        """
        (
            k_count,
            k_timeouts,
            k_consecutive,
            k_late,
            k_late_max,
            k_p50,
            k_p95,
            k_p99,
            k_min,
            k_max,
            k_pdv,
            k_jitter,
            k_stability,
        ) = window_keys(prefix)
        w = self.window
        out[k_count] = len(w)
        out[k_timeouts] = w.timeouts
        out[k_consecutive] = self.timeouts.consecutive
        out[k_late] = self._late_w
        if self._late_w:
            out[k_late_max] = self._late_w_max
        self._late_w = 0
        self._late_w_max = 0.0
        values = w.sorted_answered_once()  # not kept until the next sample
        n = len(values)
        if n:
            out[k_p50] = values[max(0, math.ceil(0.5 * n) - 1)]
            out[k_p95] = values[max(0, math.ceil(0.95 * n) - 1)]
            p99 = values[max(0, math.ceil(0.99 * n) - 1)]
            out[k_p99] = p99
            low = values[0]
            out[k_min] = low
            out[k_max] = values[-1]
            out[k_pdv] = p99 - low
        del values
        if self.jitter.count:
            out[k_jitter] = self.jitter.rfc3550
        rate = self.stability.rate
        if rate is not None:
            out[k_stability] = rate
