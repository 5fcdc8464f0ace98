"""Map the monitor's samples and events onto the OpenTelemetry API.

:class:`OTelSink` is a monitor :class:`~genesys_pulse.core.Sink`. It uses only
the OpenTelemetry **API** (``opentelemetry.metrics``, ``opentelemetry.trace``,
``opentelemetry._logs``): with no SDK configured every call is a cheap no-op,
and whichever providers the host configured receive the data.

It composes one part per signal, each in its own module:
:class:`~genesys_pulse.telemetry._otel_metrics.Instruments` (metrics),
:class:`~genesys_pulse.telemetry._otel_spans.Spans` (the connect and
probe-window spans) and :class:`~genesys_pulse.telemetry._otel_logs.Logs`
(audit records). This module routes each record to them and keeps the
per-target state they share. Every attribute is read from the key the typed
event contract (:mod:`genesys_pulse.core._events`) names for it.

It is called on the monitor's probing path, so ``on_sample`` allocates
nothing per call beyond what the SDK does (attribute dicts are bound once
per target and probe type), and neither method ever raises: a failure is
counted in :attr:`OTelSink.errors` and logged once.

Per probe slot, ``on_sample`` makes only the synchronous calls the contract
cannot do without: one loop-lag record per slot (the first sent probe of the
slot: the probes of one slot are sent together, so a second record would say
the same), and RTT and IPDV jitter per answered, unstalled probe. The pings
and timeouts counters and the smoothed-jitter gauge are observable
instruments (see :mod:`~genesys_pulse.telemetry._otel_metrics`).
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import _logs, metrics, trace

from genesys_pulse._version import __version__
from genesys_pulse.core.model import AttrValue, Event, Level, ProbeKind, Sample
from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry._audit import redact_attributes
from genesys_pulse.telemetry._otel_logs import MONITOR_WIDE, Logs
from genesys_pulse.telemetry._otel_metrics import Instruments, Series, _Observed
from genesys_pulse.telemetry._otel_spans import DEFAULT_MAX_SPAN_EVENTS, Spans, TargetSpans

__all__ = ["DEFAULT_MAX_SPAN_EVENTS", "OTelSink"]

_log = logging.getLogger("genesys_pulse.telemetry")

_HEARTBEAT: Final = ProbeKind.HEARTBEAT
_RTT_PROBES: Final = (ProbeKind.CONTROL, ProbeKind.APPLICATION)
_REASON_RE: Final = re.compile(r"\A[a-z][a-z0-9_]{0,31}\Z")

# Which events become span events on the window span, under which name.
_SPAN_EVENT_NAMES: Final[Mapping[str, str]] = N.SPAN_EVENT_NAMES
# Fields of the monitor's events that name the same fact as a metric attribute:
# on span events and log records they carry the metric's key.
_EVENT_KEYS: Final[Mapping[str, Mapping[str, str]]] = {
    "threshold.breach": {"metric": N.A_METRIC, "probe": N.A_PING_TYPE},
    "threshold.clear": {"metric": N.A_METRIC, "probe": N.A_PING_TYPE},
    "timeout": {"probe": N.A_PING_TYPE},
    "reconnect": {"reason": N.A_REASON},
}
# Events that end or begin a connection attempt (the connect span).
_CONNECT_EVENTS: Final = frozenset(
    {
        "reconnect",
        N.E_CONNECT_PHASE,
        "connection.established",
        "connection.restored",
        "rotation",
        "connection.lost",
        "token.failed",
    }
)

_LEVEL_NAMES: Final[Mapping[str, int]] = {
    "ok": Level.OK,
    "warning": Level.WARNING,
    "critical": Level.CRITICAL,
}


def _level_of(value: AttrValue | None, default: int) -> int:
    """The gauge value of a threshold event's ``level`` (a name; 0-2 also taken)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int) and value in (0, 1, 2):
        return value
    if isinstance(value, str):
        return _LEVEL_NAMES.get(value.lower(), default)
    return default


class _Probe:
    """One probe kind of one target in one sink: its attributes, the shared
    series it adds to, and the sink's own RFC 3550 jitter estimate."""

    __slots__ = ("attrs", "j", "series")

    def __init__(self, attrs: Mapping[str, AttrValue], series: Series) -> None:
        self.attrs = attrs
        self.series = series
        self.j = 0.0


