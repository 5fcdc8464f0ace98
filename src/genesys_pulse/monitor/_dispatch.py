"""Fan-out of samples and events: sinks inline, user callbacks isolated.

Two kinds of consumers receive what the monitor produces:

* **Sinks** (:class:`~genesys_pulse.core.Sink`, the protocol beside the
  typed event contract in ``core``) are called synchronously, on the probing path,
  because they are ours (JSON lines, dashboard, OpenTelemetry) and are built
  to be cheap. An exception from a sink is caught and counted; it never stops
  probing.
* **User callbacks** (``on_sample`` / ``on_event``, sync or async) are never
  called on the probing path. Each record is put in a bounded queue and a
  separate task delivers it. When the queue is full the **oldest** record is
  dropped (a monitor's callbacks want the freshest data) and the drop is
  counted. Sync callbacks run in a worker thread, in batches, so a callback
  that blocks (``time.sleep``, slow I/O) stalls only its own delivery, not the
  event loop; async callbacks run in the delivery task with a per-call time
  limit. Failures are counted and reported as ``callback.failed`` events (at
  most one per callback per :data:`FAILURE_REPORT_INTERVAL` seconds, with the
  running count), sent to the sinks and to ``on_event`` -- except that a
  failure of ``on_event`` while handling a ``callback.failed`` event is only
  counted, so a broken callback cannot feed itself.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import trio

from genesys_pulse.core import Sink
from genesys_pulse.core.model import AttrValue, Event, Sample

__all__ = [
    "FAILURE_REPORT_INTERVAL",
    "CallbackStats",
    "Dispatcher",
    "EventCallback",
    "SampleCallback",
    "Sink",
]

FAILURE_REPORT_INTERVAL = 1.0
"""Seconds between two ``callback.failed`` events for the same callback."""

MONITOR_TARGET = "*"
"""``Event.target`` of events that concern the whole monitor."""

SampleCallback: TypeAlias = Callable[[Sample], Awaitable[None] | None]
EventCallback: TypeAlias = Callable[[Event], Awaitable[None] | None]


@dataclass
class CallbackStats:
    """Counters of the dispatcher, for tests and the final summary."""

    sink_failures: int = 0
    sample_callback_failures: int = 0
    event_callback_failures: int = 0
    dropped: int = 0
    """Records dropped because the callback queue was full (oldest first)."""
    delivered: int = 0
    max_queue: int = 0
    """Largest queue length seen (bounded by the capacity)."""
    failures_by_source: dict[str, int] = field(default_factory=dict)


_Item: TypeAlias = Sample | Event


class Dispatcher:
    """Delivers samples and events to sinks (inline) and callbacks (isolated).

    Args:
      sinks: called synchronously for every record.
      on_sample: user callback for samples (sync or async), or ``None``.
      on_event: user callback for events (sync or async), or ``None``.
      capacity: bound of the callback queue.
      async_timeout: time limit of one async callback call, in seconds.
    """

    def __init__(
        self,
        sinks: Sequence[Sink] = (),
        *,
        on_sample: SampleCallback | None = None,
        on_event: EventCallback | None = None,
        capacity: int = 10_000,
        async_timeout: float = 5.0,
    ) -> None:
        self._sinks = tuple(sinks)
        self._on_sample = on_sample
        self._on_event = on_event
        self._capacity = capacity
        self._async_timeout = async_timeout
        self._queue: deque[_Item] = deque()
        self._wakeup = trio.Event()
        self._last_report: dict[str, float] = {}
        self._unreported: dict[str, int] = {}
        self._last_error: dict[str, str] = {}
        self.stats = CallbackStats()
        self._has_callbacks = on_sample is not None or on_event is not None

    @property
    def queue_length(self) -> int:
        """Records waiting for the callbacks."""
        return len(self._queue)

    @property
    def capacity(self) -> int:
        """Bound of the callback queue."""
        return self._capacity

    # -- producer side (probing path) -------------------------------------

    def sample(self, sample: Sample) -> None:
        """Deliver one sample: sinks now, callbacks later."""
        for sink in self._sinks:
            try:
                sink.on_sample(sample)
            except Exception as exc:
                self._sink_failed(sink, exc)
        if self._on_sample is not None:
            self._enqueue(sample)

    def event(self, event: Event) -> None:
        """Deliver one event: sinks now, callbacks later."""
        for sink in self._sinks:
            try:
                sink.on_event(event)
            except Exception as exc:
                self._sink_failed(sink, exc)
        if self._on_event is not None:
            self._enqueue(event)

    def _enqueue(self, item: _Item) -> None:
        q = self._queue
        if len(q) >= self._capacity:
            q.popleft()
            self.stats.dropped += 1
        q.append(item)
        if len(q) > self.stats.max_queue:
            self.stats.max_queue = len(q)
        self._wakeup.set()

    def _sink_failed(self, sink: Sink, exc: Exception) -> None:
        self.stats.sink_failures += 1
        self._failure(f"sink:{type(sink).__name__}", exc, skip=sink)

    def _failure(self, source: str, exc: BaseException, *, skip: Sink | None = None) -> None:
        """Count a failure; report it as ``callback.failed`` at a bounded rate."""
        by = self.stats.failures_by_source
        by[source] = by.get(source, 0) + 1
        self._unreported[source] = self._unreported.get(source, 0) + 1
        self._last_error[source] = type(exc).__name__
        now = trio.current_time()
        last = self._last_report.get(source)
        if last is not None and now - last < FAILURE_REPORT_INTERVAL:
            return
        self._last_report[source] = now
        self._failure_event(source, type(exc).__name__, skip=skip)

    def _failure_event(self, source: str, error: str, *, skip: Sink | None) -> None:
        by = self.stats.failures_by_source
        count = self._unreported.pop(source)
        attrs: dict[str, AttrValue] = {
            "source": source,
            "error": error,
            "failures": count,
            "total_failures": by[source],
        }
        event = Event(MONITOR_TARGET, "callback.failed", time.time(), attrs)
        for sink in self._sinks:
            if sink is skip:
                continue  # a failing sink is not told about its own failure
            try:
                sink.on_event(event)
            except Exception:
                self.stats.sink_failures += 1
        if self._on_event is not None and source != "on_event":
            self._enqueue(event)

    # -- consumer side (its own task) --------------------------------------

    async def run(self) -> None:
        """Deliver queued records to the user callbacks until cancelled."""
        if not self._has_callbacks:
            await trio.sleep_forever()
        limiter = trio.CapacityLimiter(1)
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            while self._queue:
                batch = list(self._queue)
                self._queue.clear()
                await self._deliver(batch, limiter)

    async def drain(self, limit: float = 1.0) -> None:
        """Deliver what is queued, within ``limit`` seconds (for shutdown)."""
        self._report_pending()
        with trio.move_on_after(limit):
            limiter = trio.CapacityLimiter(1)
            while self._queue:
                batch = list(self._queue)
                self._queue.clear()
                await self._deliver(batch, limiter)
        self._report_pending()

    def _report_pending(self) -> None:
        """Report failures still held back by the rate limit (at shutdown), so
        that the ``callback.failed`` events add up to every failure counted."""
        for source in list(self._unreported):
            self._last_report.pop(source, None)
            skip = next((k for k in self._sinks if source == f"sink:{type(k).__name__}"), None)
            self._failure_event(source, self._last_error[source], skip=skip)

    async def _deliver(self, batch: list[_Item], limiter: trio.CapacityLimiter) -> None:
        # Sync callbacks go through a worker thread in one batch; async ones are
        # awaited here, one by one, each with its own time limit.
        sync_items: list[tuple[str, Callable[[_Item], object], _Item]] = []
        async_items: list[tuple[str, Callable[[_Item], Awaitable[None]], _Item]] = []
        for item in batch:
            source, cb = self._callback_for(item)
            if cb is None:
                continue
            if inspect.iscoroutinefunction(cb):
                async_items.append((source, cb, item))  # type: ignore[arg-type]
            else:
                sync_items.append((source, cb, item))
        if sync_items:
            errors: list[tuple[str, BaseException]] = []

            def call_all() -> None:
                for source, cb, item in sync_items:
                    try:
                        cb(item)
                    except Exception as exc:
                        errors.append((source, exc))

            await trio.to_thread.run_sync(call_all, limiter=limiter, abandon_on_cancel=True)
            for source, exc in errors:
                self._count_callback_failure(source, exc)
        for source, acb, item in async_items:
            failed: BaseException | None = None
            with trio.move_on_after(self._async_timeout) as scope:
                try:
                    await acb(item)
                except Exception as exc:
                    failed = exc
            if scope.cancelled_caught:
                failed = TimeoutError(f"async callback exceeded {self._async_timeout} s")
            if failed is not None:
                self._count_callback_failure(source, failed)
        self.stats.delivered += len(batch)

    def _callback_for(
        self, item: _Item
    ) -> tuple[str, Callable[[_Item], Awaitable[None] | None] | None]:
        if isinstance(item, Sample):
            return "on_sample", self._on_sample  # type: ignore[return-value]
        return "on_event", self._on_event  # type: ignore[return-value]

    def _count_callback_failure(self, source: str, exc: BaseException) -> None:
        if source == "on_sample":
            self.stats.sample_callback_failures += 1
        else:
            self.stats.event_callback_failures += 1
        self._failure(source, exc)
