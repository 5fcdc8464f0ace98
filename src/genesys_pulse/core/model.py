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

from ._events import EVENT_NAMES

__all__ = ["EVENT_NAMES", "AttrValue", "Event", "Level", "ProbeKind", "Sample"]

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

    A **late answer** is a second record for a slot already reported as timed
    out: ``late=True``, ``timed_out=True``, ``rtt_s=None`` and ``late_rtt_s``
    the pong's true RTT (arrival - send). It is not a new slot: counts,
    stability and the timeout counter ignore it; RTT percentiles, the OTel RTT
    histogram and the RTT threshold machine take its ``late_rtt_s``.
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
    """IPDV (RFC 3393): |RTT_k - RTT_(k-1)| when slots k-1 and k were both answered in time;
    ``None`` for a timed-out slot and for the first answered slot after one (a timeout breaks
    the pair: no IPDV spans it)."""
    local_stall: bool = False
    """The local event loop was stalled while this sample was taken."""
    gap_s: float | None = None
    late: bool = False
    """This record is the late answer of slot ``seq`` (already reported as a timeout)."""
    late_rtt_s: float | None = None
    """The late answer's true RTT (only with ``late``)."""
    timeout_reason: str | None = None
    """Why a probe slot timed out: ``"no_answer"`` (sent, unanswered within the timeout),
    ``"previous_ping_unanswered"`` (application stop-and-wait: nothing sent, the previous
    ping was still owed), ``"not_connected"`` (no usable connection), ``"local_stall"``
    (a local stall swallowed the slot); ``None`` when answered."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, once: a state change, a timeout, a rotation.

    ``name`` is one of :data:`EVENT_NAMES`. ``attributes`` are bounded,
    secret-free values (never tokens, never channel ids in metrics); which keys
    each event carries, and their types, is the contract in
    :mod:`genesys_pulse.core._events` (``EVENT_ATTRS``).
    """

    target: str
    name: str
    at: float
    attributes: Mapping[str, AttrValue] = field(default_factory=dict)
