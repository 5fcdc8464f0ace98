"""Liveness and readiness of a running monitor, decided from a snapshot.

The health endpoint (``/livez``, ``/readyz``) and anything else that asks
"is this monitor alive / ready?" read a :class:`HealthSnapshot` the monitor
builds from its public state and pass it here. The decisions are plain code
(no clock read: the snapshot carries ``now``), so they are tested without a
socket.

Definitions:

alive
    the event loop answers (the caller is running on it) and its lag -- how
    late the loop-lag ticker woke (see :mod:`genesys_pulse.core._looplag`) --
    stayed at most ``max_lag`` seconds over the last ``lag_window`` seconds,
    and the ticker is not overdue by more than ``max_lag`` right now. A
    process whose loop is blocked cannot answer at all; one that just came
    out of a long block answers "not alive" for ``lag_window`` seconds, so an
    orchestrator that probes periodically sees it.
ready
    the configuration is loaded and every target this instance owns is
    either connected (``connected``, ``rotating``), or in a reported back-off
    **after having been connected** (an outage of a target that worked is
    what the monitor is there to report; restarting it or holding a rollout
    would not help). Not ready: the monitor is still starting, a target has
    never connected (its first attempt is running or has failed: a wrong
    region, credentials, proxy or egress rule -- a rollout of a bad
    configuration stops at the first pod), or a target stopped (its OAuth
    client was refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_LAG_WINDOW",
    "DEFAULT_MAX_LAG",
    "HealthSnapshot",
    "TargetHealth",
    "liveness",
    "readiness",
]

DEFAULT_MAX_LAG = 1.0
"""Seconds of event-loop lag above which the monitor is not alive: its probe
timeouts are around a second, so beyond this its measurements are no longer
about the network."""

DEFAULT_LAG_WINDOW = 10.0
"""Seconds a lag above the bound keeps ``/livez`` failing (one probe period of
a typical orchestrator)."""

_CONNECTED_STATES = frozenset({"connected", "rotating"})


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """One target's connection state, as the monitor reports it.

    Attributes:
      id: the target id.
      state: ``connecting``, ``connected``, ``rotating``, ``reconnecting``,
        ``backoff``, ``stopped`` or ``auth_refused``.
      ever_connected: whether a connection was ever established.
      backoff_reason: the latest reported back-off's reason (e.g.
        ``connect_failed``), ``None`` if there was none.
      backoff_error: the error type behind it (e.g. ``ConnectError``), or ``""``.
      retry_in: seconds until the next attempt while in back-off (``None`` otherwise).
      failure: why a stopped target stopped (``None`` if it did not).
    """

    id: str
    state: str
    ever_connected: bool
    backoff_reason: str | None = None
    backoff_error: str = ""
    retry_in: float | None = None
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """What the health decisions need, captured at one instant.

    Attributes:
      now: monotonic time of the snapshot (``trio.current_time()``).
      started: whether the monitor finished start-up (configuration loaded,
        every target task started).
      targets: per owned target, its state.
      lag_now: how overdue the loop-lag ticker is at ``now`` (0 if not).
      max_recent_lag: the largest loop lag recorded over the lag window.
      shard: ``(index, count)`` when sharded.
    """

    now: float
    started: bool
    targets: Sequence[TargetHealth]
    lag_now: float = 0.0
    max_recent_lag: float = 0.0
    shard: tuple[int, int] | None = None


def liveness(snap: HealthSnapshot, max_lag: float = DEFAULT_MAX_LAG) -> tuple[bool, dict[str, Any]]:
    """``(alive, JSON body)`` for ``/livez``."""
    lag = max(snap.lag_now, snap.max_recent_lag)
    alive = lag <= max_lag
    body: dict[str, Any] = {
        "status": "alive" if alive else "stalled",
        "loop_lag_s": round(lag, 6),
        "max_lag_s": max_lag,
    }
    if not alive:
        body["reason"] = f"event-loop lag {lag:.3f} s above the {max_lag:g} s bound"
    return alive, body


def _target_status(t: TargetHealth) -> tuple[bool, dict[str, Any]]:
    entry: dict[str, Any] = {"state": t.state, "ever_connected": t.ever_connected}
    if t.backoff_reason is not None:
        last = t.backoff_reason + (f" ({t.backoff_error})" if t.backoff_error else "")
        entry["last_backoff"] = last
    if t.retry_in is not None:
        entry["retry_in_s"] = round(max(0.0, t.retry_in), 3)
    ok: bool
    if t.state in _CONNECTED_STATES:
        ok = True
    elif t.state in ("stopped", "auth_refused"):
        ok = False
        entry["reason"] = "stopped: " + (t.failure or t.state)
    elif not t.ever_connected:
        ok = False
        if t.backoff_reason is None:
            entry["reason"] = "first connection attempt in progress"
        else:
            entry["reason"] = "never connected; last attempt failed: " + entry["last_backoff"]
    else:
        ok = True  # back-off / reconnection after an outage of a target that worked
    entry["ready"] = ok
    return ok, entry


def readiness(snap: HealthSnapshot) -> tuple[bool, dict[str, Any]]:
    """``(ready, JSON body)`` for ``/readyz``: one entry per target (see the module)."""
    if not snap.started:
        return False, {"status": "starting", "reason": "the monitor is starting", "targets": {}}
    targets: dict[str, Any] = {}
    not_ready: list[str] = []
    for t in snap.targets:
        ok, entry = _target_status(t)
        targets[t.id] = entry
        if not ok:
            not_ready.append(t.id)
    body: dict[str, Any] = {"status": "ready" if not not_ready else "not_ready"}
    if snap.shard is not None:
        body["shard"] = f"{snap.shard[0]}/{snap.shard[1]}"
    if not_ready:
        noun = "target is" if len(not_ready) == 1 else "targets are"
        body["reason"] = f"{len(not_ready)} {noun} not ready: " + ", ".join(
            f"{tid} ({targets[tid]['reason']})" for tid in not_ready[:10]
        )
    body["targets"] = targets
    return not not_ready, body
