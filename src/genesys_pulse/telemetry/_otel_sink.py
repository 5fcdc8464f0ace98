"""Map the monitor's samples and events onto the OpenTelemetry API.

:class:`OTelSink` is a monitor ``Sink``. It uses only the OpenTelemetry
**API** (``opentelemetry.metrics``, ``opentelemetry.trace``,
``opentelemetry._logs``): with no SDK configured every call is a cheap no-op,
and whichever providers the host configured receive the data.

It is called on the monitor's probing path, so ``on_sample`` allocates
nothing per call beyond what the SDK does (attribute dicts are bound once
per target and probe type), and neither method ever raises: a failure is
counted in :attr:`OTelSink.errors` and logged once.

Per sample, ``on_sample`` makes only the synchronous calls the contract
cannot do without: one histogram record per histogram point (loop lag per
sent probe; RTT and IPDV jitter per answered, unstalled probe). The pings and
timeouts counters and the smoothed-jitter gauge are observable instruments:
the sink keeps their per-series values in plain Python numbers and the
callbacks report them when a reader collects (one observation per existing
series). An exporter sees the same data: monotonic cumulative sums and a
gauge, with the same names, units, descriptions and attributes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from opentelemetry import _logs, metrics, trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from genesys_pulse._version import __version__
from genesys_pulse.core.model import AttrValue, Event, Level, ProbeKind, Sample
from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry._audit import audit_kind, redact_attributes

__all__ = ["OTelSink"]

_log = logging.getLogger("genesys_pulse.telemetry")

_NS: Final = 1_000_000_000
_HEARTBEAT: Final = ProbeKind.HEARTBEAT
_RTT_PROBES: Final = (ProbeKind.CONTROL, ProbeKind.APPLICATION)
#: Span events kept per span; the SDK's own limit is 128.
DEFAULT_MAX_SPAN_EVENTS: Final = 100
#: ``Event.target`` values of events about the whole monitor, not one target.
_MONITOR_WIDE: Final = frozenset({"", "*"})
_REASON_RE: Final = re.compile(r"\A[a-z][a-z0-9_]{0,31}\Z")

# Which audit events become span events on the window span, under which name.
_SPAN_EVENT_NAMES: Final[Mapping[str, str]] = N.SPAN_EVENT_NAMES
# Fields of the monitor's events that name the same fact as a metric attribute:
# on span events and log records they carry the metric's key.
_EVENT_KEYS: Final[Mapping[str, Mapping[str, str]]] = {
    "threshold.breach": {"metric": N.A_METRIC, "probe": N.A_PING_TYPE},
    "threshold.clear": {"metric": N.A_METRIC, "probe": N.A_PING_TYPE},
    "reconnect": {"reason": N.A_REASON},
}

# Events that belong to a connection attempt, and the phase each one marks.
_CONNECT_PHASES: Final[Mapping[str, str]] = {
    "token.issued": "login",
    "channel.created": "channel",
}
_PHASE_ATTRS: Final = (
    ("login", "login_s"),
    ("channel", "channel_s"),
    ("handshake", "handshake_s"),
    ("subscribe", "subscribe_s"),
)

_LEVEL_NAMES: Final[Mapping[str, int]] = {
    "ok": Level.OK,
    "warning": Level.WARNING,
    "critical": Level.CRITICAL,
}


def _ns(at: float) -> int:
    return int(at * _NS)


def _level_of(value: AttrValue | None, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int) and value in (0, 1, 2):
        return value
    if isinstance(value, str):
        return _LEVEL_NAMES.get(value.lower(), default)
    return default


def _probe_of(attributes: Mapping[str, AttrValue]) -> str | None:
    for key in (N.A_PING_TYPE, "probe", "type"):
        value = attributes.get(key)
        if isinstance(value, str):
            return value
    return None


class _Series:
    """What the observable instruments report for one attribute set (a target and
    probe type): cumulative pings and timeouts, and the last smoothed jitter."""

    __slots__ = ("attrs", "jitter", "jittered", "pings", "timeouts")

    def __init__(self, attrs: Mapping[str, AttrValue]) -> None:
        self.attrs = attrs
        self.pings = 0
        self.timeouts = 0
        self.jitter = 0.0
        self.jittered = False
        """True once a smoothed-jitter value was computed (the gauge series exists)."""


class _Probe:
    """One probe kind of one target in one sink: its attributes, the shared
    series it adds to, and the sink's own RFC 3550 jitter estimate."""

    __slots__ = ("attrs", "j", "series")

    def __init__(self, attrs: Mapping[str, AttrValue], series: _Series) -> None:
        self.attrs = attrs
        self.series = series
        self.j = 0.0


