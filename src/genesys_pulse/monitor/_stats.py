"""Per target x probe kind statistics, built from the core estimators.

Bounded memory: a fixed-capacity :class:`~genesys_pulse.core._window.RttWindow`
for the sliding window (stability, recent quantiles, PDV), a
:class:`~genesys_pulse.core._quantiles.LogHistogram` for all-time quantiles
(bounded bucket count) and per-window quantiles, and a
:class:`~genesys_pulse.core._jitter.JitterTracker`. Nothing grows with the
run's length.

Names of the figures (each jitter figure says which definition it is):

* ``rtt_p50_s`` ... ``rtt_max_s``: whole-run RTT quantiles (1 % relative
  accuracy, exact min/max);
* ``recent_p50_s`` ...: exact nearest-rank quantiles of the sliding window;
* ``jitter_ipdv_mean_s`` / ``jitter_ipdv_p99_s``: |IPDV| (RFC 3393) between
  consecutive answered probes;
* ``jitter_rfc3550_s``: RFC 3550 smoothed jitter of the RTTs;
* ``pdv_s``: RFC 5481 PDV, p99 - min of the sliding window;
* ``stability``: share of the probe slots in the sliding window answered within
  the critical RTT threshold (planned-rotation slots excluded);
* ``timeout_ratio``: timeouts / slots over the whole run;
* heartbeats: ``gap_mean_s``, ``gap_max_s``, ``gap_deviation_mean_s``
  (mean |gap - period|).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from genesys_pulse.core._jitter import JitterTracker
from genesys_pulse.core._quantiles import LogHistogram
from genesys_pulse.core._window import RttWindow
from genesys_pulse.core.model import AttrValue, Sample

__all__ = ["KindStats"]


class KindStats:
    """Statistics of one probe kind of one target.

    Args:
      stability_window: probe slots in the sliding window.
      critical_rtt: a slot counts as stable when answered within this RTT.
      period: expected heartbeat period (heartbeat statistics only).
    """

    def __init__(
        self, stability_window: int, critical_rtt: float, period: float | None = None
    ) -> None:
        self.window = RttWindow(stability_window)
        self._stable: deque[bool] = deque(maxlen=stability_window)
        self._stable_count = 0
        self._critical = critical_rtt
        self.jitter = JitterTracker()
        self.all_time = LogHistogram()
        self.count = 0
        self.timeouts = 0
        self.local_stalls = 0
        self.planned = 0
        self._period = period
        self._gap_dev_sum = 0.0
        self._reset_window_counts()

    def _reset_window_counts(self) -> None:
        self.w_hist = LogHistogram()
        self.w_count = 0
        self.w_timeouts = 0

    @property
    def capacity(self) -> int:
        """Bound of the sliding window (for memory assertions)."""
        return self.window.capacity

    def sizes(self) -> dict[str, int]:
        """Current sizes of the internal bounded structures."""
        return {
            "window": len(self.window),
            "stable": len(self._stable),
            "all_time_buckets": len(self.all_time._buckets),
            "window_buckets": len(self.w_hist._buckets),
        }

    def ipdv(self, rtt: float | None) -> float | None:
        """Feed one outcome to the jitter tracker; the sample's IPDV (``None`` if unpaired)."""
        return self.jitter.add(rtt)

    def add(self, sample: Sample, *, planned: bool = False) -> None:
        """Account for one sample (a probe slot or a heartbeat gap)."""
        self.count += 1
        self.w_count += 1
        if sample.local_stall:
            self.local_stalls += 1
        if sample.gap_s is not None:  # heartbeat
            gap = sample.gap_s
            self.all_time.add(gap)
            self.w_hist.add(gap)
            if sample.timed_out:
                self.timeouts += 1
                self.w_timeouts += 1
            if self._period is not None:
                self._gap_dev_sum += abs(gap - self._period)
            return
        rtt = sample.rtt_s
        if rtt is None:
            self.timeouts += 1
            self.w_timeouts += 1
            self.jitter.break_pair()
        else:
            self.all_time.add(rtt)
            self.w_hist.add(rtt)
        if planned:
            self.planned += 1
            return
        self.window.add(rtt)
        stable = rtt is not None and rtt < self._critical
        st = self._stable
        if len(st) == st.maxlen and st[0]:
            self._stable_count -= 1
        st.append(stable)
        if stable:
            self._stable_count += 1

    @property
    def stability_slots(self) -> int:
        """Slots currently in the stability window."""
        return len(self._stable)

    def stability(self) -> float | None:
        """Share of the sliding window's slots answered within the critical RTT."""
        n = len(self._stable)
        return self._stable_count / n if n else None

    def reset_window(self) -> None:
        """Start a new reporting window (the sliding window is kept)."""
        self._reset_window_counts()

    def window_summary(self) -> dict[str, AttrValue]:
        """Flat summary of the current reporting window (event attributes)."""
        out: dict[str, AttrValue] = {"count": self.w_count, "timeouts": self.w_timeouts}
        h = self.w_hist
        for name, q in (("p50_s", 0.5), ("p95_s", 0.95), ("p99_s", 0.99)):
            v = h.quantile(q) if h.count else None
            if v is not None:
                out[name] = v
        if h.count:
            out["max_s"] = h.max
            out["min_s"] = h.min
        extra = self._jitter_figures()
        out.update({k: v for k, v in extra.items() if v is not None})
        return out

    def _jitter_figures(self) -> dict[str, Any]:
        j = self.jitter
        return {
            "jitter_ipdv_mean_s": j.ipdv_mean(),
            "jitter_ipdv_p99_s": j.ipdv_quantile(0.99),
            "jitter_rfc3550_s": j.rfc3550_or_none(),
            "pdv_s": self.window.pdv(),
            "stability": self.stability(),
        }

    def summary(self) -> dict[str, Any]:
        """Whole-run summary (JSON-able; ``None`` where nothing was measured)."""
        h = self.all_time
        out: dict[str, Any] = {
            "count": self.count,
            "timeouts": self.timeouts,
            "timeout_ratio": self.timeouts / self.count if self.count else None,
            "local_stalls": self.local_stalls,
            "planned_excluded": self.planned,
        }
        if self._period is not None:
            out["gap_mean_s"] = h.mean() if h.count else None
            out["gap_max_s"] = h.max if h.count else None
            out["gap_deviation_mean_s"] = self._gap_dev_sum / h.count if h.count else None
            return out
        for name, q in (("p50_s", 0.5), ("p95_s", 0.95), ("p99_s", 0.99)):
            out[f"rtt_{name}"] = h.quantile(q) if h.count else None
        out["rtt_max_s"] = h.max if h.count else None
        out["rtt_min_s"] = h.min if h.count else None
        out["recent_p50_s"] = self.window.quantile(0.5)
        out.update(self._jitter_figures())
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in out.items()
        }
