"""Jitter estimators. Every figure says which definition it is.

IPDV (RFC 3393 inter-packet delay variation, applied to round-trip times)
    ``|RTT_k - RTT_(k-1)|`` for two *consecutive answered* probes. A timeout
    breaks the pair: the next answered sample has no IPDV (``None``), and the
    one after it pairs with it. This is the per-sample ``Sample.jitter_s``.

RFC 3550 interarrival jitter (smoothed)
    ``J += (|D| - J) / 16`` with ``D = RTT_k - RTT_(k-1)`` over the same
    answered pairs (RFC 3550 §6.4.1 and A.8, as WebRTC, Twilio and Genesys
    WebRTC report it). J starts at 0 and is updated once per IPDV sample;
    with a 1 s interval its time constant is about 16 s.

PDV (RFC 5481)
    ``p99 - min`` over a window: see :meth:`RttWindow.pdv
    <genesys_pulse.core._window.RttWindow.pdv>`.

Heartbeat gap deviation
    ``|gap - period|`` between two server heartbeats: see
    :mod:`genesys_pulse.core._heartbeat`.
"""

from __future__ import annotations

from ._quantiles import LogHistogram

__all__ = ["JitterTracker", "ipdv"]


def ipdv(previous_rtt: float | None, rtt: float | None) -> float | None:
    """``|rtt - previous_rtt|``, or ``None`` unless both are answered RTTs."""
    if previous_rtt is None or rtt is None:
        return None
    return abs(rtt - previous_rtt)


class JitterTracker:
    """IPDV per answered pair, RFC 3550 smoothed jitter and all-time |IPDV| statistics.

    Args:
      alpha: relative accuracy of the all-time |IPDV| quantiles.
    """

    __slots__ = ("_prev", "histogram", "rfc3550")

    def __init__(self, alpha: float = 0.01) -> None:
        self._prev: float | None = None
        self.rfc3550 = 0.0
        """RFC 3550 smoothed jitter in seconds (0.0 until the first IPDV sample)."""
        self.histogram = LogHistogram(alpha)
        """All-time |IPDV| values (count, mean, quantiles)."""

    def add(self, rtt: float | None) -> float | None:
        """Record one probe outcome (``None`` = timeout); return its IPDV or ``None``."""
        prev = self._prev
        self._prev = rtt
        if prev is None or rtt is None:
            return None
        d = rtt - prev
        if d < 0.0:
            d = -d
        self.rfc3550 += (d - self.rfc3550) * 0.0625
        self.histogram.add(d)
        return d

    def break_pair(self) -> None:
        """Forget the previous RTT (e.g. on a new connection): the next sample has no IPDV."""
        self._prev = None

    @property
    def count(self) -> int:
        """Number of IPDV samples so far."""
        return self.histogram.count

    def ipdv_mean(self) -> float | None:
        """Mean |IPDV| over the run (``None`` before the first pair)."""
        return self.histogram.mean()

    def ipdv_quantile(self, q: float) -> float | None:
        """All-time |IPDV| quantile (relative error ``alpha``)."""
        return self.histogram.quantile(q)

    def rfc3550_or_none(self) -> float | None:
        """The RFC 3550 jitter, or ``None`` before the first IPDV sample."""
        return self.rfc3550 if self.histogram.count else None