class _Observed:
    """The observable instruments of one meter provider and the series they report.

    Shared by every sink on the same provider. The SDK registers an instrument
    once per meter: creating it again (a second sink, a restarted monitor)
    returns the first instrument and drops the new callbacks. So the callbacks
    read series that every sink on that provider adds to, as every sink adds to
    the same synchronous counter. The callbacks run in the exporter's thread:
    they read a list the sinks only append to, make one observation per
    existing series and never raise (a failure is counted in :attr:`errors`).
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self.errors = 0
        self._lock = threading.Lock()
        self._by_attrs: dict[tuple[tuple[str, AttrValue], ...], _Series] = {}
        self._all: list[_Series] = []
        self.pid = os.getpid()
        """The process whose series the callbacks report: a forked child reports none
        of its parent's (it resets them, see :meth:`forget_after_fork`)."""
        self.instruments = (
            meter.create_observable_counter(
                N.M_PINGS,
                callbacks=[self._observe_pings],
                unit="{ping}",
                description="Pings sent (answered or not).",
            ),
            meter.create_observable_counter(
                N.M_TIMEOUTS,
                callbacks=[self._observe_timeouts],
                unit="{timeout}",
                description="Pings not answered within the timeout.",
            ),
            meter.create_observable_gauge(
                N.M_JITTER_SMOOTHED,
                callbacks=[self._observe_jitter],
                unit="s",
                description="RFC 3550 interarrival jitter estimate J += (|D| - J)/16 over consecutive pings.",
            ),
        )

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's series (they are the parent's to report)."""
        self._lock = threading.Lock()
        self._by_attrs = {}
        self._all = []
        self.pid = os.getpid()

    def series(self, attrs: Mapping[str, AttrValue]) -> _Series:
        """The series of *attrs*, created (and reported from then on) if new."""
        key = tuple(attrs.items())
        with self._lock:
            series = self._by_attrs.get(key)
            if series is None:
                series = self._by_attrs[key] = _Series(attrs)
                self._all.append(series)
        return series

    def _failed(self) -> None:
        self.errors += 1
        if self.errors == 1:
            _log.warning("genesys-pulse OTel sink failed in a metric callback (counted)")
        else:
            _log.debug("genesys-pulse OTel sink failed in a metric callback", exc_info=True)

    def _observe_pings(self, options: CallbackOptions) -> Iterable[Observation]:
        if os.getpid() != self.pid:
            return ()  # forked, not yet reset: never the parent's numbers
        try:
            return [Observation(s.pings, s.attrs) for s in self._all if s.pings]
        except Exception:
            self._failed()
            return ()

    def _observe_timeouts(self, options: CallbackOptions) -> Iterable[Observation]:
        if os.getpid() != self.pid:
            return ()  # forked, not yet reset: never the parent's numbers
        try:
            return [Observation(s.timeouts, s.attrs) for s in self._all if s.timeouts]
        except Exception:
            self._failed()
            return ()

    def _observe_jitter(self, options: CallbackOptions) -> Iterable[Observation]:
        if os.getpid() != self.pid:
            return ()  # forked, not yet reset: never the parent's numbers
        try:
            return [Observation(s.jitter, s.attrs) for s in self._all if s.jittered]
        except Exception:
            self._failed()
            return ()


_OBSERVED: weakref.WeakKeyDictionary[object, _Observed] = weakref.WeakKeyDictionary()
_OBSERVED_LOCK: Final = threading.Lock()
_SINKS: weakref.WeakSet[OTelSink] = weakref.WeakSet()
"""Every sink of this process (for the fork handler)."""


def _after_fork_in_child() -> None:
    """A forked child must not re-export what its parent measured.

    The child inherits a copy of the host's SDK state: its metric storage holds
    the parent's cumulative histograms, counters and last gauge values of this
    plugin, and its periodic reader, restarted after the fork, would export them
    from the child under the same attributes, forever frozen (a worker reporting
    ``connection.state = 1`` during an outage its parent reports as 0). The
    monitor's thread does not exist in the child, so every sink inherited from
    the parent is retired (its open spans are dropped, never ended: they are the
    parent's), the observable series are reset, and the plugin's instruments are
    removed from the SDK's storage, so a monitor the child may start later begins
    new series. The storage is not API: the removal is feature-detected, and
    where it is impossible one WARNING says so.
    """
    try:
        instruments: dict[int, tuple[object, list[object]]] = {}
        for observed_provider, observed in list(_OBSERVED.items()):
            observed.forget_after_fork()
            instruments.setdefault(id(observed_provider), (observed_provider, []))[1].extend(
                observed.instruments
            )
        for sink in list(_SINKS):
            sink._retire_after_fork()
            instruments.setdefault(id(sink._provider), (sink._provider, []))[1].extend(
                sink._instruments
            )
        failed = [p for p, insts in instruments.values() if not _drop_from_sdk(p, insts)]
        if failed:
            _log.warning(
                "genesys-pulse: this forked process (pid %d) may re-export the series its "
                "parent measured: the meter provider (%s) offers no way to drop them; "
                "configure the SDK after the fork (e.g. a post_fork hook) to avoid it",
                os.getpid(),
                type(failed[0]).__name__,
            )
    except Exception:  # never break the host's fork
        _log.debug("genesys-pulse: after-fork cleanup failed", exc_info=True)


def _drop_from_sdk(provider: object, instruments: Iterable[object]) -> bool:
    """Remove *instruments*' aggregations from an SDK ``MeterProvider``'s storage.

    Returns ``False`` only when *provider* keeps such storage in an unknown
    shape. A provider with no storage (the API's no-op or proxy without an SDK
    behind it) has nothing to re-export: ``True``.
    """
    real = getattr(provider, "_real_meter_provider", None)  # the API's proxy, once set
    if real is not None:
        provider = real
    consumer = getattr(provider, "_measurement_consumer", None)
    if consumer is None:
        return type(provider).__module__.startswith("opentelemetry.metrics")
    storages = getattr(consumer, "_reader_storages", None)
    if not isinstance(storages, Mapping):
        return False
    targets = []
    for inst in instruments:
        targets.append(inst)
        inner = getattr(inst, "_real_instrument", None)
        if inner is not None:
            targets.append(inner)
    for storage in list(storages.values()):
        matches = getattr(storage, "_instrument_view_instrument_matches", None)
        if not isinstance(matches, dict):
            return False
        for inst in targets:
            matches.pop(inst, None)
    return True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _observed_for(provider: object, meter: metrics.Meter) -> _Observed:
    """The :class:`_Observed` of *provider* (created with *meter* if it has none)."""
    with _OBSERVED_LOCK:
        try:
            observed = _OBSERVED.get(provider)
        except TypeError:  # not weak-referenceable
            return _Observed(meter)
        if observed is None:
            observed = _OBSERVED[provider] = _Observed(meter)
        return observed


class _Target:
    """Everything the sink keeps per target: bound attributes and open spans."""

    __slots__ = (
        "attempts",
        "base",
        "connect_attrs",
        "connect_ctx",
        "connect_phases",
        "connect_span",
        "connect_start",
        "connected",
        "ended_connect_ctx",
        "metric_attrs",
        "phase_mark",
        "probe_attrs",
        "probes",
        "reason_attrs",
        "timeouts",
        "w_dropped",
        "w_end",
        "w_events",
        "w_span",
        "w_start",
        "window_ctx",
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
        self.connect_attrs: Mapping[str, AttrValue] = connect
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
        ``genesys.ping.timeout`` span events when the monitor's event does not carry one.
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
        self._config_json = (
            json.dumps(redacted_config, sort_keys=True, default=str)
            if redacted_config is not None
            else None
        )
        self._secrets = tuple(s for s in secrets if s)
        self._max_events = max(0, min(int(max_span_events), 128))
        self._probe_timeouts = dict(probe_timeouts or {})
        self._started_at: float | None = None
        self._targets: dict[str, _Target] = {}
        self._reasons_seen: set[str] = set()
        self._wide: deque[tuple[float, str, dict[str, AttrValue]]] = deque(
            maxlen=max(1, self._max_events)
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
        self._wide_cache: dict[
            tuple[int, tuple[int, ...]], list[tuple[str, int, dict[str, AttrValue], int]]
        ] = {}
        """Per-name summaries of one set of :attr:`_wide` positions, shared by windows."""

        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self._provider: object = provider
        meter = metrics.get_meter(
            N.INSTRUMENTATION_SCOPE, __version__, provider, schema_url=N.SCHEMA_URL
        )
        self._tracer = trace.get_tracer(
            N.INSTRUMENTATION_SCOPE, __version__, tracer_provider, schema_url=N.SCHEMA_URL
        )
        self._logger = _logs.get_logger(
            N.INSTRUMENTATION_SCOPE, __version__, logger_provider, schema_url=N.SCHEMA_URL
        )

        b = list(N.SECONDS_BUCKETS)
        self._rtt = meter.create_histogram(
            N.M_RTT,
            unit="s",
            description="Round-trip time of a WebSocket ping (control frame or Genesys application ping).",
            explicit_bucket_boundaries_advisory=b,
        )
        self._jitter = meter.create_histogram(
            N.M_JITTER,
            unit="s",
            description="IPDV: |RTT_k - RTT_(k-1)| between consecutive answered pings (RFC 3393).",
            explicit_bucket_boundaries_advisory=b,
        )
        # genesys.websocket.pings, .ping.timeouts and .ping.jitter.smoothed
        self._observed = _observed_for(provider, meter)
        self._stability = meter.create_gauge(
            N.M_STABILITY,
            unit="1",
            description="Share of probe slots answered in time over the stability window (0..1).",
        )
        self._heartbeat_gap = meter.create_histogram(
            N.M_HEARTBEAT_GAP,
            unit="s",
            description="Time between two server heartbeats on the notification channel.",
            explicit_bucket_boundaries_advisory=b,
        )
        self._reconnects = meter.create_counter(
            N.M_RECONNECTS,
            unit="{reconnect}",
            description="Reconnections of the monitored WebSocket, by reason.",
        )
        self._connection_state = meter.create_gauge(
            N.M_CONNECTION_STATE,
            unit="1",
            description="1 while the WebSocket is connected, else 0.",
        )
        self._threshold_state = meter.create_gauge(
            N.M_THRESHOLD_STATE,
            unit="1",
            description="Threshold state per metric: 0 ok, 1 warning, 2 critical.",
        )
        self._loop_lag = meter.create_histogram(
            N.M_LOOP_LAG,
            unit="s",
            description="How late the monitor's event loop sent each probe relative to its absolute schedule.",
            explicit_bucket_boundaries_advisory=b,
        )
        self._instruments: tuple[object, ...] = (
            self._rtt,
            self._jitter,
            self._stability,
            self._heartbeat_gap,
            self._reconnects,
            self._connection_state,
            self._threshold_state,
            self._loop_lag,
        )
        _SINKS.add(self)
        # bound once: on_sample makes no attribute lookups on the instruments
        self._record_rtt = self._rtt.record
        self._record_jitter = self._jitter.record
        self._record_lag = self._loop_lag.record
        self._record_gap = self._heartbeat_gap.record

    @property
    def errors(self) -> int:
        """Exceptions swallowed so far (the sink never raises into the monitor),
        including those of the metric callbacks of its meter provider."""
        return self._errors + self._observed.errors

    # ----------------------------------------------------------------- sink API

    def on_sample(self, sample: Sample) -> None:
        """Record one probe outcome or heartbeat gap. Cheap; never raises."""
        if self._retired:
            return
        try:
            state = self._targets.get(sample.target) or self._state(sample.target)
            at = sample.at
            if state.w_span is None or at - state.w_start > 1.5 * self.window:
                self._window(state, at)
            if state.connect_span is not None and at - state.connect_start > self.window:
                self._end_connect(
                    state, state.connect_start + self.window, ok=False, why="unfinished"
                )
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
            if sent is not None:
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
                self._end_connect(state, at, ok=False, why="monitor stopped")
                self._end_window(state, at, None, forced=False)
        except Exception:
            self._failed("close")

    # ---------------------------------------------------------------- internals

    def _retire_after_fork(self) -> None:
        """In a forked child: report nothing more (the parent's monitor owns this sink)."""
        self._retired = True
        self._targets = {}
        self._wide.clear()
        self._wide_cache.clear()

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
            self._connection_state.set(0, state.base)
        return state

    def _first_of_kind(self, state: _Target, kind: ProbeKind) -> _Probe:
        """The first sample of a probe kind: its series, and threshold.state at 0 (ok)."""
        attrs = state.probe_attrs[kind]
        series = _Series(attrs) if kind is _HEARTBEAT else self._observed.series(attrs)
        probe = state.probes[kind] = _Probe(attrs, series)
        for metric in N.THRESHOLD_METRICS_BY_KIND[kind.value]:
            self._threshold_state.set(0, self._metric_attrs(state, metric, kind.value))
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
        if name == "monitor.stopped" and e.target in _MONITOR_WIDE:
            self._emit_log(None, e)
            self.close(e.at)
            return
        if e.target in _MONITOR_WIDE:
            if name == "monitor.started":
                self._started_at = e.at
            # about the whole monitor (monitor.started, local_stall, ...): a log
            # record, and a span event on every open probe window
            span_event = _SPAN_EVENT_NAMES.get(name)
            if span_event is not None:
                # attached to every probe window it falls in when that window ends
                self._wide.append((e.at, span_event, self._span_event_attrs(e)))
                self._wide_seq += 1
                if e.at > self._wide_last:
                    self._wide_last = e.at
            self._emit_log(None, e)
            return
        state = self._state(e.target)
        attrs = e.attributes
        if name == "window":
            self._window(state, e.at)
            self._end_window(state, e.at, attrs, forced=False)
            return
        self._window(state, e.at)

        # metrics
        if name in ("connection.established", "connection.restored"):
            state.connected = True
            self._connection_state.set(1, state.base)
        elif name in ("connection.lost", "reconnect", "channel.expired"):
            if state.connected:
                state.connected = False
                self._connection_state.set(0, state.base)
            if name == "reconnect":
                self._reconnects.add(1, self._reason_attrs(state, attrs.get("reason")))
        elif name in ("threshold.breach", "threshold.clear"):
            metric = attrs.get("metric")
            if isinstance(metric, str) and _REASON_RE.fullmatch(metric):
                m_attrs = self._metric_attrs(state, metric, _probe_of(attrs))
                if m_attrs is not None:
                    default = Level.WARNING if name == "threshold.breach" else Level.OK
                    level = attrs.get("level", attrs.get("state"))
                    self._threshold_state.set(_level_of(level, default), m_attrs)
        elif name == "monitor.stopped":
            self._emit_log(state, e)
            self._end_connect(state, e.at, ok=False, why="monitor stopped")
            self._end_window(state, e.at, None, forced=False)
            return

        # traces
        state.ended_connect_ctx = None
        self._connect_span(state, e)
        span_event = _SPAN_EVENT_NAMES.get(name)
        if span_event is not None:
            self._add_span_event(state, span_event, e)

        # logs
        self._emit_log(state, e)

    # ---- spans

    def _add_span_event(self, state: _Target, name: str, e: Event) -> None:
        if state.w_span is None:
            return
        if state.w_events < self._max_events:
            state.w_events += 1
            state.w_span.add_event(name, self._span_event_attrs(e), _ns(e.at))
        else:
            state.w_dropped += 1

    def _window(self, state: _Target, at: float) -> None:
        """Make sure a probe-window span is open for *state* at wall time *at*."""
        span = state.w_span
        if span is not None:
            if at - state.w_start <= 1.5 * self.window:
                return
            # The monitor's window event did not come: end the span on time.
            self._end_window(state, state.w_start + self.window, None, forced=True)
        if 0.0 < at - state.w_end <= self.window:
            start = state.w_end  # windows follow one another without a gap
        elif (
            state.w_end == 0.0
            and self._started_at is not None
            and 0.0 <= at - self._started_at <= self.window
        ):
            # A target's first window begins when the monitor started, so that
            # monitor-wide events from before its first event land in it.
            start = self._started_at
        else:
            start = at
        span = self._tracer.start_span(
            N.S_PROBE_WINDOW,
            kind=SpanKind.INTERNAL,
            attributes=state.base,
            start_time=_ns(start),
        )
        state.w_span = span
        state.window_ctx = trace.set_span_in_context(span)
        state.w_start = start
        state.w_events = state.w_dropped = 0

    def _end_window(
        self,
        state: _Target,
        at: float | None,
        summary: Mapping[str, AttrValue] | None,
        *,
        forced: bool,
    ) -> None:
        span = state.w_span
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
            # "<probe>.stability" per probe kind (the monitor's sliding stability window)
            for probe in _RTT_PROBES:
                stability = summary.get(probe.value + ".stability")
                if isinstance(stability, int | float) and not isinstance(stability, bool):
                    self._stability.set(float(stability), state.probe_attrs[probe])
        end = state.w_start + self.window if at is None and forced else at
        if self._wide and self._wide_last >= state.w_start:
            self._attach_wide(state, span, end if end is not None else math.inf)
        span.set_attribute("genesys_pulse.span_events.dropped", state.w_dropped)
        if forced:
            span.set_attribute("genesys_pulse.window.forced_end", True)
        span.end(end_time=_ns(end) if end is not None else None)
        state.w_span = None
        state.window_ctx = None
        state.w_end = end if end is not None else state.w_start + self.window

    def _attach_wide(self, state: _Target, span: Span, last: float) -> None:
        """Add the monitor-wide events between the window's start and *last* to *span*.

        One event of a name is added as it is; several of one name become one span
        event at the first one's time with the first one's attributes, plus
        ``genesys_pulse.event.count`` (how many), ``genesys_pulse.event.last_time_unix_nano``
        and, for each numeric attribute, ``<key>.max`` over the group. Every event
        still has its own log record. The summary of a given set of events is
        built once and shared by every window that holds exactly that set (at
        10,000 targets all first windows hold the same start-up events).
        """
        first = state.w_start
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
            if state.w_events >= self._max_events:
                state.w_dropped += n
                continue
            state.w_events += 1
            span.add_event(name, attrs, t0)

    def _summarise_wide(
        self, picked: tuple[int, ...]
    ) -> list[tuple[str, int, dict[str, AttrValue], int]]:
        """(name, first time ns, attributes, count) per event name, in first-seen order."""
        wide = self._wide
        groups: dict[str, list[tuple[float, dict[str, AttrValue]]]] = {}
        for i in picked:
            t, name, attrs = wide[i]
            groups.setdefault(name, []).append((t, attrs))
        out: list[tuple[str, int, dict[str, AttrValue], int]] = []
        for name, group in groups.items():
            t0, attrs = group[0]
            if len(group) > 1:
                attrs = dict(attrs)
                attrs["genesys_pulse.event.count"] = len(group)
                attrs["genesys_pulse.event.last_time_unix_nano"] = _ns(max(t for t, _ in group))
                maxima: dict[str, float] = {}
                for _, a in group:
                    for k, v in a.items():
                        if isinstance(v, int | float) and not isinstance(v, bool):
                            m = maxima.get(k)
                            if m is None or v > m:
                                maxima[k] = v
                for k, m in maxima.items():
                    attrs[k + ".max"] = m
            out.append((name, _ns(t0), attrs, len(group)))
        return out

    def _connect_span(self, state: _Target, e: Event) -> None:
        """Open, annotate and close the ``genesys_pulse.connect`` span of *state*.

        An attempt starts on ``reconnect`` or on the first ``token.issued`` /
        ``channel.created`` while no attempt is open and the target is not
        connected (``channel.created`` also starts one during a make-before-break
        rotation). It succeeds on ``connection.restored`` or ``rotation`` and
        fails on ``connection.lost`` or ``token.failed``; it never outlives
        ``window`` seconds.
        """
        name = e.name
        span = state.connect_span
        if span is not None and e.at - state.connect_start > self.window:
            self._end_connect(state, state.connect_start + self.window, ok=False, why="unfinished")
            span = None
        if name == "reconnect":
            if span is not None:
                self._end_connect(state, e.at, ok=False, why="reconnect")
            span = self._start_connect(state, e.at + self._duration(e.attributes, "delay_s"))
            return
        phase = _CONNECT_PHASES.get(name)
        if (
            phase is not None
            and span is None
            and (not state.connected or name == "channel.created")
        ):
            start = e.at - self._duration(e.attributes, "duration_s")
            if (
                not state.attempts
                and self._started_at is not None
                and 0.0 <= start - self._started_at <= self.window
            ):
                start = self._started_at  # the first attempt began when the monitor started
            span = self._start_connect(state, start)
        if span is None:
            return
        if phase is not None:
            self._phase(state, phase, e.at, self._duration(e.attributes, "duration_s"))
        # Phases reported with explicit durations end one after another at
        # e.at, in order (login, channel, subscribe, handshake): walk back.
        end = e.at
        for ph, key in reversed(_PHASE_ATTRS):
            if key in e.attributes:
                duration = self._duration(e.attributes, key)
                self._phase(state, ph, end, duration)
                end -= duration
        if name in ("connection.established", "connection.restored", "rotation"):
            self._end_connect(state, e.at, ok=True, why=None)
        elif name in ("connection.lost", "token.failed"):
            self._end_connect(state, e.at, ok=False, why=name)

    def _start_connect(self, state: _Target, start: float) -> Span:
        span = self._tracer.start_span(
            N.S_CONNECT,
            kind=SpanKind.CLIENT,
            attributes=state.connect_attrs,
            start_time=_ns(start),
        )
        state.connect_span = span
        state.connect_ctx = trace.set_span_in_context(span)
        state.connect_start = start
        state.phase_mark = start
        state.attempts += 1
        state.connect_phases = set()
        return span

    @staticmethod
    def _duration(attrs: Mapping[str, AttrValue], key: str) -> float:
        value = attrs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return 0.0

    def _phase(self, state: _Target, phase: str, at: float, duration: float) -> None:
        """Record one phase of the open attempt, ending at *at*.

        Without an explicit *duration* the phase runs from the previous phase
        boundary (the attempt's start or the end of the previous phase).
        """
        if phase in state.connect_phases or state.connect_span is None:
            return
        if duration <= 0.0:
            duration = max(0.0, at - state.phase_mark)
        state.phase_mark = max(state.phase_mark, at)
        state.connect_phases.add(phase)
        state.connect_span.add_event(phase, {"duration_s": duration}, _ns(at))
        child = self._tracer.start_span(
            f"{N.S_CONNECT}.{phase}",
            context=state.connect_ctx,
            kind=SpanKind.INTERNAL,
            attributes=state.base,
            start_time=_ns(at - duration),
        )
        child.end(end_time=_ns(at))

    def _end_connect(self, state: _Target, at: float | None, *, ok: bool, why: str | None) -> None:
        span = state.connect_span
        if span is None:
            return
        if ok and at is not None and "channel" in state.connect_phases:
            # after the channel: the WebSocket upgrade and subscription, up to
            # the moment the connection was known to be up
            self._phase(state, "handshake", at, 0.0)
        if ok:
            span.set_status(Status(StatusCode.OK))
        else:
            span.set_status(Status(StatusCode.ERROR, why))
            if why:
                span.set_attribute(N.A_ERROR_TYPE, why)
        span.set_attribute("genesys_pulse.connect.phases", sorted(state.connect_phases))
        span.end(end_time=_ns(at) if at is not None else None)
        state.ended_connect_ctx = state.connect_ctx
        state.connect_span = None
        state.connect_ctx = None

    def _span_event_attrs(self, e: Event) -> dict[str, AttrValue]:
        attrs = redact_attributes(e.attributes, extra_secrets=self._secrets)
        renames = _EVENT_KEYS.get(e.name)
        if renames is not None:
            for old, new in renames.items():
                if old in attrs:
                    attrs[new] = attrs.pop(old)
        if e.name == "timeout":
            probe = _probe_of(e.attributes)
            if probe is not None:
                attrs.pop("probe", None)
                attrs.pop("type", None)
                attrs[N.A_PING_TYPE] = probe
            timeout = e.attributes.get("timeout_s", e.attributes.get("timeout"))
            if not isinstance(timeout, int | float) or isinstance(timeout, bool):
                state = self._targets.get(e.target)
                timeout = state.timeouts.get(probe or "") if state is not None else None
            if timeout is not None:
                attrs["timeout_s"] = float(timeout)
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

    # ---- logs

    def _emit_log(self, state: _Target | None, e: Event) -> None:
        kind = audit_kind(e)
        if kind is None:
            return
        attrs = self._span_event_attrs(e)
        if state is not None:
            for key, value in state.base.items():
                # the event's own keys win (a failed connect's server.address
                # names the host that failed, e.g. the login host)
                attrs.setdefault(key, value)
            # an attempt's records go in its connect span (also the one this
            # very event just ended); everything else in the window span
            connect_ctx = state.connect_ctx or state.ended_connect_ctx
            ctx = (
                connect_ctx
                if connect_ctx is not None and e.name in _LOG_IN_CONNECT
                else state.window_ctx
            )
        else:
            ctx = None
        if (
            e.name in ("monitor.started", "monitor.stopped")
            and self._config_json is not None
            and "config" not in attrs
        ):
            attrs["config"] = self._config_json
        self._logger.emit(
            timestamp=_ns(e.at),
            context=ctx,
            severity_number=SeverityNumber(kind.severity_number),
            severity_text=kind.severity_text,
            body=_body(e, kind.kind),
            attributes=attrs,
            event_name=kind.event_name,
        )


_LOG_IN_CONNECT: Final = frozenset(
    {
        "token.issued",
        "token.refresh",
        "token.failed",
        "channel.created",
        "connection.established",
        "connection.restored",
        "connection.lost",
    }
)


def _body(e: Event, kind: str) -> str:
    """A short human-readable line for the log record body (no secrets: names only)."""
    who = "monitor" if e.target in _MONITOR_WIDE else f"target {e.target}"
    a = e.attributes
    if kind == "timeout":
        probe = _probe_of(a) or "probe"
        return f"{who}: {probe} ping timed out"
    if kind in ("threshold.breach", "threshold.clear"):
        return f"{who}: {kind} {a.get('metric', '?')} level={a.get('level', '?')}"
    if kind in ("connection.lost", "reconnect"):
        code = a.get("close_code", a.get("code"))
        return f"{who}: {kind}" + (f" close_code={code}" if code is not None else "")
    return f"{who}: {kind}"
