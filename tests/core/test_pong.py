"""Pong attribution: a pong is never credited to a ping other than its own.

Application pings carry no correlation id, so ``AppPongMatcher`` is
stop-and-wait (core/_pong.py): at most one ping outstanding, late answers keep
their true RTT, loss is declared only past the horizon. Control pings are
matched by their unique payload.
"""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesys_pulse.core._pong import (
    LOSS_HORIZON_FACTOR,
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
        assert m.may_send(float(k))
        m.on_sent(k, float(k))
        assert m.on_pong(k + 0.02) == answered(k, k, 0.02)
        assert m.on_deadline(k, k + 1.0) is None
    assert (m.pending, m.owed, m.strays, m.late_pongs, m.lost_pongs) == (0, 0, 0, 0, 0)


def test_late_pong_before_next_ping_is_a_late_answer() -> None:
    m = AppPongMatcher(timeout=0.5)
    m.on_sent(0, 0.0)
    assert m.on_deadline(0, 0.5) == timed_out(0, 0.0)
    assert m.awaiting_late(0.6) and not m.may_send(0.6)
    assert m.on_pong(0.7) == late(0, 0.0, 0.7)
    assert m.may_send(1.0)
    m.on_sent(1, 1.0)
    assert m.on_pong(1.01) == answered(1, 1.0, 0.01)
    assert m.late_pongs == 1


def test_stop_and_wait_refuses_a_second_outstanding_ping() -> None:
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    with pytest.raises(ValueError, match="stop-and-wait"):
        m.on_sent(1, 0.5)
    m.on_deadline(0, 1.0)
    assert not m.may_send(1.0)
    with pytest.raises(ValueError, match="stop-and-wait"):
        m.on_sent(1, 1.0)


def test_sustained_delay_beyond_the_interval_is_never_shortened() -> None:
    """The reported failure: RTT 600 ms, interval 500 ms, timeout 400 ms.

    The old rule credited every pong to the next ping (about 100 ms). Here
    every probe is a timeout and every late answer carries 600 ms.
    """
    interval, timeout, delay = 0.5, 0.4, 0.6
    m = AppPongMatcher(timeout=timeout)
    arrivals: list[float] = []
    out: list[Resolution] = []
    skipped = 0
    for k in range(40):
        t = k * interval
        while arrivals and arrivals[0] <= t:
            r = m.on_pong(arrivals.pop(0))
            assert r is not None
            out.append(r)
        if not m.may_send(t):
            skipped += 1  # the monitor records "previous ping unanswered"
            continue
        m.on_sent(k, t)
        arrivals.append(t + delay)
        r = m.on_deadline(k, t + timeout)
        assert r is not None
        out.append(r)
    assert all(r.timed_out or r.late for r in out)
    lates = [r for r in out if r.late]
    assert lates and all(r.rtt == pytest.approx(delay) for r in lates)
    assert skipped == 20 and m.strays == 0


def test_dropped_pong_costs_one_slot_when_the_horizon_is_within_the_interval() -> None:
    m = AppPongMatcher(timeout=0.05)  # horizon 0.5 s, interval 1 s
    assert m.horizon == pytest.approx(LOSS_HORIZON_FACTOR * 0.05)
    m.on_sent(0, 0.0)
    assert m.on_deadline(0, 0.05) == timed_out(0, 0.0)  # pong 0 dropped
    assert m.may_send(1.0)
    assert m.lost_pongs == 1
    m.on_sent(1, 1.0)
    assert m.on_pong(1.01) == answered(1, 1.0, 0.01)


def test_owed_ping_blocks_until_the_horizon() -> None:
    m = AppPongMatcher(timeout=1.0, horizon=3.0)
    m.on_sent(0, 0.0)
    m.on_deadline(0, 1.0)
    assert not m.may_send(2.0) and m.owed == 1
    assert m.may_send(3.0) and m.lost_pongs == 1 and m.owed == 0
    assert m.on_pong(3.1) is None and m.strays == 1


def test_limit_a_pong_past_the_horizon_after_the_next_ping_shows_as_a_stray() -> None:
    """The one remaining limit, and how it becomes visible."""
    m = AppPongMatcher(timeout=0.1, horizon=1.0)
    m.on_sent(0, 0.0)
    m.on_deadline(0, 0.1)
    assert m.may_send(2.0)  # ping 0 declared lost at the horizon
    m.on_sent(2, 2.0)
    r = m.on_pong(2.05)  # really ping 0's pong, 2.05 s late: credited to ping 2
    assert r == answered(2, 2.0, 0.05)
    assert m.on_pong(2.06) is None  # ping 2's own pong: nothing outstanding
    assert m.strays == 1


def test_refine_sent_moves_the_rtt_origin_to_the_completed_write() -> None:
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    m.refine_sent(0, 0.001)
    assert m.on_pong(0.021) == answered(0, 0.001, 0.02)
    c = ControlPongMatcher(timeout=1.0)
    p = c.on_sent(0, 0.0)
    c.refine_sent(0, 0.001)
    assert c.on_pong(p, 0.021) == answered(0, 0.001, 0.02)


def test_close_times_out_pending_and_forgets_owed() -> None:
    m = AppPongMatcher(timeout=1.0)
    m.on_sent(0, 0.0)
    assert m.close() == [timed_out(0, 0.0)]
    m.on_sent(1, 1.0)
    m.on_deadline(1, 2.0)
    assert m.close() == [] and m.lost_pongs == 1 and m.may_send(2.0)


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
    assert m.on_pong(p0, 10.5) is None  # past the horizon (10 x timeout)
    assert m.strays == 1
    m.on_sent(1, 11.0, payload=b"x")
    with pytest.raises(ValueError):
        m.on_sent(2, 11.0, payload=b"x")
    assert len(control_payload(10**30)) <= 125
    assert m.close() == [timed_out(1, 11.0)]


def test_control_pongs_are_exact_under_delay_beyond_the_interval() -> None:
    # interval 0.5, timeout 0.4, every control pong 1.1 s late, in order: each
    # pong answers exactly the ping whose payload it echoes
    m = ControlPongMatcher(timeout=0.4)
    pongs: list[tuple[float, bytes]] = []
    out: list[Resolution] = []
    for k in range(30):
        t = 0.5 * k
        while pongs and pongs[0][0] <= t:
            at, payload = pongs.pop(0)
            r = m.on_pong(payload, at)
            assert r is not None
            out.append(r)
        pongs.append((t + 1.1, m.on_sent(k, t)))
        r = m.on_deadline(k, t + 0.4)
        assert r is not None
    assert len(out) == 27 and all(r.late and r.rtt == pytest.approx(1.1) for r in out)
    assert [r.seq for r in out] == list(range(27))
    assert m.strays == 0


# A generated in-order pong schedule: per ping, dropped or delayed; delays
# cross the timeout and the interval (up to 0.95 x the horizon: the horizon is
# respected), and runs of equal plans make bursts of drops or long delays.
_plan = st.lists(
    st.tuples(st.booleans(), st.floats(0.001, 0.95), st.integers(1, 6)),
    min_size=1,
    max_size=25,
)


@given(
    timeout=st.sampled_from([0.1, 0.25, 0.4, 0.8, 1.0]),
    plan=_plan,
)
def test_no_pong_is_credited_to_another_ping(
    timeout: float, plan: list[tuple[bool, float, int]]
) -> None:
    """Property: a stop-and-wait prober (as monitor/_target.py: a slot whose ping is
    owed defers its send to the owed pong's arrival within the slot, else sends
    nothing) never credits a pong to a ping other than its own, and reports
    each pong's true RTT; a dropped pong is declared lost exactly once."""
    interval = 1.0
    horizon = LOSS_HORIZON_FACTOR * timeout
    m = AppPongMatcher(timeout=timeout)
    pings = [(drop, frac * horizon) for drop, frac, n in plan for _ in range(n)]
    nslots = int(sum(d for _, d in pings) / interval) + len(pings) * 2 + int(horizon) + 2
    # events: (time, order, kind, a, b): pong 0 < deadline 1 < slot end 2 < slot start 3
    ev: list[tuple[float, int, str, int, float]] = []
    for k in range(nslots):
        heapq.heappush(ev, (k * interval, 3, "slot", k, 0.0))
    nxt = 0
    sent_at: dict[int, float] = {}
    deferred: int | None = None
    credited: list[Resolution] = []
    dropped = 0

    def send(k: int, t: float) -> None:
        nonlocal nxt, dropped
        m.on_sent(k, t)
        sent_at[k] = t
        heapq.heappush(ev, (min(t + timeout, (k + 1) * interval), 1, "deadline", k, 0.0))
        if nxt < len(pings):
            drop, delay = pings[nxt]
        else:
            drop, delay = False, 0.01
        nxt += 1
        if drop:
            dropped += 1
        else:
            heapq.heappush(ev, (t + delay, 0, "pong", k, t))

    while ev:
        t, _, kind, k, sent = heapq.heappop(ev)
        if kind == "slot":
            if m.may_send(t):
                send(k, t)
            else:
                deferred = k
                heapq.heappush(ev, (k * interval + timeout, 2, "slot_end", k, 0.0))
        elif kind == "slot_end":
            if deferred == k:
                deferred = None  # "previous ping unanswered"
        elif kind == "deadline":
            m.on_deadline(k, t)
        else:
            r = m.on_pong(t)
            assert r is not None, "a pong within the horizon was taken for a stray"
            assert r.seq == k, f"pong of ping {k} credited to ping {r.seq}"
            assert r.sent == sent and r.rtt == pytest.approx(t - sent)
            assert r.late == (t > min(sent + timeout, (k + 1) * interval))
            credited.append(r)
            if deferred is not None and t < deferred * interval + timeout and m.may_send(t):
                send(deferred, t)
                deferred = None
    assert m.strays == 0
    assert len({r.seq for r in credited}) == len(credited)
    assert len(credited) + dropped == len(sent_at)
    m.may_send(nslots * interval + horizon)
    assert m.lost_pongs == dropped
