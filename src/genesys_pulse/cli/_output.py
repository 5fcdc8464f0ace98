"""Output of ``genesys-pulse run``: JSON lines, or a live terminal dashboard.

Both are monitor :class:`~genesys_pulse.monitor.Sink` objects (or read the
running :class:`~genesys_pulse.monitor.Monitor`) and never write on the
probing path: records are formatted into a bounded buffer and a writer task
hands the text to a worker thread, so a slow or blocked stdout pipe never
delays a probe. A closed pipe (``BrokenPipeError``) stops the output and asks
the run to end cleanly.

JSON lines (one object per line):

* ``{"type":"sample","target":..,"probe":"control"|"application"|"heartbeat",
  "rtt_s":float|null,"timed_out":bool,"at":ISO-8601,"jitter_s":float|null,
  "local_stall":bool,"seq":int,"gap_s":float|null,"timeout_reason":str|null,
  "late":bool,"late_rtt_s":float|null}``. A line with ``"late":true`` is the
  late answer of slot ``seq``, already reported as a timed-out sample: not a
  new slot; ``late_rtt_s`` is the pong's true RTT (see docs/telemetry.md).
* ``{"type":"event","target":..,"name":..,"at":ISO-8601,"attributes":{..}}``
  (``target`` is ``"*"`` for monitor-wide events)
* a final ``{"type":"summary","at":..,"duration_s":..,"targets":{id:{probe:{..}}},..}``
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import trio

from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.monitor import Monitor

__all__ = ["Dashboard", "JsonLines", "OutputClosed", "iso", "sparkline"]

_MAX_BUFFER = 200_000
"""Lines held while stdout is blocked; beyond this the oldest are dropped (counted)."""


class OutputClosed(Exception):
    """stdout was closed by the reader (``BrokenPipeError``)."""


def iso(at: float) -> str:
    """ISO-8601 UTC with microseconds and a ``Z``, e.g. ``2026-11-28T03:14:39.123456Z``."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _num(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


class _Writer:
    """Bounded line buffer drained to a text stream from a worker thread."""

    def __init__(self, stream: TextIO, on_closed: Callable[[], None]) -> None:
        self._stream = stream
        self._buf: deque[str] = deque()
        self._wakeup = trio.Event()
        self._on_closed = on_closed
        self.closed = False
        self.dropped = 0

    def put(self, line: str) -> None:
        if self.closed:
            return
        if len(self._buf) >= _MAX_BUFFER:
            self._buf.popleft()
            self.dropped += 1
        self._buf.append(line)
        self._wakeup.set()

    def _write(self, lines: list[str]) -> bool:
        try:
            self._stream.write("".join(lines))
            self._stream.flush()
        except BrokenPipeError:
            _silence_stdout()
            return False
        except ValueError:  # stream closed
            return False
        return True

    async def flush(self) -> None:
        """Write everything buffered (in a worker thread)."""
        while self._buf and not self.closed:
            lines = list(self._buf)
            self._buf.clear()
            ok = await trio.to_thread.run_sync(self._write, lines, abandon_on_cancel=True)
            if not ok:
                self.closed = True
                self._on_closed()

    async def run(self, period: float = 0.05) -> None:
        """Flush whenever there is something to write, at most every ``period`` s."""
        while not self.closed:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            await self.flush()
            await trio.sleep(period)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at devnull so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class JsonLines:
    """Sink writing one JSON object per sample and event (see the module docstring).

    Args:
      stream: where to write (stdout).
      on_closed: called once if the stream's reader went away.
    """

    def __init__(self, stream: TextIO, on_closed: Callable[[], None]) -> None:
        self.writer = _Writer(stream, on_closed)
        self._dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode

    def on_sample(self, sample: Sample) -> None:
        """Format one sample line."""
        self.writer.put(
            self._dumps(
                {
                    "type": "sample",
                    "target": sample.target,
                    "probe": sample.probe.value,
                    "rtt_s": sample.rtt_s,
                    "timed_out": sample.timed_out,
                    "at": iso(sample.at),
                    "jitter_s": sample.jitter_s,
                    "local_stall": sample.local_stall,
                    "seq": sample.seq,
                    "gap_s": sample.gap_s,
                    "timeout_reason": sample.timeout_reason,
                    "late": sample.late,
                    "late_rtt_s": sample.late_rtt_s,
                }
            )
            + "\n"
        )

    def on_event(self, event: Event) -> None:
        """Format one event line."""
        attrs = {
            k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in event.attributes.items()
        }
        self.writer.put(
            self._dumps(
                {
                    "type": "event",
                    "target": event.target,
                    "name": event.name,
                    "at": iso(event.at),
                    "attributes": attrs,
                }
            )
            + "\n"
        )

    def summary(self, summary: dict[str, Any]) -> None:
        """Format the final summary line."""
        self.writer.put(
            json.dumps({"type": "summary", **summary}, default=str, separators=(",", ":")) + "\n"
        )


