"""Absolute-deadline probe schedules, phase staggering and sharding.

Slot ``k`` of a target is due at ``start + phase + k * interval``, computed
by one multiplication from the slot index, never by adding ``interval`` to
the previous deadline: floating-point error therefore stays at one rounding
of the product (no cumulative drift over millions of slots), and a slow
probe never shifts later slots (no coordinated omission).

Phases spread targets across the interval so that thousands of connections
do not all ping on the same tick. :func:`stagger` spreads a known list
evenly; :func:`phase_for` derives a stable phase from a target id alone (a
hash, so it does not change when other targets are added or removed).

:func:`shard_of` assigns a target id to one of ``n`` instances
(``--shard i/N``) by a stable hash of the id only.
"""

from __future__ import annotations

import hashlib
import math

__all__ = ["ProbeSchedule", "phase_for", "shard_of", "stable_hash64", "stagger"]


def stable_hash64(text: str, salt: bytes = b"") -> int:
    """A 64-bit hash of ``text`` that is the same in every process and release.

    Uses BLAKE2b (``hashlib``), not :func:`hash` (which is randomised per
    process for strings). ``salt`` (at most 16 bytes) separates independent uses.
    """
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=salt[:16]).digest()
    return int.from_bytes(digest, "big")


_PHASE_SALT = b"gp-phase"
_SHARD_SALT = b"gp-shard"


def phase_for(target_id: str, interval: float) -> float:
    """A stable phase in ``[0, interval)`` for ``target_id``.

    The phase is ``interval * h / 2**64`` for a 64-bit BLAKE2b hash ``h`` of
    the id, so 10,000 ids spread evenly across the interval and each id's
    phase depends on nothing but its id and the interval.
    """
    if not interval > 0:
        raise ValueError(f"interval must be > 0, got {interval}")
    phase = interval * (stable_hash64(target_id, _PHASE_SALT) / 2.0**64)
    return phase if phase < interval else 0.0


def stagger(index: int, count: int, interval: float) -> float:
    """Phase of the ``index``-th of ``count`` targets spread evenly: ``interval * index / count``."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not 0 <= index < count:
        raise ValueError(f"index must be in [0, {count}), got {index}")
    if not interval > 0:
        raise ValueError(f"interval must be > 0, got {interval}")
    return interval * index / count


def first_window_end(start: float, window: float, phase: float, interval: float) -> float:
    """When a target's first summary window ends; later ones end every ``window`` after it.

    The first window is shortened by up to half, in proportion to the target's
    phase within the interval (``start + window * (1 - phase / interval / 2)``),
    so that the window ends of many staggered targets spread over half a window
    instead of landing within one probe interval: at 10,000 targets ending every
    window (span, log record, summary) within the same 5 s interval saturated
    the event loop. A target with phase 0 gets a full first window.
    """
    if not window > 0:
        raise ValueError(f"window must be > 0, got {window}")
    if not interval > 0:
        raise ValueError(f"interval must be > 0, got {interval}")
    frac = min(max(phase / interval, 0.0), 1.0)
    return start + window * (1.0 - 0.5 * frac)


def shard_of(target_id: str, n: int) -> int:
    """The shard in ``[0, n)`` that owns ``target_id`` (for ``--shard i/N``).

    ``stable_hash64(target_id) % n``: the assignment depends only on the id
    and ``n``, so every id lands in exactly one shard and adding or removing
    other targets never moves it.
    """
    if n < 1:
        raise ValueError(f"shard count must be >= 1, got {n}")
    return stable_hash64(target_id, _SHARD_SALT) % n


class ProbeSchedule:
    """The absolute deadlines of one target's probe slots.

    Args:
      start: monotonic time of the schedule's origin (``trio.current_time()``).
      interval: seconds between slots (> 0).
      phase: offset of slot 0 from ``start`` (usually in ``[0, interval)``).

    Slot ``k >= 0`` is due at ``due(k) = start + phase + k * interval``.
    """

    __slots__ = ("_origin", "interval", "phase", "start")

    def __init__(self, start: float, interval: float, phase: float = 0.0) -> None:
        if not (interval > 0 and math.isfinite(interval)):
            raise ValueError(f"interval must be a finite number > 0, got {interval}")
        if not (math.isfinite(start) and math.isfinite(phase)):
            raise ValueError("start and phase must be finite")
        self.start = start
        self.interval = interval
        self.phase = phase
        self._origin = start + phase

    def due(self, k: int) -> float:
        """Deadline of slot ``k``: ``start + phase + k * interval`` (no accumulation)."""
        return self._origin + k * self.interval

    def next_slot(self, now: float) -> int:
        """The first slot ``k >= 0`` with ``due(k) >= now``."""
        origin = self._origin
        interval = self.interval
        if now <= origin:
            return 0
        k = math.ceil((now - origin) / interval)
        # correct the division's rounding so the definition holds exactly
        while origin + k * interval < now:
            k += 1
        while k > 0 and origin + (k - 1) * interval >= now:
            k -= 1
        return k

    def missed(self, k_last: int, now: float) -> range:
        """Slots after ``k_last`` whose deadline is already past at ``now``.

        That is every ``k > k_last`` with ``due(k) < now`` (a slot due exactly
        at ``now`` is due, not missed). Empty when the caller is on time.
        Callers record these as missed slots (never silently drop them) and
        resume at :meth:`next_slot`.
        """
        return range(k_last + 1, max(k_last + 1, self.next_slot(now)))

    def __repr__(self) -> str:
        return (
            f"ProbeSchedule(start={self.start!r}, interval={self.interval!r}, phase={self.phase!r})"
        )
