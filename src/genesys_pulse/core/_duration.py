"""The one duration grammar: what a user may write for a span of time.

The configuration (``interval = "250ms"``), the command line
(``--duration 60s``) and the emulator's fault specs and scenarios
(``app-pong-delay=normal:20ms:5ms``) all read durations through
:func:`parse_duration`, so a duration that works in one place works in all.

Grammar (surrounding white space ignored)::

    DURATION := NUMBER [ " "* UNIT ]          (no unit: seconds)
    NUMBER   := DIGITS [ "." [ DIGITS ] ] | "." DIGITS,  optionally "e" [+-] DIGITS
    UNIT     := "ns" | "us" | "µs" | "ms" | "s" | "m" | "min" | "h"

or a plain non-negative number (not a bool). Days are not a unit: ``"2d"``
is rejected rather than guessed. The string is converted with exact decimal
arithmetic, so ``"300ms"`` is exactly the float ``0.3``, like ``"0.3s"``.

Hand-written because it is one regular expression and a table; the
libraries that parse durations (``pytimeparse``, ``isodate``) accept
different grammars (ISO 8601, "1 day") and would add a runtime dependency.
"""

from __future__ import annotations

import math
import re
from decimal import Context, Decimal
from typing import Final

__all__ = ["DURATION_UNITS", "parse_duration"]

DURATION_UNITS: Final = ("ns", "us", "µs", "ms", "s", "m", "min", "h")
"""The unit suffixes :func:`parse_duration` accepts (a bare number means seconds)."""

_DURATION: Final = re.compile(
    r"\A((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*(ns|us|µs|ms|s|m|min|h)?\Z"
)
_UNIT: Final = {
    unit: Decimal(factor)
    for unit, factor in (
        ("ns", "1e-9"),
        ("us", "1e-6"),
        ("µs", "1e-6"),
        ("ms", "0.001"),
        ("s", "1"),
        ("m", "60"),
        ("min", "60"),
        ("h", "3600"),
    )
}
_CONTEXT: Final = Context(prec=28)
"""A private decimal context: a host that changes the global one cannot change our results."""


def parse_duration(value: object) -> float:
    """Return *value* in seconds.

    Accepts a non-negative finite number of seconds (not a bool) or a string:
    a number followed by an optional unit ``ns``, ``us``/``µs``, ``ms``,
    ``s`` (the default), ``m``/``min`` or ``h`` - ``"250ms"``, ``"1.5s"``,
    ``"2m"``, ``"1e-3s"``. Raises :class:`ValueError` whose message is a
    clause to follow the value (``"is not a duration (...)"``).
    """
    if isinstance(value, bool):
        raise ValueError("is a boolean, not a duration")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError("is too large") from None
    elif isinstance(value, str):
        m = _DURATION.fullmatch(value.strip())
        if m is None:
            raise ValueError('is not a duration (write e.g. "250ms", "1.5s", "2m" or a number)')
        number, unit = m.group(1), m.group(2) or "s"
        try:
            seconds = float(_CONTEXT.multiply(Decimal(number), _UNIT[unit]))
        except ArithmeticError:  # an exponent beyond decimal's range: float gives inf or 0
            seconds = float(number) * float(_UNIT[unit])
    else:
        raise ValueError('is not a duration (write e.g. "250ms", "1.5s" or a number)')
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("is not a finite, non-negative duration")
    return seconds
