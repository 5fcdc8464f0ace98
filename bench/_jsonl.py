"""The CLI's JSONL output as a benchmark sink (``--jsonl PATH``), writer thread included.

:class:`genesys_pulse.cli._output.JsonLines` formats each sample and event on
the event loop and hands the lines to a writer task that writes them from a
worker thread, as ``genesys-pulse run --output jsonl`` does. The writer is
started as a trio system task on the first record, so the sink can be added to
any arm (and to a baseline's arms, see ``_baseline_arm.py``) without touching
how that arm starts the monitor.
"""

from __future__ import annotations

from typing import Any

import trio


class _Started:
    """Forwards to a JsonLines sink; starts its writer on the first record."""

    def __init__(self, path: str) -> None:
        from genesys_pulse.cli._output import JsonLines

        self._file = open(path, "w")
        self._sink = JsonLines(self._file, lambda: None)
        self._started = False

    def _start(self) -> None:
        self._started = True
        trio.lowlevel.spawn_system_task(self._sink.writer.run)

    def on_sample(self, sample: Any) -> None:
        if not self._started:
            self._start()
        self._sink.on_sample(sample)

    def on_event(self, event: Any) -> None:
        if not self._started:
            self._start()
        self._sink.on_event(event)


def jsonl_sink(path: str) -> Any:
    """A sink writing the CLI's JSONL lines to ``path``."""
    return _Started(path)
