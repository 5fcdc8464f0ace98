"""The live terminal dashboard of ``genesys-pulse run`` and its final summary.

Each frame is drawn from one immutable
:class:`~genesys_pulse.monitor.MonitorSnapshot` (``take_snapshot``), taken
once per frame and turned into a :class:`Row` per target and probe kind, so
the drawing code never reaches into the monitor's live statistics. The
layout follows the terminal's width: columns are dropped in a fixed order
(p95, jitter, the sparkline, p99, stability) until a row fits, and the
threshold state and the connection are never dropped, so an 80-column
terminal still shows what matters.

On exit (Ctrl-C, SIGTERM, ``--duration``) the dashboard prints a plain-text
summary of the whole run below the last frame, so the figures stay on the
screen after the live view is gone.
"""

from __future__ import annotations

import math
import shutil
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import trio

from genesys_pulse.core import Event, ProbeKind
from genesys_pulse.monitor import Monitor, MonitorSnapshot, take_snapshot

from ._output import _Writer, iso

__all__ = [
    "Dashboard",
    "Row",
    "format_value",
    "rows_of",
    "sparkline",
    "summary_text",
    "worst_level",
]

_BLOCKS = "▁▂▃▄▅▆▇█"
_LEVEL_COLOUR = {"ok": "\x1b[32m", "warning": "\x1b[33m", "critical": "\x1b[31m"}
_RESET = "\x1b[0m"
_SHORT = {"control": "ctrl", "application": "app", "heartbeat": "hb"}
_SPARK = 30
"""The widest sparkline (slots)."""


def sparkline(values: Sequence[float | None], width: int = _SPARK) -> str:
    """Recent RTTs as block characters (oldest left); ``x`` marks a timeout."""
    if width <= 0:
        return ""
    vals = list(values)[-width:]
    answered = [v for v in vals if v is not None]
    if not answered:
        return "x" * len(vals)
    lo, hi = min(answered), max(answered)
    span = hi - lo
    out = []
    for v in vals:
        if v is None:
            out.append("x")
        elif span <= 0:
            out.append(_BLOCKS[0])
        else:
            out.append(_BLOCKS[min(len(_BLOCKS) - 1, int((v - lo) / span * len(_BLOCKS)))])
    return "".join(out)


