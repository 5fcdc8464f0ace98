"""Backoff: bounds, growth, Retry-After floor, remembered and decayed delay."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core._backoff import Backoff


def test_ceiling_grows_to_the_cap() -> None:
    b = Backoff(random.Random(1))
    ceilings = []
    for _ in range(10):
        ceilings.append(b.ceiling)
        b.next_delay()
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 90, 90, 90]
    assert b.attempts == 10


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    jitter=st.sampled_from(["full", "decorrelated"]),
    retry_afters=st.lists(st.one_of(st.none(), st.floats(0, 500)), min_size=1, max_size=30),
)
def test_delays_within_bounds_and_never_below_retry_after(
    seed: int, jitter: str, retry_afters: list[float | None]
) -> None:
    b = Backoff(random.Random(seed), jitter=jitter)  # type: ignore[arg-type]
    for ra in retry_afters:
        ceiling = b.ceiling
        d = b.next_delay(ra)
        assert d >= 0
        if ra is None or ra <= ceiling:
            assert d <= ceiling <= b.cap
        if ra is not None:
            assert d >= ra


def test_full_jitter_spreads_over_the_whole_interval() -> None:
    rng = random.Random(7)
    delays = []
    for _ in range(2000):
        b = Backoff(rng, initial=10.0, cap=10.0)
        delays.append(b.next_delay())
    assert min(delays) < 0.5 and max(delays) > 9.5
    assert 4.5 < sum(delays) / len(delays) < 5.5


def test_decorrelated_jitter_stays_at_or_above_initial() -> None:
    b = Backoff(random.Random(3), jitter="decorrelated")
    delays = [b.next_delay() for _ in range(50)]
    assert all(1.0 <= d <= 90.0 for d in delays)
    assert max(delays) > 30


def test_delay_is_remembered_across_short_connections() -> None:
    b = Backoff(random.Random(0))
    for _ in range(5):
        b.next_delay()
    assert b.ceiling == 32
    b.on_connected(100.0)
    b.on_disconnected(150.0)  # up 50 s < 5 * 32: no decay
    assert b.ceiling == 32


def test_decay_halves_after_five_times_the_ceiling() -> None:
    b = Backoff(random.Random(0))
    for _ in range(5):
        b.next_delay()
    assert b.ceiling == 32
    b.on_connected(0.0)
    b.decay(159.9)
    assert b.ceiling == 32
    b.decay(160.0)  # 5 * 32
    assert b.ceiling == 16
    b.decay(160.0 + 79.9)
    assert b.ceiling == 16
    b.on_disconnected(160.0 + 80.0 + 40.0 + 20.0 + 10.0 + 5.0)  # 16 -> 8 -> 4 -> 2 -> 1
    assert b.ceiling == 1
    b.decay(1e9)  # not connected: nothing happens
    assert b.ceiling == 1


def test_reset_and_validation() -> None:
    b = Backoff(random.Random(0))
    b.next_delay()
    b.reset()
    assert b.ceiling == 1.0 and b.attempts == 0
    for kwargs in ({"initial": 0}, {"multiplier": 0.5}, {"cap": 0.5}, {"jitter": "none"}):
        with pytest.raises(ValueError):
            Backoff(random.Random(0), **kwargs)  # type: ignore[arg-type]
