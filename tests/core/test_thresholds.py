"""Threshold machine: scripted sequences give exactly the expected transitions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core import Level
from genesys_pulse.core._thresholds import Direction, ThresholdMachine, Transition, severity

OK, W, C = Level.OK, Level.WARNING, Level.CRITICAL
ok, warn, crit = 0.100, 0.200, 0.500  # against warning 0.150 / critical 0.400
T = None  # a timeout


def run(machine: ThresholdMachine, values: list[float | None]) -> list[tuple[int, Level, Level]]:
    out = []
    for i, v in enumerate(values):
        t = machine.observe(v)
        if t is not None:
            assert t.value == v or (t.value is None and v is None)
            assert t.metric == machine.metric
            out.append((i, t.from_level, t.to_level))
    return out


def rtt_machine(**kw: int) -> ThresholdMachine:
    return ThresholdMachine("rtt.application", 0.150, 0.400, **kw)


CASES: list[tuple[str, list[float | None], list[tuple[int, Level, Level]]]] = [
    ("all ok", [ok] * 12, []),
    ("two of five never raise", [warn, warn, ok, ok, ok, warn, ok, warn, ok, ok], []),
    ("three of five raise", [warn, ok, warn, ok, warn], [(4, OK, W)]),
    ("three consecutive raise on the third", [warn, warn, warn], [(2, OK, W)]),
    ("at the limit is a breach", [0.150, 0.150, 0.150], [(2, OK, W)]),
    ("just below the limit is not", [0.1499] * 10, []),
    (
        "clear after five consecutive ok, not four",
        [warn, warn, warn, ok, ok, ok, ok, ok],
        [(2, OK, W), (7, W, OK)],
    ),
    (
        "a breach restarts the clear count",
        [warn, warn, warn, ok, ok, ok, ok, warn, ok, ok, ok, ok, ok],
        [(2, OK, W), (12, W, OK)],
    ),
    ("straight to critical", [crit, crit, crit], [(2, OK, C)]),
    ("timeouts are infinitely bad", [T, T, T], [(2, OK, C)]),
    ("mixed timeouts and criticals", [T, crit, ok, T], [(3, OK, C)]),
    (
        "warning then escalation",
        [warn, warn, crit, crit, crit],
        [(2, OK, W), (4, W, C)],
    ),
    (
        "critical steps down to warning, then ok",
        [crit, crit, crit, warn, warn, warn, warn, warn, ok, ok, ok, ok, ok],
        [(2, OK, C), (7, C, W), (12, W, OK)],
    ),
    (
        "critical straight to ok after five clean values",
        [crit, crit, crit, ok, ok, ok, ok, ok],
        [(2, OK, C), (7, C, OK)],
    ),
    (
        "critical with one warning in the last five steps down to warning",
        [crit, crit, crit, ok, warn, ok, ok, ok, ok, ok, ok, ok],
        [(2, OK, C), (7, C, W), (9, W, OK)],
    ),
    (
        "flapping holds warning and emits once",
        [warn, ok] * 10,
        [(4, OK, W)],
    ),
    (
        "re-raise after clear",
        [warn] * 3 + [ok] * 5 + [warn] * 3,
        [(2, OK, W), (7, W, OK), (10, OK, W)],
    ),
    (
        "critical spike inside warning does not escalate",
        [warn, warn, warn, crit, crit, warn, warn],
        [(2, OK, W)],
    ),
]


@pytest.mark.parametrize(("name", "values", "expected"), CASES, ids=[c[0] for c in CASES])
def test_scripted_sequences(
    name: str, values: list[float | None], expected: list[tuple[int, Level, Level]]
) -> None:
    assert run(rtt_machine(), values) == expected


def test_lower_is_worse_stability() -> None:
    m = ThresholdMachine("stability", 0.99, 0.975, direction=Direction.LOWER_IS_WORSE)
    values = [1.0, 0.98, 0.98, 0.98, 0.97, 0.97, 0.97, 0.995, 0.995, 0.995, 0.995, 0.995]
    assert run(m, values) == [(3, OK, W), (6, W, C), (11, C, OK)]
    assert severity(0.99, 0.99, 0.975, Direction.LOWER_IS_WORSE) is W
    assert severity(None, 0.99, 0.975, Direction.LOWER_IS_WORSE) is C


def test_clear_m_shorter_than_raise_window_does_not_flap() -> None:
    m = rtt_machine(raise_k=3, raise_n=5, clear_m=2)
    # after 3 criticals, two clean values are "m consecutive below", but 3 of the
    # last 5 still breach critical, so the level holds until the third clean value.
    assert run(m, [crit, crit, crit, ok, ok, ok]) == [(2, OK, C), (5, C, OK)]


def test_k_equals_one_raises_on_first_breach() -> None:
    assert run(rtt_machine(raise_k=1, raise_n=1, clear_m=1), [ok, warn, ok, crit, warn]) == [
        (1, OK, W),
        (2, W, OK),
        (3, OK, C),
        (4, C, W),
    ]


def test_transition_event_names_and_reset() -> None:
    m = rtt_machine(raise_k=1, raise_n=1, clear_m=1)
    up = m.observe(crit)
    down = m.observe(ok)
    assert isinstance(up, Transition) and up.is_breach and up.event_name == "threshold.breach"
    assert isinstance(down, Transition) and not down.is_breach
    assert down.event_name == "threshold.clear"
    m.observe(crit)
    assert m.level is C
    m.reset()
    assert m.level is OK
    assert m.observe(ok) is None


def test_from_levels_uses_hysteresis() -> None:
    class Lv:
        warning = 0.15
        critical = 0.4

    class Hy:
        raise_k = 1
        raise_n = 2
        clear_m = 3

    m = ThresholdMachine.from_levels("rtt.control", Lv(), Hy())
    assert (m.raise_k, m.raise_n, m.clear_m) == (1, 2, 3)
    assert ThresholdMachine.from_levels("x", Lv()).raise_k == 3


@pytest.mark.parametrize(
    ("kwargs", "direction"),
    [
        ({"warning": 0.5, "critical": 0.4}, Direction.HIGHER_IS_WORSE),
        ({"warning": 0.9, "critical": 0.95}, Direction.LOWER_IS_WORSE),
        ({"warning": 0.1, "critical": 0.4, "raise_k": 6}, Direction.HIGHER_IS_WORSE),
        ({"warning": 0.1, "critical": 0.4, "raise_k": 0}, Direction.HIGHER_IS_WORSE),
        ({"warning": 0.1, "critical": 0.4, "clear_m": 0}, Direction.HIGHER_IS_WORSE),
        ({"warning": float("nan"), "critical": 0.4}, Direction.HIGHER_IS_WORSE),
    ],
)
def test_rejects_inconsistent_parameters(kwargs: dict[str, float], direction: Direction) -> None:
    with pytest.raises(ValueError):
        ThresholdMachine("m", direction=direction, **kwargs)  # type: ignore[arg-type]


def reference_levels(
    sevs: list[int], k: int, n: int, m: int
) -> list[tuple[int, int, int]]:  # naive re-computation from the full history
    level = 0
    out = []
    for i in range(len(sevs)):
        last_n = sevs[max(0, i - n + 1) : i + 1]
        raised = max([lv for lv in (1, 2) if sum(s >= lv for s in last_n) >= k], default=0)
        if raised > level:
            out.append((i, level, raised))
            level = raised
            continue
        last_m = sevs[max(0, i - m + 1) : i + 1]
        if level > 0 and len(last_m) == m and all(s < level for s in last_m):
            target = max(max(last_m), raised)
            if target < level:
                out.append((i, level, target))
                level = target
    return out


values_st = st.lists(
    st.one_of(st.none(), st.sampled_from([ok, warn, crit, 0.15, 0.4]), st.floats(0, 1)),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(
    values=values_st,
    k=st.integers(1, 6),
    extra=st.integers(0, 4),
    m=st.integers(1, 8),
)
def test_matches_naive_reference_and_never_repeats_a_level(
    values: list[float | None], k: int, extra: int, m: int
) -> None:
    n = k + extra
    machine = rtt_machine(raise_k=k, raise_n=n, clear_m=m)
    got = run(machine, values)
    sevs = [int(machine.severity(v)) for v in values]
    assert [(i, int(a), int(b)) for i, a, b in got] == reference_levels(sevs, k, n, m)
    previous = OK
    for _, frm, to in got:
        assert frm == previous and to != frm
        previous = to
    assert machine.level == previous
