"""The trace side of :class:`~genesys_pulse.telemetry.OTelSink`: its spans.

Two kinds of short spans per target (see docs/telemetry.md):

* ``genesys_pulse.probe_window``: one per summary window, carrying the
  window summary and the window's span events; monitor-wide events are
  attached to every window they fall in when that window ends;
* ``genesys_pulse.connect``: one per connection attempt, with one child span
  and one span event per phase. The monitor reports each phase explicitly
  when it ends (``genesys.connect.phase``: the phase and its measured
  duration), so a phase is ``[at - duration_s, at]``, nothing rebuilt from
  other events' timestamps; the start is only clamped to the end of the
  previous phase, because the durations come from the monotonic clock and the
  event times from the wall clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from genesys_pulse.core import E_CONNECT_PHASE
from genesys_pulse.core.model import AttrValue
from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry._audit import redact_attributes

__all__ = ["DEFAULT_MAX_SPAN_EVENTS", "Spans", "TargetSpans", "ns"]

_NS: Final = 1_000_000_000
#: Span events kept per span; the SDK's own limit is 128.
DEFAULT_MAX_SPAN_EVENTS: Final = 100

Attrs = Mapping[str, AttrValue]
_WideSummary = list[tuple[str, int, dict[str, AttrValue], int]]


def ns(at: float) -> int:
    """Wall-clock seconds to OTel nanoseconds."""
    return int(at * _NS)


def _seconds(value: AttrValue | None) -> float:
    """A duration attribute of the contract (a float), 0 when absent or not positive."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 0.0


class TargetSpans:
    """The open spans of one target and the attributes they carry."""

    __slots__ = (
        "attempts",
        "base",
        "connect_attrs",
        "connect_ctx",
        "connect_phases",
        "connect_span",
        "connect_start",
        "ended_connect_ctx",
        "phase_mark",
        "w_dropped",
        "w_end",
        "w_events",
        "w_span",
        "w_start",
        "window_ctx",
    )

    def __init__(self, base: Attrs, connect_attrs: Attrs) -> None:
        self.base = base
        self.connect_attrs = connect_attrs
        # probe window span
        self.w_span: Span | None = None
        self.window_ctx: Context | None = None
        self.w_start = 0.0
        self.w_end = 0.0
        self.w_events = 0
        self.w_dropped = 0
        # connection attempt span
        self.connect_span: Span | None = None
        self.connect_ctx: Context | None = None
        self.connect_start = 0.0
        self.attempts = 0
        self.phase_mark = 0.0
        self.connect_phases: set[str] = set()
        self.ended_connect_ctx: Context | None = None