def format_value(value: object) -> str:
    """An attribute value for a human: floats rounded to at most 3 decimals, no float noise."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def _ms(x: float | None, width: int = 5) -> str:
    if x is None or not math.isfinite(x):
        return "-".rjust(width)
    return f"{x * 1000:{width}.1f}"


def worst_level(levels: Mapping[str, str], probe: str) -> str:
    """The worst of ``levels`` (``"<probe>.<metric>" -> level``) for one probe kind."""
    worst = "ok"
    for key, lvl in levels.items():
        if key.startswith(probe + ".") and (
            lvl == "critical" or (lvl == "warning" and worst == "ok")
        ):
            worst = lvl
    return worst


@dataclass(frozen=True, slots=True)
class Row:
    """What one dashboard row shows: one probe kind of one target, at one moment."""

    target: str
    probe: str
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    recent: tuple[float | None, ...]
    jitter_s: float | None
    timeouts: int
    stability: float | None
    level: str
    connection: str
    first_of_target: bool


def rows_of(snap: MonitorSnapshot, limit: int) -> tuple[list[Row], int]:
    """At most *limit* rows of a monitor snapshot, and how many were left out.

    Control and application rows show the sliding window (p50, p95, p99, the
    sparkline, RFC 3550 jitter, stability); the heartbeat row shows the whole
    run's gaps (p50, p95, and the largest gap in the p99 column).
    """
    rows: list[Row] = []
    for target in snap.targets:
        for i, k in enumerate(target.kinds):
            if len(rows) >= limit:
                break
            if k.kind is ProbeKind.HEARTBEAT:
                p50, p95, p99 = k.all_time_p50_s, k.all_time_p95_s, k.all_time_max_s
            else:
                p50, p95, p99 = k.window_p50_s, k.window_p95_s, k.window_p99_s
            rows.append(
                Row(
                    target=target.id,
                    probe=k.kind.value,
                    p50_s=p50,
                    p95_s=p95,
                    p99_s=p99,
                    recent=k.recent,
                    jitter_s=k.jitter_s,
                    timeouts=k.timeouts,
                    stability=k.stability,
                    level=k.level,
                    connection=target.connection,
                    first_of_target=i == 0,
                )
            )
    return rows, snap.total_kinds - len(rows)


@dataclass(frozen=True, slots=True)
class _Layout:
    target: int
    probe: int
    columns: tuple[str, ...]
    spark: int

    def header(self) -> str:
        cells = [f"{'target':<{self.target}}", f"{'probe':<{self.probe}}"]
        for col in self.columns:
            cells.append(_HEADERS[col](self))
        return " ".join(cells)

    def line(self, row: Row, colour: bool) -> str:
        name = row.target[: self.target] if row.first_of_target else ""
        probe = row.probe if self.probe >= 11 else _SHORT.get(row.probe, row.probe)
        cells = [f"{name:<{self.target}}", f"{probe:<{self.probe}}"]
        for col in self.columns:
            cells.append(_CELLS[col](self, row, colour))
        return " ".join(cells)


def _stab(row: Row) -> str:
    return "-".rjust(6) if row.stability is None else f"{row.stability * 100:5.1f}%"


def _state(row: Row, colour: bool) -> str:
    text = f"{row.level:<8}"
    return f"{_LEVEL_COLOUR[row.level]}{text}{_RESET}" if colour else text


_HEADERS: dict[str, Callable[[_Layout], str]] = {
    "p50": lambda lay: f"{'p50':>5}",
    "p95": lambda lay: f"{'p95':>5}",
    "p99": lambda lay: f"{'p99':>5}",
    "recent": lambda lay: f"{'recent':<{lay.spark}}",
    "jit": lambda lay: f"{'jit':>5}",
    "t/o": lambda lay: f"{'t/o':>5}",
    "stab": lambda lay: f"{'stab':>6}",
    "state": lambda lay: f"{'state':<8}",
    "connection": lambda lay: "connection",
}
_CELLS: dict[str, Callable[[_Layout, Row, bool], str]] = {
    "p50": lambda lay, r, c: _ms(r.p50_s),
    "p95": lambda lay, r, c: _ms(r.p95_s),
    "p99": lambda lay, r, c: _ms(r.p99_s),
    "recent": lambda lay, r, c: f"{sparkline(r.recent, lay.spark):<{lay.spark}}",
    "jit": lambda lay, r, c: _ms(r.jitter_s),
    "t/o": lambda lay, r, c: f"{r.timeouts:>5}",
    "stab": lambda lay, r, c: _stab(r),
    "state": lambda lay, r, c: _state(r, c),
    "connection": lambda lay, r, c: r.connection if r.first_of_target else "",
}
_WIDTH = {"p50": 5, "p95": 5, "p99": 5, "jit": 5, "t/o": 5, "stab": 6, "state": 8}
_ALL = ("p50", "p95", "p99", "recent", "jit", "t/o", "stab", "state", "connection")
_DROP_ORDER = ("p95", "jit", "recent", "p99", "stab")
_CONNECTION = 12  # "auth_refused", the longest connection state


def layout(width: int, longest_target: int) -> _Layout:
    """The columns that fit *width* characters (state and connection always stay)."""
    wide = width >= 118
    target = max(8, min(20, longest_target)) if wide else max(8, min(14, longest_target))
    probe = 11 if wide else 4
    columns = list(_ALL)
    while True:
        fixed = target + 1 + probe + sum(_WIDTH.get(c, 0) + 1 for c in columns)
        fixed += _CONNECTION
        room = width - fixed - (1 if "recent" in columns else 0)
        if "recent" in columns and room >= 8:
            return _Layout(target, probe, tuple(columns), min(_SPARK, room))
        if "recent" not in columns and room >= 0:
            return _Layout(target, probe, tuple(columns), 0)
        droppable = [c for c in _DROP_ORDER if c in columns]
        if not droppable:
            return _Layout(target, probe, tuple(columns), 0)
        columns.remove(droppable[0])


def render_frame(
    rows: Sequence[Row],
    hidden: int,
    events: Sequence[Event],
    now_wall: float,
    width: int,
    colour: bool = True,
) -> list[str]:
    """The lines of one frame (without the in-place control sequences)."""
    lay = layout(width, max((len(r.target) for r in rows), default=8))
    bold = ("\x1b[1m", _RESET) if colour else ("", "")
    title = f"  {iso(now_wall)[:19]}Z  (Ctrl-C to stop; RTT in ms)"
    if len("genesys-pulse" + title) > width:
        title = f"  {iso(now_wall)[:19]}Z"
    lines = [f"{bold[0]}genesys-pulse{bold[1]}{title}", lay.header()]
    lines += [lay.line(r, colour) for r in rows]
    if hidden > 0:
        lines.append(f"... {hidden} more rows (use --output jsonl for everything)")
    lines.append("")
    lines.append("recent events:")
    for ev in events:
        attrs = " ".join(f"{k}={format_value(v)}" for k, v in list(ev.attributes.items())[:5])
        lines.append(f"  {iso(ev.at)[11:19]} {ev.target[:20]} {ev.name} {attrs}"[:width])
    return lines


class Dashboard:
    """A live, in-place ANSI dashboard over a running monitor.

    It is also a sink, but only keeps the last few events to show them.

    Args:
      stream: the terminal.
      on_closed: called once if the terminal went away (closed pipe).
      width: columns to lay out for (default: the terminal's width, read each frame).
    """

    def __init__(
        self, stream: TextIO, on_closed: Callable[[], None], width: int | None = None
    ) -> None:
        self._stream = stream
        self.writer = _Writer(stream, on_closed)
        self._events: deque[Event] = deque(maxlen=6)
        self.monitor: Monitor | None = None
        self.frames = 0
        self.width = width

    def on_sample(self, sample: object) -> None:
        """Samples are read from the monitor's statistics instead."""

    def on_event(self, event: Event) -> None:
        """Remember the latest events (windows are not shown)."""
        if event.name not in ("window", "monitor.started", "genesys.connect.phase"):
            self._events.append(event)

    def _size(self) -> tuple[int, int]:
        cols, rows = shutil.get_terminal_size((120, 40))
        return (self.width or cols), rows

    def render(self, now_wall: float) -> str:
        """One frame of the dashboard, drawn in place."""
        cols, term_rows = self._size()
        rows: list[Row] = []
        hidden = 0
        if self.monitor is not None:
            limit = max(4, term_rows - 12)
            # every target has at least one row: no more than `limit` targets can show
            snap = take_snapshot(self.monitor, max_targets=limit, recent=_SPARK)
            rows, hidden = rows_of(snap, limit)
        lines = render_frame(rows, hidden, list(self._events), now_wall, cols)
        body = "".join(line + "\x1b[K\n" for line in lines)
        return "\x1b[H" + body + "\x1b[J"

    def summary(self, summary: Mapping[str, Any]) -> None:
        """Print the run's summary below the last frame (plain text)."""
        cols, _ = self._size()
        self.writer.put("\n" + summary_text(summary, cols) + "\n")

    async def run(self, period: float = 0.5) -> None:
        """Redraw in place every ``period`` seconds (at least once a second)."""
        self.writer.put("\x1b[?25l\x1b[2J")
        try:
            while not self.writer.closed:
                self.writer.put(self.render(time.time()))
                self.frames += 1
                await self.writer.flush()
                await trio.sleep(period)
        finally:
            with trio.CancelScope(shield=True):
                self.writer.put("\x1b[?25h")
                with trio.move_on_after(0.5):
                    await self.writer.flush()


def _num(d: Mapping[str, Any], key: str) -> float | None:
    v = d.get(key)
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def summary_text(summary: Mapping[str, Any], width: int = 80) -> str:
    """The final summary of a run as a small table that fits *width* (>= 78) columns.

    RTT and gap figures in ms (RTT percentiles include late answers); ``t/o``
    counts timed-out probes, ``late`` the answers that came after their
    timeout; ``stab`` is the stability of the last window; ``level`` the worst
    threshold level at the end.
    """
    targets: Mapping[str, Any] = summary.get("targets") or {}
    duration = _num(summary, "duration_s")
    head = f"genesys-pulse summary: {len(targets)} target(s)"
    if duration is not None:
        head += f", {format_value(duration)} s"
    name_w = max(8, min(14 if width < 100 else 24, max((len(t) for t in targets), default=8)))
    lines = [
        head,
        f"{'target':<{name_w}} {'probe':<5} {'count':>6} {'t/o':>5} {'late':>5} "
        f"{'p50':>7} {'p99':>7} {'max':>7} {'stab':>6}  level",
    ]
    for tid, entry in targets.items():
        levels: Mapping[str, str] = entry.get("levels") or {}
        first = True
        for probe in ("control", "application", "heartbeat"):
            s = entry.get(probe)
            if not isinstance(s, Mapping):
                continue
            worst = worst_level(levels, probe)
            if probe == "heartbeat":
                p50, p99, mx = _num(s, "gap_p50_s"), None, _num(s, "gap_max_s")
                stab = None
                late = "-"
            else:
                p50, p99, mx = _num(s, "rtt_p50_s"), _num(s, "rtt_p99_s"), _num(s, "rtt_max_s")
                stab = _num(s, "stability")
                late = str(s.get("late", 0))
            count = s.get("count", 0)
            timeouts = s.get("timeouts", 0)
            name = tid[:name_w] if first else ""
            first = False
            lines.append(
                f"{name:<{name_w}} {_SHORT[probe]:<5} {count:>6} {timeouts:>5} {late:>5} "
                f"{_ms(p50, 7)} {_ms(p99, 7)} {_ms(mx, 7)} "
                f"{'-'.rjust(6) if stab is None else f'{stab * 100:5.1f}%'}  {worst}"
            )
        conn = entry.get("connection")
        if conn:
            lines.append(f"{'':<{name_w}} connection at the end: {conn}")
    failed = summary.get("failed") or {}
    for tid, why in dict(failed).items():
        lines.append(f"failed: {tid}: {why}"[:width])
    lines.append("ms; RTTs include late answers; heartbeat: gap p50 and max. JSON: --output jsonl")
    return "\n".join(line[:width] for line in lines)
