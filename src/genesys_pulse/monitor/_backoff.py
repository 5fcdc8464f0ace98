"""Reconnect backoff of one target: capped, jittered, remembered, decayed.

Modelled on Genesys's streaming client (start 2 s, double, cap 90 s,
remembered across connections, halved after a stable period of five times
the current delay) but **with** jitter ("equal jitter": uniform in
``[d/2, d]``), so a fleet of monitors does not reconnect in lock-step, and
with a quick first retry after a long stable connection (``first``), so a
single drop costs as few probe slots as possible.
"""

from __future__ import annotations

import random

__all__ = ["ReconnectBackoff"]


class ReconnectBackoff:
    """Delays between reconnect attempts.

    Args:
      rng: source of jitter.
      first: delay of the first attempt after a stable connection (seconds).
      base: delay of the second attempt; doubles per further failure.
      cap: largest delay.
      stable_factor: a connection that lasted ``stable_factor * level`` seconds
        halves the remembered level (decay).
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        first: float = 0.25,
        base: float = 2.0,
        cap: float = 90.0,
        stable_factor: float = 5.0,
    ) -> None:
        self._rng = rng
        self.first = first
        self.base = base
        self.cap = cap
        self.stable_factor = stable_factor
        self.level = 0.0
        """The remembered delay (0: next failure gets the quick first retry)."""
        self._connected_at: float | None = None

    def success(self, now: float) -> None:
        """A connection was established at ``now``."""
        self._connected_at = now

    def failure(self, now: float) -> float:
        """A connection attempt failed or a connection ended at ``now``: the delay to wait."""
        if self._connected_at is not None:
            lasted = now - self._connected_at
            self._connected_at = None
            level = self.level
            while level > 0 and lasted >= self.stable_factor * level:
                lasted -= self.stable_factor * level
                level = level / 2 if level / 2 >= self.base else 0.0
            self.level = level
        if self.level == 0.0:
            d = self.first
            self.level = self.base / 2
        else:
            self.level = min(self.cap, max(self.base, self.level * 2))
            d = self.level
        return d / 2 + self._rng.uniform(0.0, d / 2)
