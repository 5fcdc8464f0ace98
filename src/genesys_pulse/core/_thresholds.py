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

Every update is O(1): the machine keeps, for the last ``raise_n`` values,
one bit each saying whether it was at or beyond ``WARNING`` and one whether
it was ``CRITICAL`` (two small ints), and the length of the current run of
values below each level. The
limits and hysteresis parameters are shared by every machine built with the
same ones (a machine holds only its state: about 100 bytes).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, Protocol

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

    __slots__ = ("_current", "_h1", "_h2", "_r1", "_r2", "_spec")

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
        self._spec = _spec(
            metric, float(warning), float(critical), direction, raise_k, raise_n, clear_m
        )
        self._current = 0
        # the last raise_n values, one bit each in two ints (newest in the low
        # bit): at or beyond WARNING (_h1), at CRITICAL (_h2); an empty slot
        # reads as OK, which counts towards no level
        self._h1 = 0
        self._h2 = 0
        # _r1 / _r2: length of the current run of values below WARNING / CRITICAL
        # (read only at a level they can clear, and reset by the breach that raised it)
        self._r1 = 0
        self._r2 = 0

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
    def metric(self) -> str:
        """The name carried in each :class:`Transition`."""
        return self._spec.metric

    @property
    def raise_k(self) -> int:
        """Values at or beyond a level, among the last ``raise_n``, that raise to it."""
        return self._spec.raise_k

    @property
    def raise_n(self) -> int:
        """Length of the raise window."""
        return self._spec.raise_n

    @property
    def clear_m(self) -> int:
        """Consecutive values below the current level that step it down."""
        return self._spec.clear_m

    @property
    def level(self) -> Level:
        """The current level."""
        return _LEVELS[self._current]

    @property
    def warning(self) -> float:
        """The warning limit."""
        return self._spec.warning

    @property
    def critical(self) -> float:
        """The critical limit."""
        return self._spec.critical

    @property
    def direction(self) -> Direction:
        """Which way the metric gets worse."""
        return self._spec.direction

    def severity(self, value: float | None) -> Level:
        """The severity of ``value`` under this machine's limits."""
        sp = self._spec
        return severity(value, sp.warning, sp.critical, sp.direction)

    def observe(self, value: float | None) -> Transition | None:
        """Feed one value (``None`` = timeout); return the transition it caused, if any."""
        higher, warning, critical, half, k, m, _, _, _ = self._spec
        # severity, inlined (this runs for every sample of every metric)
        if value is None or value != value:
            sev = 2
        elif higher:
            sev = 2 if value >= critical else (1 if value >= warning else 0)
        else:
            sev = 2 if value <= critical else (1 if value <= warning else 0)
        current = self._current
        # _h1 / _h2: one bit per value of the raise window (newest lowest): at
        # or beyond WARNING / CRITICAL; shifting drops the oldest
        h1 = self._h1
        if sev == 0:
            if not current:
                # At OK an OK value can raise nothing (the window's counts only
                # fall) and the runs are not read before a breach resets them.
                if h1:
                    self._h1 = (h1 & half) << 1
                    self._h2 = (self._h2 & half) << 1
                return None
            self._h1 = h1 = (h1 & half) << 1
            self._h2 = h2 = (self._h2 & half) << 1
            self._r1 = r1 = self._r1 + 1
            self._r2 = r2 = self._r2 + 1
        elif sev == 1:
            self._h1 = h1 = (h1 & half) << 1 | 1
            self._h2 = h2 = (self._h2 & half) << 1
            self._r1 = r1 = 0
            self._r2 = r2 = self._r2 + 1
        else:
            self._h1 = h1 = (h1 & half) << 1 | 1
            self._h2 = h2 = (self._h2 & half) << 1 | 1
            self._r1 = r1 = 0
            self._r2 = r2 = 0

        raised = 2 if h2.bit_count() >= k else (1 if h1.bit_count() >= k else 0)
        if raised > current:
            return self._move(raised, value)
        if current and (r1 if current == 1 else r2) >= m:
            worst_recent = 0 if r1 >= m else (1 if r2 >= m else 2)
            target = max(worst_recent, raised)
            if target < current:
                return self._move(target, value)
        return None

    def _move(self, to: int, value: float | None) -> Transition:
        transition = Transition(self._spec.metric, _LEVELS[self._current], _LEVELS[to], value)
        self._current = to
        return transition

    def reset(self) -> None:
        """Forget all values and return to ``OK`` without emitting a transition."""
        self._current = 0
        self._h1 = 0
        self._h2 = 0
        self._r1 = 0
        self._r2 = 0

    def __repr__(self) -> str:
        sp = self._spec
        return (
            f"ThresholdMachine({sp.metric!r}, warning={sp.warning}, "
            f"critical={sp.critical}, direction={sp.direction.name}, "
            f"k={sp.raise_k}, n={sp.raise_n}, m={sp.clear_m}, level={self.level.name})"
        )


_LEVELS = (Level.OK, Level.WARNING, Level.CRITICAL)


class _Spec(NamedTuple):
    """What machines with the same limits and hysteresis share (see :func:`_spec`)."""

    higher: bool
    warning: float
    critical: float
    half: int
    """``raise_n - 1`` one bits: what of a window history survives a shift."""
    raise_k: int
    clear_m: int
    metric: str
    direction: Direction
    raise_n: int


@lru_cache(maxsize=1024)
def _spec(
    metric: str,
    warning: float,
    critical: float,
    direction: Direction,
    raise_k: int,
    raise_n: int,
    clear_m: int,
) -> _Spec:
    """One shared :class:`_Spec` per distinct configuration (validated by the caller)."""
    return _Spec(
        direction is Direction.HIGHER_IS_WORSE,
        warning,
        critical,
        (1 << (raise_n - 1)) - 1,
        raise_k,
        clear_m,
        metric,
        direction,
        raise_n,
    )
