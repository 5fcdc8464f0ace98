"""The metric side of :class:`~genesys_pulse.telemetry.OTelSink`: its instruments.

:class:`Instruments` creates the synchronous instruments of one sink (the
histograms, the reconnect counter, the connection, stability and threshold
gauges) and shares the observable ones (pings and timeouts counters, the
smoothed-jitter gauge) with every sink on the same meter provider
(:class:`_Observed`). The sink keeps the observable series' values in plain
Python numbers (:class:`Series`); the callbacks report them when a reader
collects, so the probing path makes only the histogram records the contract
requires.

A forked child must not re-export what its parent measured:
:func:`_after_fork_in_child` resets the observable series and removes this
plugin's instruments from the SDK's storage (see its docstring).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from genesys_pulse._version import __version__
from genesys_pulse.core.model import AttrValue
from genesys_pulse.telemetry import _names as N

__all__ = ["Instruments", "Series"]

_log = logging.getLogger("genesys_pulse.telemetry")

Attrs = Mapping[str, AttrValue]


class Series:
    """What the observable instruments report for one attribute set (a target and
    probe type): cumulative pings and timeouts, and the last smoothed jitter."""

    __slots__ = ("attrs", "jitter", "jittered", "pings", "timeouts")

    def __init__(self, attrs: Attrs) -> None:
        self.attrs = attrs
        self.pings = 0
        self.timeouts = 0
        self.jitter = 0.0
        self.jittered = False
        """True once a smoothed-jitter value was computed (the gauge series exists)."""


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
        self._by_attrs: dict[tuple[tuple[str, AttrValue], ...], Series] = {}
        self._all: list[Series] = []
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

    def series(self, attrs: Attrs) -> Series:
        """The series of *attrs*, created (and reported from then on) if new."""
        key = tuple(attrs.items())
        with self._lock:
            series = self._by_attrs.get(key)
            if series is None:
                series = self._by_attrs[key] = Series(attrs)
                self._all.append(series)
        return series

    def _failed(self) -> None:
        self.errors += 1
        if self.errors == 1:
            _log.warning("genesys-pulse OTel sink failed in a metric callback (counted)")
        else:
            _log.debug("genesys-pulse OTel sink failed in a metric callback", exc_info=True)

    def _observe(self, value: Callable[[Series], float | None]) -> Iterable[Observation]:
        """One observation per series whose ``value`` is not ``None``."""
        if os.getpid() != self.pid:
            return ()  # forked, not yet reset: never the parent's numbers
        try:
            out = []
            for s in self._all:
                v = value(s)
                if v is not None:
                    out.append(Observation(v, s.attrs))
            return out
        except Exception:
            self._failed()
            return ()

    def _observe_pings(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(lambda s: s.pings or None)

    def _observe_timeouts(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(lambda s: s.timeouts or None)

    def _observe_jitter(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(lambda s: s.jitter if s.jittered else None)


_OBSERVED: weakref.WeakKeyDictionary[object, _Observed] = weakref.WeakKeyDictionary()
_OBSERVED_LOCK: Final = threading.Lock()
_LIVE: weakref.WeakSet[Instruments] = weakref.WeakSet()
"""Every sink's instruments in this process (for the fork handler)."""


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


class Instruments:
    """One sink's instruments on one meter provider (``None``: the global one).

    The record and set methods are bound once as attributes, so the probing
    path makes no attribute lookups on the instruments.
    """

    def __init__(self, meter_provider: metrics.MeterProvider | None) -> None:
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self.provider: object = provider
        meter = metrics.get_meter(
            N.INSTRUMENTATION_SCOPE, __version__, provider, schema_url=N.SCHEMA_URL
        )
        b = list(N.SECONDS_BUCKETS)
        rtt = meter.create_histogram(
            N.M_RTT,
            unit="s",
            description="Round-trip time of a WebSocket ping (control frame or Genesys application ping).",
            explicit_bucket_boundaries_advisory=b,
        )
        jitter = meter.create_histogram(
            N.M_JITTER,
            unit="s",
            description="IPDV: |RTT_k - RTT_(k-1)| between consecutive answered pings (RFC 3393).",
            explicit_bucket_boundaries_advisory=b,
        )
        # genesys.websocket.pings, .ping.timeouts and .ping.jitter.smoothed
        self.observed = _observed_for(provider, meter)
        stability = meter.create_gauge(
            N.M_STABILITY,
            unit="1",
            description="Share of probe slots answered in time over the stability window (0..1).",
        )
        gap = meter.create_histogram(
            N.M_HEARTBEAT_GAP,
            unit="s",
            description="Time between two server heartbeats on the notification channel.",
            explicit_bucket_boundaries_advisory=b,
        )
        reconnects = meter.create_counter(
            N.M_RECONNECTS,
            unit="{reconnect}",
            description="Reconnections of the monitored WebSocket, by reason.",
        )
        connection_state = meter.create_gauge(
            N.M_CONNECTION_STATE,
            unit="1",
            description="1 while the WebSocket is connected, else 0.",
        )
        threshold_state = meter.create_gauge(
            N.M_THRESHOLD_STATE,
            unit="1",
            description="Threshold state per metric: 0 ok, 1 warning, 2 critical.",
        )
        loop_lag = meter.create_histogram(
            N.M_LOOP_LAG,
            unit="s",
            description="How late the monitor's event loop sent each probe slot relative to its absolute schedule.",
            explicit_bucket_boundaries_advisory=b,
        )
        self.instruments: tuple[object, ...] = (
            rtt,
            jitter,
            stability,
            gap,
            reconnects,
            connection_state,
            threshold_state,
            loop_lag,
        )
        self.record_rtt = rtt.record
        self.record_jitter = jitter.record
        self.record_lag = loop_lag.record
        self.record_gap = gap.record
        self.set_stability = stability.set
        self.add_reconnect = reconnects.add
        self.set_connection_state = connection_state.set
        self.set_threshold_state = threshold_state.set
        _LIVE.add(self)

    @property
    def errors(self) -> int:
        """Failures of the metric callbacks of this provider (counted, never raised)."""
        return self.observed.errors

    def series(self, attrs: Attrs) -> Series:
        """The observable series of *attrs* on this provider."""
        return self.observed.series(attrs)


def _after_fork_in_child() -> None:
    """A forked child must not re-export what its parent measured.

    The child inherits a copy of the host's SDK state: its metric storage holds
    the parent's cumulative histograms, counters and last gauge values of this
    plugin, and its periodic reader, restarted after the fork, would export them
    from the child under the same attributes, forever frozen (a worker reporting
    ``connection.state = 1`` during an outage its parent reports as 0). The
    observable series are reset and the plugin's instruments are removed from
    the SDK's storage, so a monitor the child may start later begins new series
    (the sinks themselves are retired by the sink module's own fork handler:
    the monitor's thread does not exist in the child). The storage is not API:
    the removal is feature-detected, and where it is impossible one WARNING says so.
    """
    try:
        instruments: dict[int, tuple[object, list[object]]] = {}
        for observed_provider, observed in list(_OBSERVED.items()):
            observed.forget_after_fork()
            instruments.setdefault(id(observed_provider), (observed_provider, []))[1].extend(
                observed.instruments
            )
        for inst in list(_LIVE):
            instruments.setdefault(id(inst.provider), (inst.provider, []))[1].extend(
                inst.instruments
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
