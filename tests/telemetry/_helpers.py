"""Synthetic samples/events; the in-memory OpenTelemetry SDK pipeline is the shared
``tests/_otel.py`` (re-exported here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from _otel import Pipeline, pipeline
from genesys_pulse.core import E_CONNECT_PHASE
from genesys_pulse.core.model import Event, ProbeKind, Sample

__all__ = [
    "T0",
    "TARGET",
    "TARGET_ATTRS",
    "Pipeline",
    "event",
    "pipeline",
    "sample",
    "scripted_run",
]

T0 = 1_800_000_000.0  # wall-clock label of the first record
TARGET = "gc-euw2-prod"
TARGET_ATTRS = {
    TARGET: {
        "genesys.environment": "euw2.pure.cloud",
        "server.address": "streaming.euw2.pure.cloud",
        "server.port": "443",
    }
}


def sample(
    k: int,
    probe: ProbeKind = ProbeKind.CONTROL,
    rtt: float | None = 0.05,
    *,
    jitter: float | None = None,
    lag: float = 0.0,
    target: str = TARGET,
    gap: float | None = None,
) -> Sample:
    sched = 100.0 + k
    return Sample(
        target=target,
        probe=probe,
        seq=k,
        scheduled_mono=sched,
        sent_mono=None if probe is ProbeKind.HEARTBEAT else sched + lag,
        rtt_s=rtt,
        timed_out=rtt is None and probe is not ProbeKind.HEARTBEAT,
        at=T0 + k,
        jitter_s=jitter,
        gap_s=gap,
    )


def event(name: str, at: float, target: str = TARGET, **attrs: Any) -> Event:
    return Event(target=target, name=name, at=T0 + at, attributes=attrs)


def scripted_run() -> Iterator[Sample | Event]:
    """A run touching every metric, span and audit kind (60 s window), with the
    event shapes the monitor emits (genesys_pulse.monitor._target/_supervisor)."""
    yield event("monitor.started", 0.0, target="*")
    # each phase is reported when it ends, just before the client's own event
    yield event(E_CONNECT_PHASE, 0.2, phase="login", duration_s=0.15)
    yield event("token.issued", 0.2, duration_s=0.15, expires_in_s=86399, refresh_in_s=80000)
    yield event(E_CONNECT_PHASE, 0.4, phase="channel", duration_s=0.1)
    yield event("channel.created", 0.4, duration_s=0.1, expires="2027-01-15T10:00:00+00:00")
    yield event(E_CONNECT_PHASE, 0.45, phase="subscribe", duration_s=0.02)
    yield event("subscribed", 0.5)  # not an event name we know: ignored
    yield event(E_CONNECT_PHASE, 0.94, phase="handshake", duration_s=0.03)
    yield event("connection.established", 0.95, restored=False, subscribe_s=0.02, handshake_s=0.03)
    prev = None
    for k in range(1, 30):
        rtt = 0.040 + 0.001 * (k % 5)
        yield sample(
            k, ProbeKind.CONTROL, rtt, jitter=None if prev is None else abs(rtt - prev), lag=0.002
        )
        prev = rtt
        yield sample(k, ProbeKind.APPLICATION, rtt + 0.01, jitter=0.001 if k > 1 else None)
    yield sample(30, ProbeKind.CONTROL, None)
    yield event("timeout", 31.0, probe="control", seq=30)
    yield sample(31, ProbeKind.HEARTBEAT, None, gap=30.2)
    yield event(
        "threshold.breach", 32.0, metric="rtt", probe="control", level="warning", value=0.45
    )
    yield event("socket_closing", 40.0)
    yield event("rotation", 41.0, reason="socket_closing")
    yield event("token.refresh", 42.0)
    yield event("threshold.clear", 45.0, metric="rtt", probe="control", level="ok", value=0.05)
    yield event(
        "connection.lost",
        50.0,
        reason="closed",
        code=1011,
        close_reason="server error",
        planned=False,
    )
    yield event("reconnect", 50.5, reason="error", delay_s=0.25, error="ConnectError")
    yield event("token.failed", 51.0, error="temporarily_unavailable")
    yield event("reconnect", 51.5, reason="token", delay_s=0.5, error="ApiError")
    yield event("channel.expired", 52.0, status=404)
    yield event(E_CONNECT_PHASE, 52.2, phase="login", duration_s=0.1)
    yield event("token.issued", 52.2, duration_s=0.1)
    yield event(E_CONNECT_PHASE, 52.4, phase="channel", duration_s=0.0)  # from the boundary
    yield event("channel.created", 52.4)
    yield event(E_CONNECT_PHASE, 52.85, phase="handshake", duration_s=0.4)
    yield event("connection.established", 52.9, restored=True, handshake_s=0.4)
    yield event("connection.restored", 53.0, outage_s=3.0)
    yield event(
        "window",
        60.0,
        window_s=60.0,
        **{
            "control.stability": 0.98,
            "control.count": 30,
            "control.timeouts": 1,
            "control.p50_s": 0.042,
            "application.stability": 1.0,
        },
    )
    yield event("monitor.stopped", 61.0, target="*")