class _Target:
    """Everything the sink keeps per target: bound attributes, series, spans."""

    __slots__ = (
        "base",
        "connected",
        "lag_seq",
        "metric_attrs",
        "probe_attrs",
        "probes",
        "reason_attrs",
        "spans",
        "timeouts",
    )

    def __init__(self, target: str, extra: Mapping[str, str], instance: str | None) -> None:
        base: dict[str, AttrValue] = {N.A_TARGET: target}
        for key in sorted(extra):
            if key in N.TARGET_ATTR_KEYS:
                base[key] = str(extra[key])
        if instance:
            base[N.A_MONITOR_INSTANCE] = instance
        self.base: Mapping[str, AttrValue] = base
        connect: dict[str, AttrValue] = dict(base)
        for key in sorted(extra):
            if key in N.CONNECT_ATTR_KEYS:
                value = extra[key]
                connect[key] = int(value) if str(value).isdigit() else str(value)
        self.spans = TargetSpans(base, connect)
        self.probe_attrs: dict[ProbeKind, Mapping[str, AttrValue]] = {
            probe: {**base, N.A_PING_TYPE: probe.value} for probe in ProbeKind
        }
        # (metric, probe type) -> attributes of the threshold.state series
        self.metric_attrs: dict[tuple[str, str], Mapping[str, AttrValue]] = {}
        # probe kinds seen so far (their threshold.state series exist)
        self.probes: dict[ProbeKind, _Probe] = {}
        self.reason_attrs: dict[str, Mapping[str, AttrValue]] = {}
        self.timeouts: Mapping[str, float] = {}
        self.connected = False
        self.lag_seq = -1
        """The slot whose loop lag was recorded last (one record per slot)."""


_SINKS: weakref.WeakSet[OTelSink] = weakref.WeakSet()
"""Every sink of this process (for the fork handler)."""


def _retire_after_fork() -> None:
    """In a forked child the monitor's thread does not exist: every sink inherited
    from the parent is retired (its open spans are dropped, never ended: they
    are the parent's). The metric side is reset by ``_otel_metrics``."""
    try:
        for sink in list(_SINKS):
            sink._retire_after_fork()
    except Exception:  # never break the host's fork
        _log.debug("genesys-pulse: after-fork cleanup failed", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_retire_after_fork)


