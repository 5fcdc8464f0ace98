"""Ring window, all-time histogram and jitter estimators."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core._jitter import JitterTracker, ipdv
from genesys_pulse.core._quantiles import LogHistogram
from genesys_pulse.core._window import RttWindow, nearest_rank


def test_nearest_rank_definition() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert nearest_rank(values, 0.0) == 1.0
    assert nearest_rank(values, 0.25) == 1.0
    assert nearest_rank(values, 0.26) == 2.0
    assert nearest_rank(values, 0.5) == 2.0
    assert nearest_rank(values, 1.0) == 4.0
    assert nearest_rank([], 0.5) is None
    with pytest.raises(ValueError):
        nearest_rank(values, 1.5)


def test_window_evicts_oldest_and_counts_timeouts() -> None:
    w = RttWindow(3)
    assert len(w) == 0 and w.quantile(0.5) is None and w.timeout_ratio is None
    w.add(0.1)
    w.add(None)
    w.add(0.3)
    assert w.values() == [0.1, None, 0.3]
    assert (w.timeouts, w.answered, w.timeout_ratio) == (1, 2, pytest.approx(1 / 3))
    w.add(0.2)  # evicts 0.1
    assert w.values() == [None, 0.3, 0.2]
    w.add(0.4)  # evicts the timeout
    assert w.values() == [0.3, 0.2, 0.4] and w.timeouts == 0
    assert list(w.latest()) == [0.4, 0.2, 0.3]
    assert (w.min, w.max, w.quantile(0.5)) == (0.2, 0.4, 0.3)
    assert w.mean() == pytest.approx(0.3)
    w.clear()
    assert len(w) == 0 and w.max is None


def test_window_quantiles_with_timeouts_as_infinite() -> None:
    w = RttWindow(10)
    for v in [0.01] * 8 + [None, None]:
        w.add(v)
    assert w.quantile(0.99) == 0.01
    assert w.quantile(0.99, include_timeouts=True) == math.inf
    assert w.quantile(0.5, include_timeouts=True) == 0.01


def test_pdv_is_p99_minus_min() -> None:
    w = RttWindow(200)
    for i in range(200):
        w.add(0.010 + i * 0.0001)
    # nearest rank p99 of 200 values is the 198th smallest
    assert w.pdv() == pytest.approx(197 * 0.0001)
    assert RttWindow(5).pdv() is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(0, 10)), max_size=400),
    st.integers(1, 300),
    st.floats(0, 1),
)
def test_window_matches_a_plain_list(values: list[float | None], cap: int, q: float) -> None:
    w = RttWindow(cap)
    for v in values:
        w.add(v)
    kept = values[-cap:]
    assert w.values() == kept
    answered = sorted(v for v in kept if v is not None)
    assert w.quantile(q) == nearest_rank(answered, q)
    assert w.timeouts == sum(v is None for v in kept)
    got = w.quantile(q)
    if got is not None:
        assert answered[0] <= got <= answered[-1]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(1e-6, 100.0), min_size=1, max_size=500),
    st.floats(0, 1),
)
def test_histogram_quantiles_within_relative_error(values: list[float], q: float) -> None:
    h = LogHistogram(0.01)
    for v in values:
        h.add(v)
    exact = nearest_rank(sorted(values), q)
    got = h.quantile(q)
    assert exact is not None and got is not None
    assert abs(got - exact) <= 0.01 * exact + 1e-12
    assert min(values) <= got <= max(values)
    assert h.count == len(values)
    assert (h.min, h.max) == (min(values), max(values))
    assert h.quantile(0) == min(values) and h.quantile(1) == max(values)


def test_histogram_memory_is_bounded() -> None:
    h = LogHistogram(0.01)
    for i in range(100_000):
        h.add(0.0003 + (i % 1000) * 0.00005)  # 0.3 ms .. 50 ms
    assert h.bucket_count < 270
    for v in (0.0, -1.0, 1e-12, 1e9, math.inf):
        h.add(v)
    assert h.bucket_count < 1500
    assert h.max == math.inf and h.quantile(0.0) == -1.0
    with pytest.raises(ValueError):
        h.add(math.nan)


def test_histogram_zero_bucket_and_empty() -> None:
    h = LogHistogram()
    assert h.quantile(0.5) is None and h.mean() is None
    for v in (0.0, 0.0, 0.0, 1.0):
        h.add(v)
    assert h.quantile(0.5) == 0.0
    assert h.quantile(0.75) == 0.0
    assert h.mean() == 0.25
    h.clear()
    assert h.count == 0
    with pytest.raises(ValueError):
        LogHistogram(0)


def test_ipdv_pairs_and_timeouts_break_them() -> None:
    j = JitterTracker()
    assert j.add(0.100) is None  # first sample: no pair
    assert j.add(0.130) == pytest.approx(0.030)
    assert j.add(0.120) == pytest.approx(0.010)
    assert j.add(None) is None  # timeout
    assert j.add(0.200) is None  # the pair was broken
    assert j.add(0.150) == pytest.approx(0.050)
    assert j.count == 3
    assert j.ipdv_mean() == pytest.approx(0.030)
    assert j.ipdv_quantile(1.0) == pytest.approx(0.050)
    j.break_pair()
    assert j.add(0.150) is None
    assert ipdv(None, 0.1) is None and ipdv(0.1, None) is None
    assert ipdv(0.3, 0.1) == pytest.approx(0.2)


def test_rfc3550_smoothing() -> None:
    j = JitterTracker()
    assert j.rfc3550_or_none() is None
    expected = 0.0
    rtts = [0.100, 0.116, 0.100, 0.132, 0.100]
    for prev, cur in itertools.pairwise(rtts):
        expected += (abs(cur - prev) - expected) / 16
    for r in rtts:
        j.add(r)
    assert j.rfc3550 == pytest.approx(expected)
    # a constant |D| converges towards it
    k = JitterTracker()
    for i in range(400):
        k.add(0.1 if i % 2 else 0.11)
    assert k.rfc3550 == pytest.approx(0.01, rel=1e-6)
