"""Output of ``genesys-pulse run``: JSON lines (the live dashboard is in ``_dashboard``).

Both are monitor :class:`~genesys_pulse.monitor.Sink` objects (or read the
running :class:`~genesys_pulse.monitor.Monitor`) and never write on the
probing path: records are formatted into a bounded buffer and a writer task
hands the text to a worker thread, so a slow or blocked stdout pipe never
delays a probe. A closed pipe (``BrokenPipeError``) stops the output and asks
the run to end cleanly.

JSON lines (one object per line):

* ``{"type":"sample","target":..,"probe":"control"|"application"|"heartbeat",
  "rtt_s":float|null,"timed_out":bool,"at":ISO-8601,"jitter_s":float|null,
  "local_stall":bool,"seq":int,"gap_s":float|null}``
* ``{"type":"event","target":..,"name":..,"at":ISO-8601,"attributes":{..}}``
  (``target`` is ``"*"`` for monitor-wide events)
* a final ``{"type":"summary","at":..,"duration_s":..,"targets":{id:{probe:{..}}},..}``
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

import trio

from genesys_pulse.core.model import Event, Sample

__all__ = ["JsonLines", "OutputClosed", "iso"]

_MAX_BUFFER = 200_000
"""Lines held while stdout is blocked; beyond this the oldest are dropped (counted)."""


class OutputClosed(Exception):
    """stdout was closed by the reader (``BrokenPipeError``)."""


def iso(at: float) -> str:
    """ISO-8601 UTC with microseconds and a ``Z``, e.g. ``2026-11-28T03:14:39.123456Z``."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


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