class OTelSink:
    """A monitor sink that reports through OpenTelemetry metrics, traces and logs.

    Args:
      meter_provider, tracer_provider, logger_provider: the providers to use;
        ``None`` means the global one (whatever the host or
        ``opentelemetry-instrument`` configured, else the API's no-op).
      window: the probe-window span length in seconds (the monitor's
        ``config.window``). A window span that did not see its ``window``
        event by ``1.5 * window`` after it started is ended anyway.
      target_attrs: per target id, extra bounded attributes for every point:
        only ``genesys.environment`` and ``server.address`` are used (and
        ``server.port``, on the ``genesys_pulse.connect`` span only).
      redacted_config: the redacted configuration, attached to the
        ``monitor.started`` log record as JSON.
      secrets: exact strings that must never be exported (e.g. the client
        secrets); masked wherever they would appear in an attribute value.
      probe_timeouts: per target, per probe type (``control``, ``application``,
        ``heartbeat``), the limit in seconds reported as ``timeout_s`` on
        ``genesys.ping.timeout`` span events and ``timeout`` log records.
      max_span_events: events kept per span (at most 128, the SDK's default
        limit); further events are counted in the span attribute
        ``genesys_pulse.span_events.dropped``.

    Never raises from :meth:`on_sample` or :meth:`on_event`; failures are
    counted in :attr:`errors`.
    """

    def __init__(
        self,
        *,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        logger_provider: _logs.LoggerProvider | None = None,
        window: float = 60.0,
        target_attrs: Mapping[str, Mapping[str, str]] | None = None,
        redacted_config: Mapping[str, Any] | None = None,
        secrets: tuple[str, ...] = (),
        max_span_events: int = DEFAULT_MAX_SPAN_EVENTS,
        probe_timeouts: Mapping[str, Mapping[str, float]] | None = None,
        instance: str | None = None,
    ) -> None:
        self.window = float(window)
        self._instance = instance
        self._retired = False
        self._errors = 0
        self._target_attrs = dict(target_attrs or {})
        self._secrets = tuple(s for s in secrets if s)
        self._probe_timeouts = dict(probe_timeouts or {})
        self._targets: dict[str, _Target] = {}
        self._reasons_seen: set[str] = set()

        self._metrics = m = Instruments(meter_provider)
        self._spans = Spans(
            trace.get_tracer(
                N.INSTRUMENTATION_SCOPE, __version__, tracer_provider, schema_url=N.SCHEMA_URL
            ),
            window=self.window,
            max_span_events=max(0, min(int(max_span_events), 128)),
            secrets=self._secrets,
        )
        self._logs = Logs(
            _logs.get_logger(
                N.INSTRUMENTATION_SCOPE, __version__, logger_provider, schema_url=N.SCHEMA_URL
            ),
            redacted_config,
        )
        _SINKS.add(self)
        # bound once: on_sample makes no attribute lookups on the instruments
        self._record_rtt = m.record_rtt
        self._record_jitter = m.record_jitter
        self._record_lag = m.record_lag
        self._record_gap = m.record_gap

    @property
    def errors(self) -> int:
        """Exceptions swallowed so far (the sink never raises into the monitor),
        including those of the metric callbacks of its meter provider."""
        return self._errors + self._metrics.errors

    @property
    def _observed(self) -> _Observed:
        """The observable series of this sink's meter provider."""
        return self._metrics.observed

    # ----------------------------------------------------------------- sink API

    def on_sample(self, sample: Sample) -> None:
        """Record one probe outcome or heartbeat gap. Cheap; never raises."""
        if self._retired:
            return
        try:
            state = self._targets.get(sample.target) or self._state(sample.target)
            at = sample.at
            spans = state.spans
            if spans.w_span is None or at - spans.w_start > 1.5 * self.window:
                self._spans.ensure_window(spans, at)
            if spans.connect_span is not None and at - spans.connect_start > self.window:
                self._spans.expire_connect(spans, at)
            kind = sample.probe
            probe = state.probes.get(kind) or self._first_of_kind(state, kind)
            if kind is _HEARTBEAT:
                if sample.gap_s is not None and not sample.local_stall:
                    self._record_gap(sample.gap_s, probe.attrs)
                return
            if sample.late:
                # The late answer of a slot already counted as a ping and a
                # timeout: its true RTT goes into the RTT histogram (so a
                # backend p99 shows the delay), nothing is counted again.
                late_rtt = sample.late_rtt_s
                if late_rtt is not None and not sample.local_stall:
                    self._record_rtt(late_rtt, probe.attrs)
                return
            series = probe.series
            series.pings += 1
            sent = sample.sent_mono
            if sent is not None and sample.seq != state.lag_seq:
                # once per slot: its probes are sent together
                state.lag_seq = sample.seq
                lag = sent - sample.scheduled_mono
                self._record_lag(lag if lag > 0.0 else 0.0, state.base)
            if sample.local_stall:
                # Our own event loop stalled while this probe was in flight: its
                # RTT or timeout says nothing about the network (the monitor keeps
                # it out of its statistics and thresholds too).
                return
            if sample.timed_out:
                series.timeouts += 1
                return
            rtt = sample.rtt_s
            if rtt is not None:
                self._record_rtt(rtt, probe.attrs)
            d = sample.jitter_s
            if d is not None:
                self._record_jitter(d, probe.attrs)
                # RFC 3550 A.8, as core._jitter.JitterTracker: J starts at 0.
                j = probe.j
                probe.j = j = j + ((d if d >= 0.0 else -d) - j) * 0.0625
                series.jitter = j
                series.jittered = True
        except Exception:
            self._failed("on_sample")

    def on_event(self, event: Event) -> None:
        """Record one monitor event (span event, log record, gauges). Never raises."""
        if self._retired:
            return
        try:
            self._on_event(event)
        except Exception:
            self._failed("on_event")

    def close(self, at: float | None = None) -> None:
        """End every open span (at wall time *at*, default now). Never raises."""
        if self._retired:
            return
        try:
            for state in self._targets.values():
                self._spans.end_connect(state.spans, at, ok=False, why="monitor stopped")
                self._spans.end_window(state.spans, at, None, forced=False)
        except Exception:
            self._failed("close")

    # ---------------------------------------------------------------- internals

    def _retire_after_fork(self) -> None:
        """In a forked child: report nothing more (the parent's monitor owns this sink)."""
        self._retired = True
        self._targets = {}
        self._spans.forget()

    def _failed(self, where: str) -> None:
        self._errors += 1
        if self._errors == 1:
            _log.warning("genesys-pulse OTel sink failed in %s (counted, not raised)", where)
        else:
            _log.debug("genesys-pulse OTel sink failed in %s", where, exc_info=True)

    def _state(self, target: str) -> _Target:
        state = self._targets.get(target)
        if state is None:
            state = _Target(target, self._target_attrs.get(target, {}), self._instance)
            state.timeouts = self._probe_timeouts.get(target, {})
            self._targets[target] = state
            # The per-target series exist from the start.
            self._metrics.set_connection_state(0, state.base)
        return state

    def _first_of_kind(self, state: _Target, kind: ProbeKind) -> _Probe:
        """The first sample of a probe kind: its series, and threshold.state at 0 (ok)."""
        attrs = state.probe_attrs[kind]
        series = Series(attrs) if kind is _HEARTBEAT else self._metrics.series(attrs)
        probe = state.probes[kind] = _Probe(attrs, series)
        for metric in N.THRESHOLD_METRICS_BY_KIND[kind.value]:
            self._metrics.set_threshold_state(0, self._metric_attrs(state, metric, kind.value))
        return probe

    def _metric_attrs(
        self, state: _Target, metric: str, probe: str | None
    ) -> Mapping[str, AttrValue] | None:
        key = (metric, probe or "")
        attrs = state.metric_attrs.get(key)
        if attrs is None:
            if len(state.metric_attrs) >= 32:
                return None  # bounded: never more series than that per target
            attrs = {**state.base, N.A_METRIC: metric}
            if probe:
                attrs[N.A_PING_TYPE] = probe
            state.metric_attrs[key] = attrs
        return attrs

    def _on_event(self, e: Event) -> None:
        name = e.name
        if e.target in MONITOR_WIDE:
            if name == "monitor.started":
                self._spans.started_at = e.at
            attrs = self._event_attrs(None, e)
            # about the whole monitor (monitor.started, local_stall, ...): a log
            # record, and a span event on every probe window it falls in
            span_event = _SPAN_EVENT_NAMES.get(name)
            if span_event is not None:
                self._spans.add_wide(e.at, span_event, dict(attrs))
            self._logs.emit(None, e, attrs)
            if name == "monitor.stopped":
                self.close(e.at)
            return
        state = self._state(e.target)
        spans = state.spans
        a = e.attributes
        if name == "window":
            self._spans.ensure_window(spans, e.at)
            # "<probe>.stability" per probe kind (the monitor's sliding stability window)
            for probe in _RTT_PROBES:
                stability = a.get(probe.value + ".stability")
                if isinstance(stability, int | float) and not isinstance(stability, bool):
                    self._metrics.set_stability(float(stability), state.probe_attrs[probe])
            self._spans.end_window(spans, e.at, a, forced=False)
            return
        self._spans.ensure_window(spans, e.at)

        # metrics
        m = self._metrics
        if name in ("connection.established", "connection.restored"):
            state.connected = True
            m.set_connection_state(1, state.base)
        elif name in ("connection.lost", "reconnect", "channel.expired"):
            if state.connected:
                state.connected = False
                m.set_connection_state(0, state.base)
            if name == "reconnect":
                m.add_reconnect(1, self._reason_attrs(state, a.get("reason")))
        elif name in ("threshold.breach", "threshold.clear"):
            metric = a.get("metric")
            probe_type = a.get("probe")
            if isinstance(metric, str) and _REASON_RE.fullmatch(metric):
                m_attrs = self._metric_attrs(
                    state, metric, probe_type if isinstance(probe_type, str) else None
                )
                if m_attrs is not None:
                    default = Level.WARNING if name == "threshold.breach" else Level.OK
                    m.set_threshold_state(_level_of(a.get("level"), default), m_attrs)
        elif name == "monitor.stopped":
            self._logs.emit(spans, e, self._event_attrs(state, e))
            self._spans.end_connect(spans, e.at, ok=False, why="monitor stopped")
            self._spans.end_window(spans, e.at, None, forced=False)
            return

        # traces
        spans.ended_connect_ctx = None
        if name in _CONNECT_EVENTS:
            self._spans.on_connect_event(spans, name, a, e.at)
        attrs = self._event_attrs(state, e)
        span_event = _SPAN_EVENT_NAMES.get(name)
        if span_event is not None:
            self._spans.add_event(spans, span_event, attrs, e.at)

        # logs (the record's attributes: the span event's plus the target's)
        self._logs.emit(spans, e, dict(attrs) if span_event is not None else attrs)

    def _event_attrs(self, state: _Target | None, e: Event) -> dict[str, AttrValue]:
        """The attributes of *e*'s span event and log record: redacted, and the
        keys that name a metric attribute renamed to its key."""
        attrs = redact_attributes(e.attributes, extra_secrets=self._secrets)
        renames = _EVENT_KEYS.get(e.name)
        if renames is not None:
            for old, new in renames.items():
                if old in attrs:
                    attrs[new] = attrs.pop(old)
        if e.name == "timeout" and state is not None:
            # the limit the slot missed: the target's configured timeout
            probe = e.attributes.get("probe")
            timeout = state.timeouts.get(probe) if isinstance(probe, str) else None
            if timeout is not None:
                attrs.setdefault("timeout_s", float(timeout))
        return attrs

    def _reason_attrs(self, state: _Target, reason: AttrValue | None) -> Mapping[str, AttrValue]:
        r = reason.partition(":")[0] if isinstance(reason, str) else "other"
        if r not in N.RECONNECT_REASONS and (
            not _REASON_RE.fullmatch(r) or len(self._reasons_seen | {r}) > 32
        ):
            r = "other"
        self._reasons_seen.add(r)
        attrs = state.reason_attrs.get(r)
        if attrs is None:
            attrs = state.reason_attrs[r] = {**state.base, N.A_REASON: r}
        return attrs
