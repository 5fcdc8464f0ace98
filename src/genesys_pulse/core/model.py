"""The values that flow out of the monitor: samples and events.

These are plain, immutable data. The monitor produces them; every sink
(JSON lines, the live dashboard, OpenTelemetry, the audit journal, user
callbacks) consumes them. Times are of two kinds and never mixed:

* ``*_mono`` fields are readings of the monitor's monotonic clock
  (``trio.current_time()``), used for every duration;
* ``at`` is wall-clock seconds since the epoch (``time.time()``), used only to
  label a record for humans and backends.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

AttrValue = str | int | float | bool


class ProbeKind(enum.StrEnum):
    """The three signals measured on one connection."""

    CONTROL = "control"
    """RFC 6455 ping control frame answered by a pong control frame."""
    APPLICATION = "application"
    """Genesys ``{"message":"ping"}`` answered by a ``channel.metadata`` pong."""
    HEARTBEAT = "heartbeat"
    """Passive: the gap between two server heartbeats."""


class Level(enum.IntEnum):
    """Threshold state; the integer is what the OTel gauge reports."""

    OK = 0
    WARNING = 1
    CRITICAL = 2


@dataclass(frozen=True, slots=True)
class Sample:
    """One probe slot's outcome, or one heartbeat gap.

    For ``CONTROL`` and ``APPLICATION`` probes ``rtt_s`` is the round-trip time
    (``None`` exactly when ``timed_out``). For ``HEARTBEAT`` samples ``rtt_s``
    is ``None`` and ``gap_s`` holds the time since the previous heartbeat;
    ``timed_out`` then means the heartbeat silence exceeded its limit.
    """

    target: str
    probe: ProbeKind
    seq: int
    """Slot index k: the probe was scheduled at ``start + k * interval``."""
    scheduled_mono: float
    sent_mono: float | None
    rtt_s: float | None
    timed_out: bool
    at: float
    jitter_s: float | None = None
    """IPDV: |RTT_k - RTT_(k-1)| between consecutive answered probes (RFC 3393)."""
    local_stall: bool = False
    """The local event loop was stalled while this sample was taken."""
    gap_s: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, once: a state change, a timeout, a rotation.

    ``name`` is one of :data:`EVENT_NAMES`. ``attributes`` are bounded,
    secret-free values (never tokens, never channel ids in metrics).
    """

    target: str
    name: str
    at: float
    attributes: Mapping[str, AttrValue] = field(default_factory=dict)


EVENT_NAMES = frozenset(
    {
        "monitor.started",
        "monitor.stopped",
        "threshold.breach",
        "threshold.clear",
        "timeout",
        "reconnect",
        "rotation",
        "token.issued",
        "token.refresh",
        "token.failed",
        "http.retry",
        "channel.created",
        "channel.expired",
        "channel.budget_exhausted",
        "connection.lost",
        "connection.established",
        "connection.restored",
        "socket_closing",
        "local_stall",
        "window",
        "callback.failed",
    }
)
