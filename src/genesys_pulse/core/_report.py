"""The data behind ``genesys-pulse report``: records read from a run or a journal, and figures.

Pure: it takes text lines and returns plain data; reading files and drawing
the HTML are the CLI's job (:mod:`genesys_pulse.cli._report`).

Two inputs are understood, told apart per line:

* a JSON-lines run (``genesys-pulse run --output jsonl``): ``sample``,
  ``event`` and ``summary`` records. A sample with ``"late": true`` is the
  late answer (``late_rtt_s``, its true RTT) of a slot already reported as
  timed out: it is drawn as a late answer, not counted as another sample or
  timeout. A timed-out sample that carries ``late_rtt_s`` itself is read the
  same way;
* the audit journal (``docs/journal.md``): records with ``seq`` and ``kind``.
  The journal holds events only (no samples), so a report of it has no RTT
  curves, only the event markers and the events table.

Every figure says which definition it uses (the monitor's, see
``docs/measurement.md``):

* RTT percentiles: nearest-rank over the answered RTTs of the whole input
  (:func:`~genesys_pulse.core._window.nearest_rank`); "with late answers"
  adds the RTTs of answers that arrived after the deadline, which a timeout
  otherwise hides.
* Jitter: IPDV (RFC 3393 applied to RTTs, ``|RTT_k - RTT_(k-1)|`` over
  consecutive answered probes; a timeout breaks the pair) mean and
  nearest-rank p95, and the RFC 3550 smoothed jitter at the end of the input,
  replayed in time order with :class:`~genesys_pulse.core._jitter.JitterTracker`.
* Heartbeat: the gaps between server heartbeats (``gap_s``), nearest-rank.

A line that is not valid JSON, not an object, or lacks a field a record
needs, is skipped and reported once with its line number and the cause.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._jitter import JitterTracker
from ._window import nearest_rank

__all__ = [
    "EventMark",
    "ProbeSeries",
    "ProbeSummary",
    "ReportData",
    "event_category",
    "parse_report_lines",
    "summarise",
]

#: Event names never drawn or tabled: periodic summaries and connect phases (the
#: connection events already mark the attempt), not happenings.
_HIDDEN_EVENTS = frozenset({"window", "genesys.connect.phase"})

#: Marker categories, in the order they are drawn (top to bottom).
CATEGORIES = (
    "timeout",
    "late answer",
    "reconnect",
    "connection",
    "rotation",
    "threshold",
    "token",
    "other",
)


def event_category(name: str) -> str:
    """The marker row an event name belongs to (namespaced names included)."""
    n = name.removeprefix("genesys_pulse.").removeprefix("genesys.")
    if "threshold" in n:
        return "threshold"
    if "rotation" in n:
        return "rotation"
    if "reconnect" in n:
        return "reconnect"
    if n.startswith("connection.") or n in {"socket_closing", "channel.expired"}:
        return "connection"
    if "timeout" in n:
        return "timeout"
    if n.startswith("token."):
        return "token"
    return "other"


@dataclass
class ProbeSeries:
    """The samples of one (target, probe type), in input order."""

    target: str
    probe: str
    at: list[str] = field(default_factory=list)
    """ISO-8601 times of answered samples."""
    rtt_s: list[float] = field(default_factory=list)
    timeout_at: list[str] = field(default_factory=list)
    late_at: list[str] = field(default_factory=list)
    late_rtt_s: list[float] = field(default_factory=list)
    gap_at: list[str] = field(default_factory=list)
    gap_s: list[float] = field(default_factory=list)
    outcomes: list[float | None] = field(default_factory=list)
    """Every probe outcome in order (``None`` = timeout), for the jitter replay."""


@dataclass(frozen=True)
class EventMark:
    """One event to mark on the time axis and list in the table."""

    at: str
    target: str
    name: str
    category: str
    attributes: Mapping[str, Any]


@dataclass
class ReportData:
    """Everything read from the input."""

    source_kind: str = "empty"
    """``"run"``, ``"journal"``, ``"mixed"`` or ``"empty"``."""
    series: dict[tuple[str, str], ProbeSeries] = field(default_factory=dict)
    events: list[EventMark] = field(default_factory=list)
    summary: Mapping[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    """One line per skipped input line: ``line N: cause``."""
    lines_read: int = 0


@dataclass(frozen=True)
class ProbeSummary:
    """The figures of one (target, probe type); seconds, ``None`` when undefined."""

    target: str
    probe: str
    samples: int
    answered: int
    timeouts: int
    late: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    p95_with_late: float | None
    p99_with_late: float | None
    ipdv_mean: float | None
    ipdv_p95: float | None
    rfc3550: float | None
    gap_p50: float | None
    gap_max: float | None


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _valid_time(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


def _series(data: ReportData, target: str, probe: str) -> ProbeSeries:
    key = (target, probe)
    s = data.series.get(key)
    if s is None:
        s = data.series[key] = ProbeSeries(target, probe)
    return s


def _add_sample(data: ReportData, rec: Mapping[str, Any], where: str) -> None:
    target, probe = rec.get("target"), rec.get("probe")
    at = _valid_time(rec.get("at"))
    if not isinstance(target, str) or not isinstance(probe, str):
        data.problems.append(f"{where}: sample without a string 'target' and 'probe'; skipped")
        return
    if at is None:
        data.problems.append(f"{where}: sample 'at' is not an ISO-8601 time; skipped")
        return
    s = _series(data, target, probe)
    gap = _finite(rec.get("gap_s"))
    if gap is not None:
        s.gap_at.append(at)
        s.gap_s.append(gap)
    rtt = _finite(rec.get("rtt_s"))
    late = _finite(rec.get("late_rtt_s"))
    if rec.get("late") is True:
        # The late answer of a slot already reported as timed out: not a new
        # slot, not another timeout.
        if late is None:
            data.problems.append(f"{where}: late sample without a numeric 'late_rtt_s'; skipped")
            return
        s.late_at.append(at)
        s.late_rtt_s.append(late)
    elif rec.get("timed_out") is True:
        s.timeout_at.append(at)
        s.outcomes.append(None)
        if late is not None:  # a timed-out sample that carries its late RTT itself
            s.late_at.append(at)
            s.late_rtt_s.append(late)
    elif rtt is not None:
        s.at.append(at)
        s.rtt_s.append(rtt)
        s.outcomes.append(rtt)


def _add_event(
    data: ReportData, target: Any, name: Any, at_value: Any, attrs: Any, where: str
) -> None:
    at = _valid_time(at_value)
    if not isinstance(name, str) or not name:
        data.problems.append(f"{where}: event without a 'name'/'kind'; skipped")
        return
    if at is None:
        data.problems.append(f"{where}: event {name!r} has no ISO-8601 time; skipped")
        return
    if name in _HIDDEN_EVENTS:
        return
    data.events.append(
        EventMark(
            at=at,
            target=target if isinstance(target, str) else "",
            name=name,
            category=event_category(name),
            attributes=attrs if isinstance(attrs, Mapping) else {},
        )
    )


def parse_report_lines(lines: Iterable[str]) -> ReportData:
    """Read a JSON-lines run or an audit journal (or both, concatenated)."""
    data = ReportData()
    kinds: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        data.lines_read = number
        line = raw.strip()
        if not line:
            continue
        where = f"line {number}"
        try:
            rec = json.loads(line)
        except ValueError as exc:
            data.problems.append(f"{where}: not JSON ({exc.args[0] if exc.args else exc}); skipped")
            continue
        if not isinstance(rec, dict):
            data.problems.append(f"{where}: not a JSON object; skipped")
            continue
        rtype = rec.get("type")
        if rtype == "sample":
            kinds.add("run")
            _add_sample(data, rec, where)
        elif rtype == "event":
            kinds.add("run")
            _add_event(
                data,
                rec.get("target"),
                rec.get("name"),
                rec.get("at"),
                rec.get("attributes"),
                where,
            )
        elif rtype == "summary":
            kinds.add("run")
            data.summary = rec
        elif "seq" in rec and "kind" in rec:
            kinds.add("journal")
            _add_event(
                data,
                rec.get("target"),
                rec.get("kind"),
                rec.get("time"),
                rec.get("attributes"),
                where,
            )
        else:
            data.problems.append(
                f"{where}: neither a run record (type sample/event/summary) "
                "nor a journal record (seq, kind); skipped"
            )
    if kinds:
        data.source_kind = kinds.pop() if len(kinds) == 1 else "mixed"
    return data


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def summarise(data: ReportData) -> list[ProbeSummary]:
    """Per (target, probe type) figures, sorted by target then probe."""
    out: list[ProbeSummary] = []
    for (target, probe), s in sorted(data.series.items()):
        answered = sorted(s.rtt_s)
        with_late = sorted(s.rtt_s + s.late_rtt_s)
        tracker = JitterTracker()
        ipdvs: list[float] = []
        for outcome in s.outcomes:
            d = tracker.add(outcome)
            if d is not None:
                ipdvs.append(d)
        ipdvs.sort()
        gaps = sorted(s.gap_s)
        out.append(
            ProbeSummary(
                target=target,
                probe=probe,
                samples=len(s.outcomes) + (len(s.gap_s) if not s.outcomes else 0),
                answered=len(answered),
                timeouts=len(s.timeout_at),
                late=len(s.late_rtt_s),
                p50=nearest_rank(answered, 0.5),
                p95=nearest_rank(answered, 0.95),
                p99=nearest_rank(answered, 0.99),
                max=answered[-1] if answered else None,
                p95_with_late=nearest_rank(with_late, 0.95),
                p99_with_late=nearest_rank(with_late, 0.99),
                ipdv_mean=_mean(ipdvs),
                ipdv_p95=nearest_rank(ipdvs, 0.95),
                rfc3550=tracker.rfc3550 if ipdvs else None,
                gap_p50=nearest_rank(gaps, 0.5),
                gap_max=gaps[-1] if gaps else None,
            )
        )
    return out
