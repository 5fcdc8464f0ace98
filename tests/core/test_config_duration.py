"""One duration grammar for the configuration, the command line and the emulator.

Before the core's ``parse_duration`` became the only one, the configuration
and the emulator's fault specs each had a grammar of their own: the emulator
took exponents (``1e-3s``) and the configuration did not; the configuration
took ``ns``, ``µs``, ``min`` and ``5.`` and the emulator did not. The new
grammar is their union. The property tests draw strings from each OLD
grammar (its regular expression, copied here as the reference) and check
that the new parser accepts every one with the same number of seconds.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from genesys_pulse.core import parse_duration as core_face
from genesys_pulse.core.config import DURATION_UNITS, parse_duration
from genesys_pulse.emulator._faults import FaultSpecError, parse_fault_spec
from genesys_pulse.emulator._faults import parse_duration as emulator_parse_duration

# The emulator's grammar before the merge (emulator/_faults.py), verbatim.
OLD_EMULATOR = re.compile(r"\A\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|ms|s|m|h)?\s*\Z")
OLD_EMULATOR_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}

# The configuration's grammar before the merge (core/config.py), verbatim; it stripped first.
OLD_CONFIG = re.compile(r"\A([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ns|us|µs|ms|s|m|min|h)?\Z")
OLD_CONFIG_UNITS = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "min": Decimal(60),
    "h": Decimal(3600),
    None: Decimal(1),
}


def old_emulator_seconds(text: str) -> float | None:
    m = OLD_EMULATOR.fullmatch(text)
    assert m is not None
    seconds = float(m.group(1)) * OLD_EMULATOR_UNITS[m.group(2)]
    return seconds if math.isfinite(seconds) else None  # the old parser rejected inf


def same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)


@given(st.from_regex(OLD_EMULATOR, fullmatch=True))
@example("20ms")
@example(" 1.5e2 ms ")
@example("1e-400s")
@example("1e400")
def test_every_duration_the_emulator_took_is_still_taken_with_the_same_value(text: str) -> None:
    old = old_emulator_seconds(text)
    if old is None:
        with pytest.raises(FaultSpecError):
            emulator_parse_duration(text)
        return
    assert same(emulator_parse_duration(text), old), text
    assert same(parse_duration(text), old), text


@given(st.from_regex(OLD_CONFIG, fullmatch=True))
@example("300ms")
@example("5.")
@example("2min")
def test_every_duration_the_config_took_is_still_taken_with_the_same_value(text: str) -> None:
    m = OLD_CONFIG.fullmatch(text)
    assert m is not None
    old = float(Decimal(m.group(1)) * OLD_CONFIG_UNITS[m.group(2)])
    assert parse_duration(text) == old, text  # exactly: the config's arithmetic was decimal


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1e-3s", 0.001),  # new for the configuration (the emulator took it)
        ("1.5e2ms", 0.15),
        ("2E1", 20.0),
        ("250ns", 250e-9),  # new for the emulator (the configuration took them)
        ("20µs", 20e-6),
        ("2min", 120.0),
        ("5.", 5.0),
    ],
)
def test_the_union_reads_the_same_in_both_places(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)
    assert emulator_parse_duration(text) == pytest.approx(seconds)


def test_300ms_is_exactly_the_float_point_three() -> None:
    assert parse_duration("300ms") == 0.3 == parse_duration("0.3s")


@pytest.mark.parametrize(
    "bad", ["", "2d", "nan", "inf", "-1s", "1e400", "1 parsec", "1e", "e3", "1.2.3s", True, None]
)
def test_both_reject_the_same_things(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)
    with pytest.raises(FaultSpecError):
        emulator_parse_duration(bad)  # type: ignore[arg-type]


def test_the_emulator_error_names_the_field_and_the_value() -> None:
    with pytest.raises(FaultSpecError) as info:
        emulator_parse_duration("soon", field="stall.duration")
    assert info.value.field == "stall.duration"
    assert str(info.value).startswith("stall.duration: 'soon' is not a duration")


def test_a_fault_spec_takes_a_config_style_duration() -> None:
    spec = parse_fault_spec("app-pong-delay=fixed:250ns")
    spec_min = parse_fault_spec("stall=1min")
    assert spec.name == "app-pong-delay" and spec_min.name == "stall"
    assert spec_min.params["duration"] == 60.0


def test_one_grammar_object() -> None:
    assert core_face is parse_duration
    assert DURATION_UNITS == ("ns", "us", "µs", "ms", "s", "m", "min", "h")