# ---------------------------------------------------------------------------
# live dashboard

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int = 30) -> str:
    """Recent RTTs as block characters (oldest left); ``x`` marks a timeout."""
    vals = values[-width:]
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


def _ms(x: float | None) -> str:
    return "    -" if x is None or not math.isfinite(x) else f"{x * 1000:5.1f}"


_LEVEL_COLOUR = {"ok": "\x1b[32m", "warning": "\x1b[33m", "critical": "\x1b[31m"}


class Dashboard:
    """A live, in-place ANSI dashboard over a running monitor.

    It is also a sink, but only keeps the last few events to show them.
    """

    def __init__(self, stream: TextIO, on_closed: Callable[[], None]) -> None:
        self._stream = stream
        self.writer = _Writer(stream, on_closed)
        self._events: deque[Event] = deque(maxlen=6)
        self.monitor: Monitor | None = None
        self.frames = 0

    def on_sample(self, sample: Sample) -> None:
        """Samples are read from the monitor's statistics instead."""

    def on_event(self, event: Event) -> None:
        """Remember the latest events (windows are not shown)."""
        if event.name not in ("window", "monitor.started"):
            self._events.append(event)

    def render(self, now_wall: float) -> str:
        """One frame of the dashboard."""
        mon = self.monitor
        cols, rows = shutil.get_terminal_size((120, 40))
        lines = [
            f"\x1b[1mgenesys-pulse\x1b[0m  {iso(now_wall)[:19]}Z  (Ctrl-C to stop; RTT in ms)",
            f"{'target':<20} {'probe':<11} {'p50':>5} {'p95':>5} {'p99':>5}  "
            f"{'recent':<30} {'jit':>5} {'t/o':>5} {'stab':>6}  {'state':<9} connection",
        ]
        shown = 0
        budget = max(4, rows - 12)
        if mon is not None:
            for tid, probe in mon.targets.items():
                levels = probe.levels()
                for kind in (*probe.kinds, ProbeKind.HEARTBEAT):
                    if shown >= budget:
                        break
                    st = probe.state[kind].stats
                    worst = "ok"
                    for key, lvl in levels.items():
                        if key.startswith(kind.value + ".") and (
                            lvl == "critical" or (lvl == "warning" and worst == "ok")
                        ):
                            worst = lvl
                    colour = _LEVEL_COLOUR[worst]
                    if kind is ProbeKind.HEARTBEAT:
                        h = st.all_time
                        spark = ""
                        p50 = h.quantile(0.5) if h.count else None
                        p95 = h.quantile(0.95) if h.count else None
                        p99 = h.max if h.count else None
                        jit = None
                        stab = "     -"
                    else:
                        w = st.window
                        p50, p95, p99 = w.quantile(0.5), w.quantile(0.95), w.quantile(0.99)
                        spark = sparkline(w.values())
                        jit = st.jitter.rfc3550_or_none()
                        s = st.stability()
                        stab = "     -" if s is None else f"{s * 100:5.1f}%"
                    name = tid if kind is probe.kinds[0] or not probe.kinds else ""
                    conn = probe.connection_state if name else ""
                    lines.append(
                        f"{name[:20]:<20} {kind.value:<11} {_ms(p50)} {_ms(p95)} {_ms(p99)}  "
                        f"{spark:<30} {_ms(jit)} {st.timeouts:>5} {stab}  "
                        f"{colour}{worst:<9}\x1b[0m {conn}"
                    )
                    shown += 1
            hidden = sum(len(p.kinds) + 1 for p in mon.targets.values()) - shown
            if hidden > 0:
                lines.append(f"... {hidden} more rows (use --output jsonl for everything)")
        lines.append("")
        lines.append("recent events:")
        for ev in list(self._events):
            attrs = " ".join(f"{k}={v}" for k, v in list(ev.attributes.items())[:5])
            lines.append(f"  {iso(ev.at)[11:19]} {ev.target[:20]} {ev.name} {attrs}"[:cols])
        body = "".join(line[: cols + 20] + "\x1b[K\n" for line in lines)
        return "\x1b[H" + body + "\x1b[J"

    async def run(self, period: float = 0.5) -> None:
        """Redraw in place every ``period`` seconds (at least once a second)."""
        import time

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
