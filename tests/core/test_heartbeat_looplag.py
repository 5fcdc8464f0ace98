"""Heartbeat gaps and silence; loop-lag stall detection."""

from __future__ import annotations

import pytest

from genesys_pulse.core._heartbeat import HeartbeatGap, HeartbeatTracker
from genesys_pulse.core._looplag import LoopLagEstimator


def test_heartbeat_gaps_and_deviation() -> None:
    h = HeartbeatTracker(period=30.0, start=100.0)
    assert h.silence(110.0) == 10.0  # since the connection started
    assert h.on_heartbeat(125.0) is None  # first: no gap
    assert h.on_heartbeat(155.5) == HeartbeatGap(30.5, pytest.approx(0.5))  # type: ignore[arg-type]
    assert h.on_heartbeat(184.0) == HeartbeatGap(28.5, pytest.approx(1.5))  # type: ignore[arg-type]
    assert h.silence(250.0) == 66.0
    assert h.deviation_mean() == pytest.approx(1.0)
    assert h.max_gap == 30.5 and h.count == 2
    h.reset(300.0)  # new connection
    assert h.silence(301.0) == 1.0
    assert h.on_heartbeat(310.0) is None
    with pytest.raises(ValueError):
        HeartbeatTracker(period=0)


def test_loop_lag_flags_samples_overlapping_a_stall() -> None:
    lag = LoopLagEstimator(tick=0.1)
    assert lag.record(1.0, 1.001) == pytest.approx(0.001)
    assert lag.record(1.1, 1.05) == 0.0  # early wake-ups count as zero lag
    assert lag.remembered == 0
    assert not lag.stalled_during(0.9, 1.15)
    assert lag.record(1.2, 1.45) == pytest.approx(0.25)  # stalled during [1.2, 1.45]
    assert lag.record(1.5, 1.502) == pytest.approx(0.002)
    assert lag.max_lag == pytest.approx(0.25)
    assert lag.stalled_during(1.3, 1.31)  # inside
    assert lag.stalled_during(1.0, 1.2)  # touches the start
    assert not lag.stalled_during(1.46, 1.55)
    assert not lag.stalled_during(0.5, 1.19)
    assert lag.max_lag_during(1.4, 2.0) == pytest.approx(0.25)
    assert not lag.stalled_during(1.3, 1.31, threshold=0.3)


def test_loop_lag_detects_a_stall_in_progress() -> None:
    lag = LoopLagEstimator(tick=0.1)
    assert not lag.is_stalled(5.0)  # nothing recorded yet
    lag.record(2.0, 2.001)
    assert not lag.is_stalled(2.14)  # next tick due 2.1, 40 ms overdue
    assert lag.is_stalled(2.16)
    assert lag.stalled_during(2.05, 2.2)


def test_loop_lag_memory_is_bounded() -> None:
    lag = LoopLagEstimator(tick=0.1, max_stalls=8)
    for k in range(1000):
        lag.record(k * 0.1, k * 0.1 + 0.06)
    assert lag.remembered == 8 and lag.count == 1000
    with pytest.raises(ValueError):
        LoopLagEstimator(tick=0)
