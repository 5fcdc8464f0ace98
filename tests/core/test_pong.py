"""Pong attribution: late pongs are never credited to later pings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core._pong import (
    AppPongMatcher,
    ControlPongMatcher,
    Resolution,
    control_payload,
)


def answered(seq: int, sent: float, rtt: float) -> Resolution:
    return Resolution(seq, sent, pytest.approx(rtt), False, False)  # type: ignore[arg-type]


def timed_out(seq: int, sent: float) -> Resolution:
    return Resolution(seq, sent, None, True, False)


def late(seq: int, sent: float, rtt: float) -> Resolution:
    return Resolution(seq, sent, pytest.approx(rtt), False, True)  # type: ignore[arg-type]


def test_in_time_pongs() -> None:
    m = AppPongMatcher(timeout=1.0)
    for k in range(5):
        m.on_sent(k, float(k))
        assert m.on_pong(k + 0.02) == [answered(k, k, 0.02)]
        assert m.on_deadline(k, k + 1.0) == []
    assert (m.pending, m.owed, m.strays, m.late_pongs) == (0, 0, 0, 0)


def test_late_pong_before_next_ping_is_a_late_resolution() -> None:
    m = AppPongMatcher(timeout=0.5)
    m.on_sent(0, 0.0)
    assert m.on_deadline(0, 0.5) == [timed_out(0, 0.0)]
    assert m.on_pong(0.7) == [late(0, 0.0, 0.7)]
    m.on_sent(1, 1.0)
    assert m.on_pong(1.01) == [answered(1, 1.0, 0.01)]
    assert m.late_pongs == 1


def test_late_spike_is_never_credited_to_the_next_ping() -> None:
    # interval 1, timeout 1: pong 0 arrives at 1.5, after ping 1 was sent at 1.0
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    assert m.on_deadline(0, 1.0) == [timed_out(0, 0.0)]
    m.on_sent(1, 1.0)
    assert m.on_pong(1.5) == []  # ambiguous: held
    assert m.held == 1
    # ping 1's own pong arrives: the held one was ping 0's late pong
    assert m.on_pong(1.6) == [late(0, 0.0, 1.5), answered(1, 1.0, 0.6)]
    assert m.on_deadline(1, 2.0) == []
    m.on_sent(2, 2.0)
    assert m.on_pong(2.01) == [answered(2, 2.0, 0.01)]
    assert (m.held, m.owed, m.pending) == (0, 0, 0)


def test_dropped_pong_does_not_cascade_into_false_timeouts() -> None:
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    assert m.on_deadline(0, 1.0) == [timed_out(0, 0.0)]  # pong 0 lost
    m.on_sent(1, 1.0)
    assert m.on_pong(1.01) == []  # could be pong 0, late
    # ping 1's deadline passes with only that pong: pong 0 was lost
    assert m.on_deadline(1, 2.0) == [answered(1, 1.0, 0.01)]
    assert m.lost_pongs == 1
    for k in range(2, 10):
        m.on_sent(k, float(k))
        assert m.on_pong(k + 0.01) == [answered(k, k, 0.01)]
        assert m.on_deadline(k, k + 1.0) == []


def test_two_consecutive_drops_time_out_once_each() -> None:
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    assert m.on_deadline(0, 1.0) == [timed_out(0, 0.0)]
    m.on_sent(1, 1.0)
    assert m.on_deadline(1, 2.0) == [timed_out(1, 1.0)]
    m.on_sent(2, 2.0)
    assert m.on_pong(2.01) == []  # two owed pings: held
    assert m.on_deadline(2, 3.0) == [answered(2, 2.0, 0.01)]
    assert m.lost_pongs == 2


def test_two_owed_then_both_late_pongs_then_own_pong() -> None:
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    m.on_deadline(0, 1.0)
    m.on_sent(1, 1.0)
    m.on_deadline(1, 2.0)
    m.on_sent(2, 2.0)
    assert m.on_pong(2.3) == []
    assert m.on_pong(2.4) == []
    assert m.on_pong(2.5) == [late(0, 0.0, 2.3), late(1, 1.0, 1.4), answered(2, 2.0, 0.5)]


def test_owed_pings_expire_after_the_horizon() -> None:
    m = AppPongMatcher(timeout=0.5)  # horizon 1.5 s after sending
    m.on_sent(0, 0.0)
    m.on_deadline(0, 0.5)
    assert m.awaiting_late(1.0)
    assert not m.awaiting_late(1.6)
    m.on_sent(1, 2.0)
    assert m.on_pong(2.1) == [answered(1, 2.0, 0.1)]
    assert m.lost_pongs == 1


def test_strays_are_counted() -> None:
    m = AppPongMatcher(timeout=1.0)
    assert m.on_pong(0.5) == []
    m.on_sent(0, 1.0)
    assert m.on_pong(1.1) == [answered(0, 1.0, 0.1)]
    assert m.on_pong(1.2) == []  # a duplicate pong
    assert m.strays == 2


def test_sustained_delay_between_timeout_and_interval_is_exact() -> None:
    # RTT 0.7 s with a 0.5 s timeout and 1 s interval: every ping times out, and
    # every pong is recognised as that ping's late pong, never as a fresh answer.
    m = AppPongMatcher(timeout=0.5)
    out: list[Resolution] = []
    for k in range(50):
        m.on_sent(k, float(k))
        out += m.on_deadline(k, k + 0.5)
        out += m.on_pong(k + 0.7)
    assert [r for r in out if not r.late and not r.timed_out] == []
    assert [r.seq for r in out if r.timed_out] == list(range(50))
    assert [(r.seq, round(r.rtt or 0, 6)) for r in out if r.late] == [(k, 0.7) for k in range(50)]


def test_limitation_delay_beyond_interval_without_serialising() -> None:
    # RTT 1.2 s, interval 1, timeout 0.5: indistinguishable from one lost pong
    # followed by RTT 0.2 s. The documented rule picks the latter.
    m = AppPongMatcher(timeout=0.5)
    events: list[tuple[float, int, str]] = []
    for k in range(6):
        events += [(float(k), k, "send"), (k + 0.5, k, "deadline"), (k + 1.2, k, "pong")]
    out: list[Resolution] = []
    for t, seq, kind in sorted(events):
        if kind == "send":
            m.on_sent(seq, t)
        elif kind == "deadline":
            out += m.on_deadline(seq, t)
        else:
            out += m.on_pong(t)
    credited = [r for r in out if not r.timed_out and not r.late]
    assert credited and all(r.rtt == pytest.approx(0.2) for r in credited)


def test_serialised_prober_is_exact_when_delay_exceeds_interval() -> None:
    # The same delay, but the prober skips a slot's ping while awaiting_late():
    # no pong is ever credited to the wrong ping.
    m = AppPongMatcher(timeout=0.5, horizon=3.0)
    rtt = 1.2
    pongs_due: list[tuple[float, int]] = []
    out: list[Resolution] = []
    sent_seqs: list[int] = []
    for k in range(20):
        now = float(k)
        for t, _ in [p for p in pongs_due if p[0] <= now]:
            out += m.on_pong(t)
        pongs_due = [p for p in pongs_due if p[0] > now]
        if m.awaiting_late(now):
            continue
        m.on_sent(k, now)
        sent_seqs.append(k)
        pongs_due.append((now + rtt, k))
        out += m.on_deadline(k, now + 0.5)
    assert sent_seqs and all(r.timed_out or r.late for r in out)
    assert all(r.rtt == pytest.approx(rtt) for r in out if r.late)


@settings(max_examples=300, deadline=None)
@given(
    rtts=st.lists(st.one_of(st.none(), st.floats(0.001, 0.9)), min_size=1, max_size=60),
)
def test_in_time_or_lost_pongs_are_attributed_exactly(rtts: list[float | None]) -> None:
    # With every pong either lost or back before the next ping is sent (rtt < interval),
    # and the deadline after the pong, attribution is always exact.
    m = AppPongMatcher(timeout=1.0)
    out: list[Resolution] = []
    for k, rtt in enumerate(rtts):
        m.on_sent(k, float(k))
        if rtt is not None:
            out += m.on_pong(k + rtt)
        out += m.on_deadline(k, k + 1.0)
    by_seq = {r.seq: r for r in out if not r.late}
    assert sorted(by_seq) == list(range(len(rtts)))
    for k, rtt in enumerate(rtts):
        r = by_seq[k]
        if rtt is None:
            assert r.timed_out
        else:
            assert not r.timed_out and r.rtt == pytest.approx(rtt)


@settings(max_examples=300, deadline=None)
@given(
    rtts=st.lists(st.one_of(st.none(), st.floats(0.001, 2.5)), min_size=1, max_size=60),
)
def test_each_ping_resolved_once_and_rtts_physical(rtts: list[float | None]) -> None:
    m = AppPongMatcher(timeout=1.0)
    events: list[tuple[float, int, int]] = []  # (time, order, seq); order: pong<deadline<send
    for k, rtt in enumerate(rtts):
        events.append((float(k), 2, k))
        events.append((k + 1.0, 1, k))
        if rtt is not None:
            events.append((k + rtt, 0, -1))
    out: list[Resolution] = []
    for t, order, seq in sorted(events):
        if order == 2:
            m.on_sent(seq, t)
        elif order == 1:
            out += m.on_deadline(seq, t)
        else:
            out += m.on_pong(t)
    primary = [r for r in out if not r.late]
    assert sorted(r.seq for r in primary) == list(range(len(rtts)))
    for r in out:
        assert r.timed_out == (r.rtt is None)
        if r.rtt is not None:
            assert 0 <= r.rtt
            if not r.late:
                assert r.rtt <= 1.0 + 1e-9
    assert len([r for r in out if r.late]) == m.late_pongs


def test_close_times_out_pending() -> None:
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    m.on_sent(1, 0.5)
    assert m.close() == [timed_out(0, 0.0), timed_out(1, 0.5)]
    assert m.pending == 0


def test_app_matcher_validates() -> None:
    with pytest.raises(ValueError):
        AppPongMatcher(timeout=0)
    with pytest.raises(ValueError):
        AppPongMatcher(timeout=1.0, horizon=0.5)


def test_control_pongs_match_by_payload_only() -> None:
    m = ControlPongMatcher(timeout=1.0)
    p0 = m.on_sent(0, 0.0)
    p1 = m.on_sent(1, 0.5)
    assert p0 == control_payload(0) and p0 != p1
    # pong for 1 does not acknowledge 0
    assert m.on_pong(p1, 0.6) == answered(1, 0.5, 0.1)
    assert m.pending == 1
    assert m.on_deadline(0, 1.0) == timed_out(0, 0.0)
    assert m.on_deadline(1, 1.5) is None
    assert m.on_pong(p0, 1.2) == late(0, 0.0, 1.2)
    assert m.on_pong(p0, 1.3) is None  # duplicate
    assert m.on_pong(b"unknown", 1.4) is None
    assert (m.strays, m.late_pongs) == (2, 1)


def test_control_late_pong_after_horizon_is_a_stray() -> None:
    m = ControlPongMatcher(timeout=1.0)
    p0 = m.on_sent(0, 0.0)
    m.on_deadline(0, 1.0)
    assert m.on_pong(p0, 3.5) is None
    assert m.strays == 1
    m.on_sent(1, 4.0, payload=b"x")
    with pytest.raises(ValueError):
        m.on_sent(2, 4.0, payload=b"x")
    assert len(control_payload(10**30)) <= 125
    assert m.close() == [timed_out(1, 4.0)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.floats(0.001, 0.95), st.floats(1.01, 1.9)),
        min_size=1,
        max_size=60,
    )
)
def test_isolated_late_pongs_are_never_credited_to_a_later_ping(
    plan: list[tuple[bool, float, float]],
) -> None:
    # interval 1 s, timeout 1 s, in-order server, no losses; a ping is late
    # (rtt 1.01..1.9 s, i.e. its pong arrives after the next ping was sent)
    # only when the previous one was in time.
    m = AppPongMatcher(timeout=1.0)
    arrivals: list[float] = []
    late_flags: list[bool] = []
    previous_late = False
    for k, (want_late, fast, slow) in enumerate(plan):
        is_late = want_late and not previous_late
        previous_late = is_late
        arrival = k + (slow if is_late else fast)
        if arrivals:
            arrival = max(arrival, arrivals[-1])  # in order
        arrivals.append(arrival)
        late_flags.append(arrival - k > 1.0)
    events: list[tuple[float, int, int]] = []  # (time, order, seq): pong < deadline < send
    for k, arrival in enumerate(arrivals):
        events += [(float(k), 2, k), (k + 1.0, 1, k), (arrival, 0, k)]
    out: list[Resolution] = []
    for t, order, seq in sorted(events):
        if order == 2:
            m.on_sent(seq, t)
        elif order == 1:
            out += m.on_deadline(seq, t)
        else:
            out += m.on_pong(t)
    primary = {r.seq: r for r in out if not r.late}
    assert sorted(primary) == list(range(len(plan)))
    for k, arrival in enumerate(arrivals):
        r = primary[k]
        if late_flags[k]:
            assert r.timed_out
        else:
            assert not r.timed_out and r.rtt == pytest.approx(arrival - k)
    lates = {r.seq: r for r in out if r.late}
    assert set(lates) == {k for k, f in enumerate(late_flags) if f}
    for k, r in lates.items():
        assert r.rtt == pytest.approx(arrivals[k] - k)
