"""Timeout bookkeeping, stability window and the ProbeStats aggregate."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core._stats import ProbeStats, StabilityWindow, TimeoutCounter


def test_timeout_counter() -> None:
    c = TimeoutCounter()
    assert c.ratio is None
    runs = [c.record(t) for t in (False, True, True, False, True, True, True, False)]
    assert runs == [0, 1, 2, 0, 1, 2, 3, 0]
    assert (c.count, c.timeouts, c.consecutive, c.max_consecutive) == (8, 5, 0, 3)
    assert c.ratio == pytest.approx(5 / 8)


def test_stability_excludes_planned_slots_entirely() -> None:
    s = StabilityWindow(4)
    assert s.rate is None
    s.record(True)
    s.record(False)
    s.record(False, planned=True)  # a rotation slot: not counted at all
    assert (len(s), s.good, s.rate, s.excluded) == (2, 1, 0.5, 1)
    for _ in range(4):
        s.record(True)
    assert s.rate == 1.0 and len(s) == 4
    s.clear()
    assert s.rate is None and s.excluded == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.booleans()), max_size=300),
    st.integers(1, 50),
)
def test_stability_matches_a_plain_list(slots: list[tuple[bool, bool]], cap: int) -> None:
    s = StabilityWindow(cap)
    for good, planned in slots:
        s.record(good, planned=planned)
    counted = [g for g, p in slots if not p][-cap:]
    assert len(s) == len(counted)
    assert s.rate == (sum(counted) / len(counted) if counted else None)
    assert s.excluded == sum(p for _, p in slots)


def test_probe_stats_summary_names_and_values() -> None:
    p = ProbeStats(window=10, critical_rtt=0.4)
    outcomes = [0.10, 0.12, None, 0.50, 0.11, 0.10]
    ipdvs = [p.record(r) for r in outcomes]
    assert ipdvs[0] is None and ipdvs[1] == pytest.approx(0.02)
    assert ipdvs[2] is None and ipdvs[3] is None  # the timeout broke the pair
    p.record(0.10, planned=True, local_stall=True)
    s = p.summary()
    assert set(s) == {
        "count",
        "answered",
        "timeouts",
        "late",
        "late_rtt_max_s",
        "timeout_ratio",
        "max_consecutive_timeouts",
        "planned_excluded",
        "local_stalls",
        "rtt_min_s",
        "rtt_p50_s",
        "rtt_p95_s",
        "rtt_p99_s",
        "rtt_max_s",
        "rtt_mean_s",
        "jitter",
        "stability",
    }
    assert set(s["jitter"]) == {"ipdv_mean_s", "ipdv_p99_s", "rfc3550_s", "pdv_s"}
    assert (s["count"], s["answered"], s["timeouts"]) == (7, 6, 1)
    assert s["timeout_ratio"] == pytest.approx(1 / 7)
    assert (s["planned_excluded"], s["local_stalls"]) == (1, 1)
    assert s["rtt_min_s"] == 0.10 and s["rtt_max_s"] == 0.50
    assert s["rtt_p50_s"] == pytest.approx(0.10, rel=0.01)
    # stability: 6 counted slots, good = answered below 0.4 -> 4 of 6
    assert s["stability"] == pytest.approx(4 / 6)
    assert s["jitter"]["pdv_s"] == pytest.approx(0.40)
    json.dumps(s, allow_nan=False)


def test_empty_summary_is_json_with_nulls() -> None:
    s = ProbeStats().summary()
    assert s["count"] == 0 and s["rtt_p50_s"] is None and s["stability"] is None
    assert s["jitter"] == {
        "ipdv_mean_s": None,
        "ipdv_p99_s": None,
        "rfc3550_s": None,
        "pdv_s": None,
    }
    json.dumps(s, allow_nan=False)
    assert ProbeStats().window_attributes() == {
        "count": 0,
        "timeouts": 0,
        "consecutive_timeouts": 0,
        "late": 0,
    }


def test_window_attributes_are_flat_and_bounded() -> None:
    p = ProbeStats(window=100)
    for i in range(1000):
        p.record(None if i % 10 == 0 else 0.010 + (i % 7) * 0.001)
    attrs = p.window_attributes()
    assert attrs["count"] == 100 and attrs["timeouts"] == 10
    assert all(isinstance(v, int | float | str | bool) for v in attrs.values())
    assert attrs["min_s"] == pytest.approx(0.010) and attrs["max_s"] == pytest.approx(0.016)
    assert attrs["stability"] == pytest.approx(0.9)
    assert len(p.window) == 100 and len(p.stability) == 100
    assert p.all_time.bucket_count < 40


def test_late_answers_are_reported_in_the_summary_not_counted_as_slots() -> None:
    from genesys_pulse.core._stats import ProbeStats

    s = ProbeStats(window=10, critical_rtt=0.4)
    for _ in range(3):
        s.record(0.05)
    s.record(None)  # slot timed out ...
    s.record_late(0.6)  # ... and its pong came 0.6 s after sending
    out = s.summary()
    assert (out["count"], out["answered"], out["timeouts"], out["late"]) == (4, 3, 1, 1)
    assert out["late_rtt_max_s"] == 0.6
    # the whole-run percentiles include the late RTT (stated in the docstring)
    assert out["rtt_max_s"] == pytest.approx(0.6, rel=0.01)
    attrs = s.window_attributes()
    assert attrs["late"] == 1 and attrs["late_max_s"] == 0.6
    assert attrs["max_s"] == 0.05  # window quantiles: answered in time; late beside
    assert s.window_attributes()["late"] == 0  # per window


@settings(max_examples=100)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(min_value=1e-5, max_value=2.0)), min_size=0, max_size=40
    ),
    st.lists(st.floats(min_value=0.5, max_value=5.0), max_size=3),
    st.integers(min_value=1, max_value=16),
)
def test_window_attributes_into_is_the_prefixed_summary(
    rtts: list[float | None], late: list[float], cap: int
) -> None:
    """The window event's direct write gives exactly the per-kind summary, prefixed,
    with timeouts in the window (the NaN-filtering sort) and late answers."""
    a, b = ProbeStats(window=cap), ProbeStats(window=cap)
    for s in (a, b):
        for rtt in rtts:
            s.record(rtt)
        for r in late:
            s.record_late(r)
    expected = {"control." + k: v for k, v in a.window_attributes().items()}
    out: dict[str, object] = {"window_s": 60.0}
    b.window_attributes_into(out, "control.")  # type: ignore[arg-type]
    assert out.pop("window_s") == 60.0
    assert out == expected
    assert list(out) == list(expected)  # same key order (the JSON line's order)
    # the quantiles against a plain list of the window's answered RTTs (nearest rank)
    window = rtts[-cap:]
    answered = sorted(r for r in window if r is not None)
    assert out["control.count"] == len(window)
    assert out["control.timeouts"] == sum(r is None for r in window)
    if answered:
        n = len(answered)
        for q, key in ((0.5, "p50_s"), (0.95, "p95_s"), (0.99, "p99_s")):
            assert out["control." + key] == answered[max(0, math.ceil(q * n) - 1)]
        assert out["control.min_s"] == answered[0] and out["control.max_s"] == answered[-1]
    else:
        assert "control.p50_s" not in out and "control.pdv_s" not in out
    # the late counters restart after a summary either way
    assert a.window_attributes()["late"] == b.window_attributes()["late"] == 0


def test_window_keys_are_built_once_per_prefix() -> None:
    """A window summary builds no key strings: the same key objects every window."""
    s = ProbeStats(window=8)
    for rtt in (0.01, None, 0.02):
        s.record(rtt)
    first: dict[str, object] = {}
    second: dict[str, object] = {}
    s.window_attributes_into(first, "application.")  # type: ignore[arg-type]
    s.window_attributes_into(second, "application" + ".")  # type: ignore[arg-type]
    assert list(first) == list(second)
    assert all(k1 is k2 for k1, k2 in zip(first, second, strict=True))


def test_window_refuses_a_non_finite_rtt() -> None:
    """+inf marks a timeout in the ring: a non-finite RTT is refused, not miscounted."""
    from genesys_pulse.core._window import RttWindow

    w = RttWindow(4)
    for bad in (math.inf, math.nan):
        with pytest.raises(ValueError, match="finite"):
            w.add(bad)
    assert len(w) == 0 and w.timeouts == 0
    w.add(None)
    w.add(0.02)
    assert w.values() == [None, 0.02] and w.sorted_answered_once() == [0.02]
