"""Two-level threshold state machines with hysteresis.

One :class:`ThresholdMachine` watches one metric of one target (for example
the application RTT) and turns a stream of values into *state changes*:
``OK -> WARNING``, ``WARNING -> CRITICAL``, ``CRITICAL -> OK`` and so on.
It emits one :class:`Transition` per change and nothing while the level
stays the same, so a sink can turn each transition into exactly one
``threshold.breach`` or ``threshold.clear`` event.

Definitions (names used in the docstrings below):

*severity* of a value
    ``CRITICAL`` if the value is at or beyond the critical limit, else
    ``WARNING`` if it is at or beyond the warning limit, else ``OK``.
    "Beyond" follows the :class:`Direction`: ``>=`` for higher-is-worse
    metrics (RTT, jitter, consecutive timeouts, heartbeat silence), ``<=``
    for lower-is-worse metrics (stability). A missing value (``None``, i.e.
    a timeout) and NaN are infinitely bad: severity ``CRITICAL``.

raise rule (k of n)
    After each value, the machine looks at the severities of the last
    ``raise_n`` values (fewer at start-up). If, for some level ``L`` above
    the current level, at least ``raise_k`` of them are at or beyond ``L``,
    the level rises to the highest such ``L``.

clear rule (m consecutive)
    If no raise happened and each of the last ``clear_m`` values is below
    the current level, the level steps down to
    ``max(highest severity among the last clear_m values,
    highest level satisfying the raise rule)``. With the defaults
    (k=3, n=5, m=5, from Twilio's StatsMonitor: "raise after 3 of the last 5
    samples breach; clear when 0 of the last 5 breach") this is simply the
    worst severity of the last five values: ``CRITICAL`` whose last five
    values were all warnings steps down to ``WARNING``; five clean values
    step straight down to ``OK``.

Every update is O(1): the machine keeps a ring of the last ``raise_n``
severities, the count of values at or beyond each level within it, and the
length of the current run of values below each level.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Protocol

from .model import Level

__all__ = [
    "Direction",
    "ThresholdMachine",
    "Transition",
    "severity",
]


class Direction(enum.Enum):
    """Which way a metric gets worse."""

    HIGHER_IS_WORSE = "higher"
    """RTT, jitter, consecutive timeouts, heartbeat silence."""
    LOWER_IS_WORSE = "lower"
    """Stability rate."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a threshold machine's level.

    ``value`` is the value whose observation caused the change (``None`` for
    a timeout). A transition to a higher level is a *breach*
    (``threshold.breach``); to a lower one a *clear* (``threshold.clear``).
    """

    metric: str
    from_level: Level
    to_level: Level
    value: float | None

    @property
    def is_breach(self) -> bool:
        """True when the level went up (``threshold.breach``)."""
        return self.to_level > self.from_level

    @property
    def event_name(self) -> str:
        """``"threshold.breach"`` or ``"threshold.clear"``."""
        return "threshold.breach" if self.is_breach else "threshold.clear"


class _LevelsLike(Protocol):
    @property
    def warning(self) -> float: ...
    @property
    def critical(self) -> float: ...


class _HysteresisLike(Protocol):
    @property
    def raise_k(self) -> int: ...
    @property
    def raise_n(self) -> int: ...
    @property
    def clear_m(self) -> int: ...


def severity(
    value: float | None,
    warning: float,
    critical: float,
    direction: Direction = Direction.HIGHER_IS_WORSE,
) -> Level:
    """Return the severity of one value (see the module docstring).

    ``None`` and NaN are infinitely bad and give ``CRITICAL``.
    """
    if value is None or math.isnan(value):
        return Level.CRITICAL
    if direction is Direction.HIGHER_IS_WORSE:
        if value >= critical:
            return Level.CRITICAL
        if value >= warning:
            return Level.WARNING
        return Level.OK
    if value <= critical:
        return Level.CRITICAL
    if value <= warning:
        return Level.WARNING
    return Level.OK


class ThresholdMachine:
    """Hysteresis state machine for one metric.

    Args:
      metric: name carried in each :class:`Transition` (e.g. ``"rtt.application"``).
      warning: the warning limit.
      critical: the critical limit; at or beyond ``warning`` in the metric's
        direction (``critical >= warning`` for higher-is-worse).
      direction: which way the metric gets worse.
      raise_k: values at or beyond a level, among the last ``raise_n``, that
        raise the state to it (``1 <= raise_k <= raise_n``).
      raise_n: length of the raise window.
      clear_m: consecutive values below the current level that step it down
        (``>= 1``).

    Raises:
      ValueError: on inconsistent limits or hysteresis parameters.
    """

    __slots__ = (
        "_counts",
        "_critical",
        "_current",
        "_direction",
        "_higher",
        "_level",
        "_pos",
        "_ring",
        "_runs",
        "_warning",
        "clear_m",
        "metric",
        "raise_k",
        "raise_n",
    )

    def __init__(
        self,
        metric: str,
        warning: float,
        critical: float,
        *,
        direction: Direction = Direction.HIGHER_IS_WORSE,
        raise_k: int = 3,
        raise_n: int = 5,
        clear_m: int = 5,
    ) -> None:
        if math.isnan(warning) or math.isnan(critical):
            raise ValueError(f"{metric}: threshold limits must be numbers")
        if direction is Direction.HIGHER_IS_WORSE and critical < warning:
            raise ValueError(f"{metric}: critical {critical} is below warning {warning}")
        if direction is Direction.LOWER_IS_WORSE and critical > warning:
            raise ValueError(f"{metric}: critical {critical} is above warning {warning}")
        if not 1 <= raise_k <= raise_n:
            raise ValueError(f"{metric}: need 1 <= raise_k ({raise_k}) <= raise_n ({raise_n})")
        if clear_m < 1:
            raise ValueError(f"{metric}: clear_m must be >= 1, got {clear_m}")
        self.metric = metric
        self._warning = float(warning)
        self._critical = float(critical)
        self._direction = direction
        self.raise_k = raise_k
        self.raise_n = raise_n
        self.clear_m = clear_m
        self._level = Level.OK
        self._current = 0
        self._higher = direction is Direction.HIGHER_IS_WORSE
        # ring of the last raise_n severities; -1 marks an empty slot
        self._ring: list[int] = [-1] * raise_n
        self._pos = 0
        # _counts[L] = values in the ring with severity >= L (index 0 unused)
        self._counts = [0, 0, 0]
        # _runs[L] = length of the current run of values with severity < L
        self._runs = [0, 0, 0]

    @classmethod
    def from_levels(
        cls,
        metric: str,
        levels: _LevelsLike,
        hysteresis: _HysteresisLike | None = None,
        *,
        direction: Direction = Direction.HIGHER_IS_WORSE,
    ) -> ThresholdMachine:
        """Build from ``core.config.Levels`` and ``Hysteresis`` (or look-alikes)."""
        if hysteresis is None:
            return cls(metric, levels.warning, levels.critical, direction=direction)
        return cls(
            metric,
            levels.warning,
            levels.critical,
            direction=direction,
            raise_k=hysteresis.raise_k,
            raise_n=hysteresis.raise_n,
            clear_m=hysteresis.clear_m,
        )

    @property
    def level(self) -> Level:
        """The current level."""
        return self._level

    @property
    def warning(self) -> float:
        """The warning limit."""
        return self._warning

    @property
    def critical(self) -> float:
        """The critical limit."""
        return self._critical

    @property
    def direction(self) -> Direction:
        """Which way the metric gets worse."""
        return self._direction

    def severity(self, value: float | None) -> Level:
        """The severity of ``value`` under this machine's limits."""
        return severity(value, self._warning, self._critical, self._direction)

    def observe(self, value: float | None) -> Transition | None:
        """Feed one value (``None`` = timeout); return the transition it caused, if any."""
        # severity, inlined (this runs for every sample of every metric)
        if value is None or value != value:
            sev = 2
        elif self._higher:
            sev = 2 if value >= self._critical else (1 if value >= self._warning else 0)
        else:
            sev = 2 if value <= self._critical else (1 if value <= self._warning else 0)
        ring = self._ring
        counts = self._counts
        pos = self._pos
        old = ring[pos]
        if old >= 1:
            counts[1] -= 1
            if old == 2:
                counts[2] -= 1
        ring[pos] = sev
        self._pos = pos + 1 if pos + 1 < len(ring) else 0
        if sev >= 1:
            counts[1] += 1
            if sev == 2:
                counts[2] += 1
        runs = self._runs
        runs[1] = runs[1] + 1 if sev < 1 else 0
        runs[2] = runs[2] + 1 if sev < 2 else 0

        k = self.raise_k
        raised = 2 if counts[2] >= k else (1 if counts[1] >= k else 0)
        current = self._current
        if raised > current:
            return self._move(Level(raised), value)
        if current > 0 and runs[current] >= self.clear_m:
            m = self.clear_m
            worst_recent = 0 if runs[1] >= m else (1 if runs[2] >= m else 2)
            target = max(worst_recent, raised)
            if target < current:
                return self._move(Level(target), value)
        return None

    def _move(self, to: Level, value: float | None) -> Transition:
        transition = Transition(self.metric, self._level, to, value)
        self._level = to
        self._current = int(to)
        return transition

    def reset(self) -> None:
        """Forget all values and return to ``OK`` without emitting a transition."""
        self._level = Level.OK
        self._current = 0
        self._ring = [-1] * self.raise_n
        self._pos = 0
        self._counts = [0, 0, 0]
        self._runs = [0, 0, 0]

    def __repr__(self) -> str:
        return (
            f"ThresholdMachine({self.metric!r}, warning={self._warning}, "
            f"critical={self._critical}, direction={self._direction.name}, "
            f"k={self.raise_k}, n={self.raise_n}, m={self.clear_m}, level={self._level.name})"
        )
