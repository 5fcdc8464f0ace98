"""Server heartbeat tracking: gaps, deviation from the period, silence.

Genesys sends ``channel.metadata`` "WebSocket Heartbeat" about every 30 s.
Definitions:

gap
    time between two consecutive heartbeats on the same connection (the
    first heartbeat after :meth:`HeartbeatTracker.reset` has no gap).
gap deviation
    ``|gap - period|``: an offset-free, one-way (server -> client) delay
    variation sample, since the server sends on a fixed period.
silence
    seconds since the last heartbeat, or since the connection started when
    none has arrived yet. Compare it with the ``heartbeat_silence``
    thresholds (2-3 periods) to detect a stalled socket.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HeartbeatGap", "HeartbeatTracker"]


@dataclass(frozen=True, slots=True)
class HeartbeatGap:
    """One inter-heartbeat gap and its deviation ``|gap - period|`` (seconds)."""

    gap: float
    deviation: float


class HeartbeatTracker:
    """Heartbeat gaps and silence on one connection.

    Args:
      period: the expected heartbeat period in seconds (> 0).
      start: when the connection started (monotonic), the origin of
        :meth:`silence` until the first heartbeat.
    """

    __slots__ = ("_last", "_since", "count", "deviation_sum", "max_gap", "period")

    def __init__(self, period: float = 30.0, start: float = 0.0) -> None:
        if not period > 0:
            raise ValueError(f"period must be > 0, got {period}")
        self.period = period
        self._since = start
        self._last: float | None = None
        self.count = 0
        """Gaps measured."""
        self.deviation_sum = 0.0
        self.max_gap = 0.0

    def reset(self, now: float) -> None:
        """A new connection started at ``now``: the next heartbeat has no gap."""
        self._since = now
        self._last = None

    def on_heartbeat(self, t: float) -> HeartbeatGap | None:
        """A heartbeat arrived at ``t``; return its gap (``None`` for the first)."""
        last = self._last
        self._last = t
        if last is None:
            return None
        gap = t - last
        deviation = abs(gap - self.period)
        self.count += 1
        self.deviation_sum += deviation
        if gap > self.max_gap:
            self.max_gap = gap
        return HeartbeatGap(gap, deviation)

    @property
    def last(self) -> float | None:
        """Arrival time of the last heartbeat on this connection."""
        return self._last

    def silence(self, now: float) -> float:
        """Seconds since the last heartbeat (or since the connection started)."""
        ref = self._last if self._last is not None else self._since
        return max(0.0, now - ref)

    def deviation_mean(self) -> float | None:
        """Mean ``|gap - period|`` over the gaps measured (``None`` before the first)."""
        return self.deviation_sum / self.count if self.count else None
