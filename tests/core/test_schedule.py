"""Absolute-deadline schedules, staggering and sharding."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core._schedule import (
    ProbeSchedule,
    first_window_end,
    phase_for,
    shard_of,
    stable_hash64,
    stagger,
)


def test_due_is_start_plus_phase_plus_k_interval() -> None:
    s = ProbeSchedule(100.0, 0.5, 0.25)
    assert [s.due(k) for k in range(4)] == [100.25, 100.75, 101.25, 101.75]


@pytest.mark.parametrize("interval", [0.1, 0.3, 1.0, 1 / 3, 4.7])
def test_no_drift_over_a_million_slots(interval: float) -> None:
    start, phase = 98765.4321, 0.0123
    s = ProbeSchedule(start, interval, phase)
    k = 1_000_000
    exact = Fraction(start) + Fraction(phase) + k * Fraction(interval)
    # one rounding of the product and one of the sum: a few ulps of the result
    assert abs(Fraction(s.due(k)) - exact) < Fraction(1, 10**8)
    # accumulating the interval instead drifts far more
    t = start + phase
    for _ in range(k):
        t += interval
    assert abs(Fraction(s.due(k)) - exact) <= abs(Fraction(t) - exact)


@settings(max_examples=300, deadline=None)
@given(
    start=st.floats(-1e6, 1e6),
    interval=st.floats(0.1, 5.0),
    phase=st.floats(0, 5.0),
    offset=st.floats(-10.0, 1e6),
)
def test_next_slot_definition(start: float, interval: float, phase: float, offset: float) -> None:
    s = ProbeSchedule(start, interval, phase)
    now = start + offset
    k = s.next_slot(now)
    assert k >= 0
    assert s.due(k) >= now
    assert k == 0 or s.due(k - 1) < now


def test_next_slot_on_an_exact_deadline_is_that_slot() -> None:
    s = ProbeSchedule(10.0, 0.5)
    assert s.next_slot(10.0) == 0
    assert s.next_slot(11.0) == 2
    assert s.next_slot(11.0000001) == 3
    assert s.next_slot(-5.0) == 0


def test_missed_slots_after_a_stall() -> None:
    s = ProbeSchedule(0.0, 1.0)
    assert list(s.missed(3, 3.5)) == []  # slot 4 is not due yet
    assert list(s.missed(3, 4.0)) == []  # slot 4 is due exactly now, not missed
    assert list(s.missed(3, 7.2)) == [4, 5, 6, 7]
    assert s.next_slot(7.2) == 8
    assert list(s.missed(9, 7.2)) == []


@settings(max_examples=200, deadline=None)
@given(k_last=st.integers(-1, 10_000), now=st.floats(0, 20_000), interval=st.floats(0.1, 5))
def test_missed_are_exactly_the_past_due_slots(k_last: int, now: float, interval: float) -> None:
    s = ProbeSchedule(0.0, interval, 0.05)
    missed = s.missed(k_last, now)
    for k in missed:
        assert k > k_last and s.due(k) < now
    nxt = max(k_last + 1, missed.stop)
    assert s.due(nxt) >= now or nxt == k_last + 1


def test_rejects_bad_intervals() -> None:
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            ProbeSchedule(0.0, bad)
    with pytest.raises(ValueError):
        ProbeSchedule(float("nan"), 1.0)


def test_stagger_spreads_evenly() -> None:
    assert [stagger(i, 4, 1.0) for i in range(4)] == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(ValueError):
        stagger(4, 4, 1.0)
    with pytest.raises(ValueError):
        stagger(0, 0, 1.0)


def test_first_window_ends_spread_over_half_a_window() -> None:
    """10,000 staggered targets' first windows end spread evenly over [W/2, W],
    not within one interval (when every window ended within 5 s the loop
    saturated), and no first window is longer than the window."""
    n, interval, window = 10_000, 5.0, 60.0
    ends = sorted(
        first_window_end(100.0, window, stagger(i, n, interval), interval) for i in range(n)
    )
    assert ends[-1] == 160.0  # phase 0: a full first window
    assert ends[0] == pytest.approx(130.0, abs=0.01)
    # evenly: every 3-second bucket of [130, 160) holds about a tenth of them
    buckets = [0] * 10
    for e in ends:
        buckets[min(int((e - 130.0) / 3.0), 9)] += 1
    assert max(buckets) - min(buckets) <= 2
    assert first_window_end(0.0, 60.0, 0.0, 1.0) == 60.0
    with pytest.raises(ValueError, match="window"):
        first_window_end(0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="interval"):
        first_window_end(0.0, 60.0, 0.0, 0.0)


def test_hash_phases_spread_ten_thousand_targets_evenly() -> None:
    interval = 5.0
    bins = [0] * 50
    for i in range(10_000):
        p = phase_for(f"target-{i:05d}", interval)
        assert 0.0 <= p < interval
        bins[int(p / interval * len(bins))] += 1
    # expected 200 per bin, sd ~14: a generous deterministic bound
    assert min(bins) > 140 and max(bins) < 260


def test_hashes_are_stable_across_processes() -> None:
    # pinned values: BLAKE2b is specified, so these never change between runs or releases
    assert stable_hash64("target-0001") == 3121998186497132070
    assert stable_hash64("target-0001") != stable_hash64("target-0001", b"other")
    assert shard_of("target-0001", 1) == 0
    assert phase_for("target-0001", 1.0) == pytest.approx(0.992565789940572, abs=1e-15)
    assert [shard_of(f"t-{i:06d}", 7) for i in range(8)] == PINNED_SHARDS


PINNED_SHARDS = [1, 2, 3, 1, 2, 4, 5, 6]


def test_every_target_in_exactly_one_shard_and_stable_when_targets_are_added() -> None:
    n = 5
    ids = [f"queue-monitor-{i:05d}" for i in range(2000)]
    first = {tid: shard_of(tid, n) for tid in ids}
    shards: list[set[str]] = [{t for t in ids if shard_of(t, n) == i} for i in range(n)]
    assert sum(len(s) for s in shards) == len(ids)
    assert set().union(*shards) == set(ids)
    assert all(300 < len(s) < 500 for s in shards)
    more = ids + [f"added-{i}" for i in range(500)]
    assert all(shard_of(t, n) == first[t] for t in more if t in first)
    with pytest.raises(ValueError):
        shard_of("x", 0)


@settings(max_examples=300, deadline=None)
@given(
    start=st.floats(0, 1e6),
    interval=st.floats(0.1, 5.0),
    phase=st.floats(0, 5.0),
    k=st.integers(0, 1_000_000),
)
def test_never_drifts_property(start: float, interval: float, phase: float, k: int) -> None:
    s = ProbeSchedule(start, interval, phase)
    exact = Fraction(start) + Fraction(phase) + k * Fraction(interval)
    # at most a few roundings of a value below 6e6: far below a microsecond
    assert abs(Fraction(s.due(k)) - exact) < Fraction(1, 10**8)
    # and slots are strictly increasing and interval apart (to rounding)
    if k:
        assert s.due(k) > s.due(k - 1)
        assert abs((s.due(k) - s.due(k - 1)) - interval) < 1e-8