class Spans:
    """Opens, annotates and ends every target's spans on one tracer."""

    def __init__(
        self,
        tracer: trace.Tracer,
        *,
        window: float,
        max_span_events: int,
        secrets: tuple[str, ...],
    ) -> None:
        self._tracer = tracer
        self.window = window
        self._max_events = max_span_events
        self._secrets = secrets
        self.started_at: float | None = None
        """When the monitor started (``monitor.started``), if seen."""
        self._wide: deque[tuple[float, str, dict[str, AttrValue]]] = deque(
            maxlen=max(1, max_span_events)
        )
        """Recent monitor-wide span events (at, name, attributes), attached to each
        probe-window span when it ends: adding them to every open span at once cost
        O(targets) per event (0.9 s per local_stall at 10,000 targets, which made the
        next stall). At the window's end they are summarised, one span event per
        event name (see :meth:`_attach_wide`), so that a burst of them costs every
        window a few span events, not one per event: 47 start-up stalls in every
        first window of 10,000 targets cost 2.7 ms per window end, which saturated
        the loop and made more stalls. Each event stays a log record of its own."""
        self._wide_last = -math.inf
        """The latest time in :attr:`_wide` (a window starting after it is skipped in O(1))."""
        self._wide_seq = 0
        """Bumped on every append to :attr:`_wide` (keys :attr:`_wide_cache`)."""
        self._wide_cache: dict[tuple[int, tuple[int, ...]], _WideSummary] = {}
        """Per-name summaries of one set of :attr:`_wide` positions, shared by windows."""

    def forget(self) -> None:
        """Drop the monitor-wide events kept for windows (a retired sink)."""
        self._wide.clear()
        self._wide_cache.clear()

    # ---- probe windows

    def add_wide(self, at: float, name: str, attrs: dict[str, AttrValue]) -> None:
        """A monitor-wide span event, attached to every window it falls in when that ends."""
        self._wide.append((at, name, attrs))
        self._wide_seq += 1
        if at > self._wide_last:
            self._wide_last = at

    def add_event(self, st: TargetSpans, name: str, attrs: Attrs, at: float) -> None:
        """A span event on *st*'s open window span (counted when over the cap)."""
        if st.w_span is None:
            return
        if st.w_events < self._max_events:
            st.w_events += 1
            st.w_span.add_event(name, attrs, ns(at))
        else:
            st.w_dropped += 1

    def ensure_window(self, st: TargetSpans, at: float) -> None:
        """Make sure a probe-window span is open for *st* at wall time *at*."""
        span = st.w_span
        if span is not None:
            if at - st.w_start <= 1.5 * self.window:
                return
            # The monitor's window event did not come: end the span on time.
            self.end_window(st, st.w_start + self.window, None, forced=True)
        if 0.0 < at - st.w_end <= self.window:
            start = st.w_end  # windows follow one another without a gap
        elif (
            st.w_end == 0.0
            and self.started_at is not None
            and 0.0 <= at - self.started_at <= self.window
        ):
            # A target's first window begins when the monitor started, so that
            # monitor-wide events from before its first event land in it.
            start = self.started_at
        else:
            start = at
        span = self._tracer.start_span(
            N.S_PROBE_WINDOW,
            kind=SpanKind.INTERNAL,
            attributes=st.base,
            start_time=ns(start),
        )
        st.w_span = span
        st.window_ctx = trace.set_span_in_context(span)
        st.w_start = start
        st.w_events = st.w_dropped = 0

    def end_window(
        self,
        st: TargetSpans,
        at: float | None,
        summary: Attrs | None,
        *,
        forced: bool,
    ) -> None:
        """End *st*'s window span at *at* with the ``window`` event's *summary*."""
        span = st.w_span
        if span is None:
            return
        if summary is not None:
            # one call (one lock, one pass) rather than one per attribute
            span.set_attributes(
                {
                    "genesys_pulse.window." + key: value
                    for key, value in redact_attributes(
                        summary, extra_secrets=self._secrets
                    ).items()
                }
            )
        end = st.w_start + self.window if at is None and forced else at
        if self._wide and self._wide_last >= st.w_start:
            self._attach_wide(st, span, end if end is not None else math.inf)
        span.set_attribute("genesys_pulse.span_events.dropped", st.w_dropped)
        if forced:
            span.set_attribute("genesys_pulse.window.forced_end", True)
        span.end(end_time=ns(end) if end is not None else None)
        st.w_span = None
        st.window_ctx = None
        st.w_end = end if end is not None else st.w_start + self.window

    def _attach_wide(self, st: TargetSpans, span: Span, last: float) -> None:
        """Add the monitor-wide events between the window's start and *last* to *span*.

        One event of a name is added as it is; several of one name become one span
        event at the first one's time with the first one's attributes, plus
        ``genesys_pulse.event.count`` (how many), ``genesys_pulse.event.last_time_unix_nano``
        and, for each numeric attribute, ``<key>.max`` over the group. Every event
        still has its own log record. The summary of a given set of events is
        built once and shared by every window that holds exactly that set (at
        10,000 targets all first windows hold the same start-up events).
        """
        first = st.w_start
        picked = tuple(i for i, (t, _n, _a) in enumerate(self._wide) if first <= t <= last)
        if not picked:
            return
        key = (self._wide_seq, picked)
        summary = self._wide_cache.get(key)
        if summary is None:
            summary = self._summarise_wide(picked)
            if len(self._wide_cache) >= 64:
                self._wide_cache.clear()
            self._wide_cache[key] = summary
        for name, t0, attrs, n in summary:
            if st.w_events >= self._max_events:
                st.w_dropped += n
                continue
            st.w_events += 1
            span.add_event(name, attrs, t0)

    def _summarise_wide(self, picked: tuple[int, ...]) -> _WideSummary:
        """(name, first time ns, attributes, count) per event name, in first-seen order."""
        wide = self._wide
        groups: dict[str, list[tuple[float, dict[str, AttrValue]]]] = {}
        for i in picked:
            t, name, attrs = wide[i]
            groups.setdefault(name, []).append((t, attrs))
        out: _WideSummary = []
        for name, group in groups.items():
            t0, attrs = group[0]
            if len(group) > 1:
                attrs = dict(attrs)
                attrs["genesys_pulse.event.count"] = len(group)
                attrs["genesys_pulse.event.last_time_unix_nano"] = ns(max(t for t, _ in group))
                maxima: dict[str, float] = {}
                for _, a in group:
                    for k, v in a.items():
                        if isinstance(v, int | float) and not isinstance(v, bool):
                            m = maxima.get(k)
                            if m is None or v > m:
                                maxima[k] = v
                for k, m in maxima.items():
                    attrs[k + ".max"] = m
            out.append((name, ns(t0), attrs, len(group)))
        return out

    # ---- connection attempts

    def expire_connect(self, st: TargetSpans, at: float) -> None:
        """End an attempt older than one window as ``unfinished``."""
        if st.connect_span is not None and at - st.connect_start > self.window:
            self.end_connect(st, st.connect_start + self.window, ok=False, why="unfinished")

    def on_connect_event(self, st: TargetSpans, name: str, attrs: Attrs, at: float) -> None:
        """Open, annotate and close the ``genesys_pulse.connect`` span of *st*.

        An attempt starts on ``reconnect`` (at the end of its back-off delay) or
        on a ``genesys.connect.phase`` while none is open (the monitor reports
        phases only for attempts: a token refreshed while connected is none);
        the very first attempt starts when the monitor started. It succeeds on
        ``connection.established``, ``connection.restored`` or ``rotation`` and
        fails on ``connection.lost`` or ``token.failed``; it never outlives
        ``window`` seconds.
        """
        self.expire_connect(st, at)
        if name == "reconnect":
            if st.connect_span is not None:
                self.end_connect(st, at, ok=False, why="reconnect")
            self._start_connect(st, at + _seconds(attrs.get("delay_s")))
        elif name == E_CONNECT_PHASE:
            phase = attrs.get("phase")
            if not isinstance(phase, str):
                return
            duration = _seconds(attrs.get("duration_s"))
            if st.connect_span is None:
                start = at - duration
                if (
                    not st.attempts
                    and self.started_at is not None
                    and 0.0 <= start - self.started_at <= self.window
                ):
                    start = self.started_at  # the first attempt began when the monitor started
                self._start_connect(st, start)
            self._phase(st, phase, at, duration)
        elif name in ("connection.established", "connection.restored", "rotation"):
            self.end_connect(st, at, ok=True, why=None)
        elif name in ("connection.lost", "token.failed"):
            self.end_connect(st, at, ok=False, why=name)

    def _start_connect(self, st: TargetSpans, start: float) -> None:
        span = self._tracer.start_span(
            N.S_CONNECT,
            kind=SpanKind.CLIENT,
            attributes=st.connect_attrs,
            start_time=ns(start),
        )
        st.connect_span = span
        st.connect_ctx = trace.set_span_in_context(span)
        st.connect_start = start
        st.phase_mark = start
        st.attempts += 1
        st.connect_phases = set()

    def _phase(self, st: TargetSpans, phase: str, at: float, duration: float) -> None:
        """Record one phase of the open attempt: ``[at - duration, at]``.

        The start is clamped to the previous phase's end (phases follow one
        another); a phase without a duration runs from that boundary.
        """
        if phase in st.connect_phases or st.connect_span is None:
            return
        start = max(at - duration, st.phase_mark) if duration > 0.0 else st.phase_mark
        start = min(start, at)
        st.phase_mark = max(st.phase_mark, at)
        st.connect_phases.add(phase)
        st.connect_span.add_event(phase, {"duration_s": duration or at - start}, ns(at))
        child = self._tracer.start_span(
            f"{N.S_CONNECT}.{phase}",
            context=st.connect_ctx,
            kind=SpanKind.INTERNAL,
            attributes=st.base,
            start_time=ns(start),
        )
        child.end(end_time=ns(at))

    def end_connect(self, st: TargetSpans, at: float | None, *, ok: bool, why: str | None) -> None:
        """End *st*'s open attempt (OK, or ERROR with ``error.type`` = *why*)."""
        span = st.connect_span
        if span is None:
            return
        if ok:
            span.set_status(Status(StatusCode.OK))
        else:
            span.set_status(Status(StatusCode.ERROR, why))
            if why:
                span.set_attribute(N.A_ERROR_TYPE, why)
        span.set_attribute("genesys_pulse.connect.phases", sorted(st.connect_phases))
        span.end(end_time=ns(at) if at is not None else None)
        st.ended_connect_ctx = st.connect_ctx
        st.connect_span = None
        st.connect_ctx = None
