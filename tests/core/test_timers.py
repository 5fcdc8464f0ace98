"""The driver's timer heap (core, plain data): order, ties, lazy cancellation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core import RANK_DEADLINE, RANK_DUE, TimerHeap


def _all_live(owner: str, rank: int, gen: int) -> bool:
    return True


def test_pops_in_time_order_and_only_when_due() -> None:
    h: TimerHeap[str] = TimerHeap()
    h.push(3.0, RANK_DUE, "c", 0)
    h.push(1.0, RANK_DUE, "a", 0)
    h.push(2.0, RANK_DUE, "b", 0)
    assert h.next_due(_all_live) == 1.0
    assert h.pop_due(0.5, _all_live) is None  # nothing due yet
    assert h.pop_due(2.5, _all_live) == (1.0, RANK_DUE, "a", 0)
    assert h.pop_due(2.5, _all_live) == (2.0, RANK_DUE, "b", 0)
    assert h.pop_due(2.5, _all_live) is None
    assert h.next_due(_all_live) == 3.0
    assert h.pop_due(3.0, _all_live) == (3.0, RANK_DUE, "c", 0)  # due exactly at now
    assert h.next_due(_all_live) == float("inf")
    assert len(h) == 0


def test_a_deadline_comes_before_a_slot_start_at_the_same_instant() -> None:
    # a slot's deadline capped by the next due time is resolved before that slot starts
    h: TimerHeap[str] = TimerHeap()
    h.push(5.0, RANK_DUE, "next-slot", 0)
    h.push(5.0, RANK_DEADLINE, "deadline", 0)
    assert h.pop_due(5.0, _all_live) == (5.0, RANK_DEADLINE, "deadline", 0)
    assert h.pop_due(5.0, _all_live) == (5.0, RANK_DUE, "next-slot", 0)


def test_equal_times_are_first_in_first_out() -> None:
    h: TimerHeap[str] = TimerHeap()
    for name in ("t3", "t1", "t2"):
        h.push(7.0, RANK_DUE, name, 0)
    assert [h.pop_due(7.0, _all_live) for _ in range(3)] == [
        (7.0, RANK_DUE, "t3", 0),
        (7.0, RANK_DUE, "t1", 0),
        (7.0, RANK_DUE, "t2", 0),
    ]


def test_stale_timers_are_dropped_without_being_returned() -> None:
    current = {"a": 2, "b": 1}

    def live(owner: str, rank: int, gen: int) -> bool:
        return current[owner] == gen

    h: TimerHeap[str] = TimerHeap()
    h.push(1.0, RANK_DEADLINE, "a", 1)  # re-armed since: stale
    h.push(4.0, RANK_DEADLINE, "a", 2)
    h.push(2.0, RANK_DUE, "b", 1)
    # the stale 1.0 timer does not make the driver wake at 1.0
    assert h.next_due(live) == 2.0
    assert len(h) == 2
    current["b"] = 9  # cancelled
    assert h.next_due(live) == 4.0
    assert h.pop_due(10.0, live) == (4.0, RANK_DEADLINE, "a", 2)
    assert h.pop_due(10.0, live) is None


@settings(derandomize=True, max_examples=200, database=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=100, allow_nan=False), st.sampled_from([0, 1])),
        max_size=60,
    )
)
def test_property_pop_order_is_time_then_rank_then_insertion(
    timers: list[tuple[float, int]],
) -> None:
    h: TimerHeap[int] = TimerHeap()
    for i, (when, rank) in enumerate(timers):
        h.push(when, rank, i, 0)
    got = []
    while (e := h.pop_due(100.0, lambda o, r, g: True)) is not None:
        got.append(e[2])
    want = sorted(range(len(timers)), key=lambda i: (timers[i][0], timers[i][1], i))
    assert got == want
