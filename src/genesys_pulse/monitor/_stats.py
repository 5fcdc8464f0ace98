"""Per target x probe kind statistics: the core :class:`~genesys_pulse.core._stats.ProbeStats`
for control and application probes, a small gap tracker for heartbeats.

Bounded memory throughout (fixed rings and bounded histograms): nothing grows
with the run's length. A heartbeat tracker allocates no probe statistics
(RTT window, stability, jitter) unless they are asked for, and a probe kind
no gap histogram unless a gap is recorded. The figures and their names are the core's (see
:meth:`ProbeStats.summary <genesys_pulse.core._stats.ProbeStats.summary>`);
heartbeats report ``count``, ``timeouts`` (silences beyond the critical
level), ``gap_mean_s``, ``gap_p50_s``, ``gap_max_s`` and
``gap_deviation_mean_s`` (mean ``|gap - period|``, an offset-free
server-to-client delay-variation figure).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from genesys_pulse.core import JitterTracker, LogHistogram, ProbeStats, RttWindow
from genesys_pulse.core.model import AttrValue

__all__ = ["KindStats"]


@lru_cache(maxsize=16)
def _heartbeat_keys(prefix: str) -> tuple[str, str, str]:
    """``count``, ``timeouts``, ``gap_max_s`` behind *prefix*, built once per prefix."""
    return (prefix + "count", prefix + "timeouts", prefix + "gap_max_s")


class KindStats:
    """Statistics of one probe kind of one target.

    Args:
      stability_window: probe slots in the sliding window.
      critical_rtt: a slot counts as stable when answered below this RTT.
      period: the expected heartbeat period: makes this a heartbeat tracker.
    """

    __slots__ = (
        "_critical_rtt",
        "_gap_dev_sum",
        "_gaps_h",
        "_hb_count",
        "_hb_stalls",
        "_hb_timeouts",
        "_period",
        "_probe",
        "_stability_window",
    )

    def __init__(
        self, stability_window: int, critical_rtt: float, period: float | None = None
    ) -> None:
        self._stability_window = stability_window
        self._critical_rtt = critical_rtt
        self._probe = None if period is not None else ProbeStats(stability_window, critical_rtt)
        self._period = period
        self._gaps_h: LogHistogram | None = None
        self._gap_dev_sum = 0.0
        self._hb_count = 0
        self._hb_timeouts = 0
        self._hb_stalls = 0

    # -- views used by the target, the dashboard and the tests ---------------

    @property
    def probe(self) -> ProbeStats:
        """The probe statistics (created on first use for a heartbeat tracker)."""
        probe = self._probe
        if probe is None:
            probe = self._probe = ProbeStats(self._stability_window, self._critical_rtt)
        return probe

    @property
    def _gaps(self) -> LogHistogram:
        """The heartbeat gap histogram (created on first use)."""
        gaps = self._gaps_h
        if gaps is None:
            gaps = self._gaps_h = LogHistogram()
        return gaps

    @property
    def window(self) -> RttWindow:
        """The sliding RTT window (recent quantiles, sparkline)."""
        return self.probe.window

    @property
    def jitter(self) -> JitterTracker:
        """The jitter estimators."""
        return self.probe.jitter

    @property
    def all_time(self) -> LogHistogram:
        """Whole-run histogram of RTTs (or of heartbeat gaps)."""
        return self._gaps if self._period is not None else self.probe.all_time

    @property
    def timeouts(self) -> int:
        """Timed-out slots (or heartbeat silences) so far."""
        return self._hb_timeouts if self._period is not None else self.probe.timeouts.timeouts

    @property
    def capacity(self) -> int:
        """Bound of the sliding windows (for memory assertions)."""
        return self._stability_window

    @property
    def stability_slots(self) -> int:
        """Slots currently in the stability window."""
        probe = self._probe
        return 0 if probe is None else len(probe.stability)

    def stability(self) -> float | None:
        """Share of the sliding window's slots answered within the critical RTT."""
        probe = self._probe
        return None if probe is None else probe.stability.rate

    def sizes(self) -> dict[str, int]:
        """Current sizes of the internal bounded structures."""
        probe = self._probe
        gaps = self._gaps_h
        return {
            "window": 0 if probe is None else len(probe.window),
            "stable": 0 if probe is None else len(probe.stability),
            "all_time_buckets": 0 if probe is None else len(probe.all_time._buckets),
            "gap_buckets": 0 if gaps is None else len(gaps._buckets),
            "ipdv_buckets": 0 if probe is None else len(probe.jitter.histogram._buckets),
        }

    # -- recording -------------------------------------------------------------

    def record(self, rtt: float | None, *, planned: bool, local_stall: bool) -> float | None:
        """Record one probe slot (``None``: timed out); return its IPDV (RFC 3393) or ``None``.

        ``planned`` (a planned rotation's disconnected slot) and ``local_stall``
        slots are kept out of the stability window; a ``local_stall`` slot also
        breaks the IPDV pairs on both sides (its IPDV is ``None``, and so is the
        next sample's).
        """
        probe = self._probe or self.probe
        if local_stall:
            # A stalled sample's RTT includes local delay: it pairs with neither
            # neighbour, so no IPDV (and no RFC 3550 update) is derived from it.
            jitter = probe.jitter
            jitter.break_pair()
            probe.record(rtt, planned=True, local_stall=True)
            jitter.break_pair()
            return None
        return probe.record(rtt, planned=planned, local_stall=False)

    def record_late(self, rtt: float) -> None:
        """Record the late answer of a slot already recorded as a timeout (see ProbeStats)."""
        (self._probe or self.probe).record_late(rtt)

    def record_gap(self, gap: float, *, timed_out: bool, local_stall: bool) -> None:
        """Record one heartbeat gap (or a silence that exceeded the critical level)."""
        self._hb_count += 1
        self._gaps.add(gap)
        if timed_out:
            self._hb_timeouts += 1
        if local_stall:
            self._hb_stalls += 1
        if self._period is not None and not timed_out:
            self._gap_dev_sum += abs(gap - self._period)

    # -- summaries ---------------------------------------------------------------

    def window_summary(self) -> dict[str, AttrValue]:
        """Flat summary of the sliding window (``window`` event attributes)."""
        out: dict[str, AttrValue] = {}
        self.window_summary_into(out, "")
        return out

    def window_summary_into(self, out: dict[str, AttrValue], prefix: str) -> None:
        """:meth:`window_summary` written into *out* under ``prefix + key``.

        The window event merges every kind's summary into one dict
        (``control.p99_s``, ...): this writes there directly, with key strings
        built once per prefix, so a window summary makes no dict of its own and
        no key string (see :meth:`ProbeStats.window_attributes_into`).
        """
        if self._period is not None:
            k_count, k_timeouts, k_gap_max = _heartbeat_keys(prefix)
            out[k_count] = self._hb_count
            out[k_timeouts] = self._hb_timeouts
            gaps = self._gaps_h
            if gaps is not None and gaps.count:
                out[k_gap_max] = gaps.max
            return
        (self._probe or self.probe).window_attributes_into(out, prefix)

    def summary(self) -> dict[str, Any]:
        """Whole-run summary (JSON-able; ``None`` where nothing was measured)."""
        if self._period is None:
            return self.probe.summary()
        g = self._gaps
        ok = self._hb_count - self._hb_timeouts
        return {
            "count": self._hb_count,
            "timeouts": self._hb_timeouts,
            "local_stalls": self._hb_stalls,
            "gap_mean_s": g.mean() if g.count else None,
            "gap_p50_s": g.quantile(0.5) if g.count else None,
            "gap_max_s": g.max if g.count else None,
            "gap_deviation_mean_s": self._gap_dev_sum / ok if ok > 0 else None,
        }
