"""Deterministic JSON-lines runs and journals for the report tests, with their expected counts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

BASE = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)
TARGET = "gc-euw1-prod"


def _at(seconds: float) -> str:
    return (
        (BASE + timedelta(seconds=seconds))
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


@dataclass(frozen=True)
class Expected:
    answered: dict[str, int]
    timeouts: dict[str, int]
    late: dict[str, int]
    heartbeat_gaps: int
    reconnects: int
    rotations: int
    threshold_changes: int
    connection_changes: int
    table_events: int


def synthetic_run() -> tuple[str, Expected]:
    """A run with timeouts, late answers, heartbeat gaps, reconnects, a rotation, thresholds."""
    lines: list[dict[str, object]] = []
    answered = {"control": 0, "application": 0}
    timeouts = {"control": 0, "application": 0}
    late = {"control": 0, "application": 0}
    timeout_events = 0
    for i in range(60):
        for probe, every, offset in (("control", 17, 5), ("application", 29, 10)):
            timed_out = i % every == offset
            sample: dict[str, object] = {
                "type": "sample",
                "target": TARGET,
                "probe": probe,
                "rtt_s": None
                if timed_out
                else 0.040 + 0.002 * (i % 7) + (0.01 if probe == "application" else 0),
                "timed_out": timed_out,
                "at": _at(i + (0.1 if probe == "application" else 0)),
                "jitter_s": None,
                "local_stall": False,
                "seq": i,
                "gap_s": None,
            }
            if timed_out:
                timeouts[probe] += 1
                lines.append(sample)
                if probe == "control" and i < 30:
                    # The late answer: a second record for the same slot.
                    lines.append(
                        {**sample, "at": _at(i + 1.2), "late": True, "late_rtt_s": 1.2 + i / 100}
                    )
                    late[probe] += 1
                lines.append(
                    {
                        "type": "event",
                        "target": TARGET,
                        "name": "timeout",
                        "at": _at(i + 1),
                        "attributes": {"probe": probe},
                    }
                )
                timeout_events += 1
            else:
                answered[probe] += 1
                lines.append(sample)
    for k in range(20):
        lines.append(
            {
                "type": "sample",
                "target": TARGET,
                "probe": "heartbeat",
                "rtt_s": None,
                "timed_out": False,
                "at": _at(3 * k),
                "jitter_s": None,
                "local_stall": False,
                "seq": k,
                "gap_s": 3.0 + (0.5 if k == 12 else 0.0),
            }
        )
    events = [
        (12.5, "connection.lost", {"reason": "reset"}),
        (13.0, "reconnect", {"reason": "network", "attempt": 1}),
        (33.0, "threshold.breach", {"metric": "control.rtt", "level": "warning", "value": 1.2}),
        (41.0, "rotation", {"planned": True}),
        (44.0, "connection.lost", {"reason": "closed", "code": 1001}),
        (44.5, "reconnect", {"reason": "server_close", "attempt": 1}),
        (50.0, "threshold.clear", {"metric": "control.rtt", "level": "ok"}),
    ]
    for at, name, attrs in events:
        lines.append(
            {"type": "event", "target": TARGET, "name": name, "at": _at(at), "attributes": attrs}
        )
    for w in range(5):
        lines.append(
            {
                "type": "event",
                "target": TARGET,
                "name": "window",
                "at": _at(10 * w + 10),
                "attributes": {"p50_s": 0.04},
            }
        )
    lines.append({"type": "summary", "at": _at(61), "duration_s": 61.0, "targets": {}})
    lines.sort(key=lambda r: str(r.get("at")))
    text = "".join(json.dumps(r) + "\n" for r in lines)
    return text, Expected(
        answered=answered,
        timeouts=timeouts,
        late=late,
        heartbeat_gaps=20,
        reconnects=2,
        rotations=1,
        threshold_changes=2,
        connection_changes=2,
        table_events=len(events) + timeout_events,
    )


def synthetic_journal() -> tuple[str, int]:
    """An audit journal (events only); returns its text and the number of records."""
    records = [
        ("journal.opened", "", {"previous_seq": 0, "torn_bytes": 0, "gap_possible": False}),
        ("monitor.started", "*", {}),
        ("connection.established", TARGET, {}),
        ("timeout", TARGET, {"probe": "control"}),
        ("timeout", TARGET, {"probe": "control"}),
        ("connection.lost", TARGET, {"reason": "reset"}),
        ("reconnect", TARGET, {"reason": "network"}),
        ("threshold.breach", TARGET, {"metric": "control.consecutive_timeouts"}),
        ("rotation", TARGET, {"planned": True}),
    ]
    text = "".join(
        json.dumps(
            {
                "seq": n + 1,
                "time": _at(5 * n),
                "at": (BASE + timedelta(seconds=5 * n)).timestamp(),
                "kind": kind,
                "event_name": f"genesys_pulse.{kind}",
                "severity": "INFO",
                "target": target,
                "attributes": attrs,
            }
        )
        + "\n"
        for n, (kind, target, attrs) in enumerate(records)
    )
    return text, len(records)
