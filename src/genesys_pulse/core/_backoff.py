"""Capped, jittered exponential backoff that remembers and decays its delay.

Definitions (``initial``, ``multiplier``, ``cap`` are the constructor's):

ceiling
    The un-jittered delay for the next attempt. It starts at ``initial``;
    each :meth:`Backoff.next_delay` uses it and then multiplies it by
    ``multiplier`` (at most ``cap``). It is *remembered* across connections:
    a reconnect after a short-lived connection starts from where the last
    failures left it, not from ``initial``.
full jitter (default)
    ``delay = uniform(0, ceiling)`` ("Exponential Backoff And Jitter",
    AWS Architecture Blog, 2015). Spreads a fleet's reconnects over the
    whole interval; the expected delay is ``ceiling / 2``.
decorrelated jitter
    ``delay = min(cap, uniform(initial, 3 * previous_delay))`` (same source),
    with ``previous_delay`` starting at ``initial``; the ceiling still grows
    and decays as above and caps the delay too.
decay
    Like Genesys's own streaming client (``BACKOFF_DECREASE_DELAY_MULTIPLIER
    = 5``): after a connection has stayed up for ``5 * ceiling`` seconds the
    ceiling halves (not below ``initial``), and again after each further
    ``5 * ceiling`` of uptime. Decay is computed lazily from the times passed
    to :meth:`Backoff.on_connected` and :meth:`Backoff.on_disconnected`, so
    nothing needs to tick.
Retry-After
    A server's ``Retry-After`` (seconds) is a floor: the delay returned is
    ``max(jittered delay, retry_after)``; it may therefore exceed ``cap``.

Unlike Genesys's client (``jitter: 'none'``), delays are always jittered, to
avoid a thundering herd of monitors reconnecting in step.
"""

from __future__ import annotations

import math
import random
from typing import Literal

__all__ = ["Backoff"]

Jitter = Literal["full", "decorrelated"]


class Backoff:
    """Reconnect/retry delays.

    Args:
      rng: the random source (pass a seeded :class:`random.Random` in tests).
      initial: first ceiling in seconds (> 0).
      multiplier: ceiling growth per attempt (>= 1).
      cap: largest ceiling and jittered delay in seconds (>= initial).
      jitter: ``"full"`` or ``"decorrelated"`` (see the module docstring).
      decay_multiplier: uptime, in multiples of the ceiling, after which the
        ceiling halves.
    """

    __slots__ = (
        "_ceiling",
        "_connected_at",
        "_previous",
        "attempts",
        "cap",
        "decay_multiplier",
        "initial",
        "jitter",
        "multiplier",
        "rng",
    )

    def __init__(
        self,
        rng: random.Random,
        *,
        initial: float = 1.0,
        multiplier: float = 2.0,
        cap: float = 90.0,
        jitter: Jitter = "full",
        decay_multiplier: float = 5.0,
    ) -> None:
        if not initial > 0:
            raise ValueError(f"initial must be > 0, got {initial}")
        if not multiplier >= 1:
            raise ValueError(f"multiplier must be >= 1, got {multiplier}")
        if not cap >= initial:
            raise ValueError(f"cap ({cap}) must be >= initial ({initial})")
        if jitter not in ("full", "decorrelated"):
            raise ValueError(f"unknown jitter {jitter!r}")
        if not decay_multiplier > 0:
            raise ValueError("decay_multiplier must be > 0")
        self.rng = rng
        self.initial = initial
        self.multiplier = multiplier
        self.cap = cap
        self.jitter = jitter
        self.decay_multiplier = decay_multiplier
        self._ceiling = initial
        self._previous = initial
        self._connected_at: float | None = None
        self.attempts = 0
        """Delays handed out since the last :meth:`reset`."""

    @property
    def ceiling(self) -> float:
        """The remembered un-jittered delay for the next attempt."""
        return self._ceiling

    def next_delay(self, retry_after: float | None = None) -> float:
        """The delay before the next attempt; grows the ceiling.

        Args:
          retry_after: a server's ``Retry-After`` in seconds, honoured as a floor.
        """
        ceiling = self._ceiling
        if self.jitter == "full":
            delay = self.rng.uniform(0.0, ceiling)
        else:
            upper = min(ceiling, self._previous * 3.0)
            delay = self.rng.uniform(self.initial, max(self.initial, upper))
            self._previous = delay
        delay = min(delay, self.cap)
        self._ceiling = min(self.cap, ceiling * self.multiplier)
        self.attempts += 1
        if retry_after is not None and math.isfinite(retry_after) and retry_after > delay:
            delay = retry_after
        return delay

    def on_connected(self, now: float) -> None:
        """A connection (or request series) succeeded at ``now``: uptime starts counting."""
        self._connected_at = now

    def on_disconnected(self, now: float) -> None:
        """The connection ended at ``now``: apply the decay earned by its uptime."""
        self.decay(now)
        self._connected_at = None

    def decay(self, now: float) -> None:
        """Apply the decay earned by uptime up to ``now`` (idempotent; needs no ticking)."""
        since = self._connected_at
        if since is None:
            return
        ceiling = self._ceiling
        k = self.decay_multiplier
        while ceiling > self.initial and now - since >= k * ceiling:
            since += k * ceiling
            ceiling = max(self.initial, ceiling / 2.0)
        self._ceiling = ceiling
        self._connected_at = since
        if ceiling == self.initial:
            self._previous = self.initial

    def reset(self) -> None:
        """Forget everything: the next delay starts from ``initial``."""
        self._ceiling = self.initial
        self._previous = self.initial
        self._connected_at = None
        self.attempts = 0

    def __repr__(self) -> str:
        return f"Backoff(ceiling={self._ceiling}, cap={self.cap}, jitter={self.jitter!r})"
