"""The telemetry contract: metric, span, attribute and event names.

These names are public and stable (see ``docs/telemetry.md``). Changing one
is a breaking change for every dashboard and alert built on it: the
definitions under ``dashboards/`` are checked against this module by
``tests/dashboards``, so a rename here fails a test until they follow.

Naming (OpenTelemetry's attribute naming guidance): semantic-convention
attributes where one exists (``error.type``, ``server.address``,
``server.port``), the ``genesys.*`` namespace for everything else, so that no
key or event name collides with other instrumentation in a shared backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from genesys_pulse.core import CONNECT_PHASES as _CONNECT_PHASES
from genesys_pulse.core import E_CONNECT_PHASE as _E_CONNECT_PHASE

INSTRUMENTATION_SCOPE: Final = "genesys_pulse"

#: The semantic-conventions version whose definitions the semconv attributes
#: below follow: the newest the pinned ``opentelemetry-semantic-conventions``
#: knows (a test checks it against that package's ``Schemas``). The three used
#: (``server.address``, ``server.port``, ``error.type``) are stable, so an older
#: consumer reads them the same. Set as ``schema_url`` on the tracer, meter and
#: logger.
SEMCONV_VERSION: Final = "1.44.0"
SCHEMA_URL: Final = "https://opentelemetry.io/schemas/" + SEMCONV_VERSION

# Metrics
M_RTT: Final = "genesys.websocket.ping.rtt"
M_JITTER: Final = "genesys.websocket.ping.jitter"
M_JITTER_SMOOTHED: Final = "genesys.websocket.ping.jitter.smoothed"
M_PINGS: Final = "genesys.websocket.pings"
M_TIMEOUTS: Final = "genesys.websocket.ping.timeouts"
M_STABILITY: Final = "genesys.websocket.stability"
M_HEARTBEAT_GAP: Final = "genesys.websocket.heartbeat.gap"
M_RECONNECTS: Final = "genesys.websocket.reconnects"
M_CONNECTION_STATE: Final = "genesys.websocket.connection.state"
M_THRESHOLD_STATE: Final = "genesys.websocket.threshold.state"
M_LOOP_LAG: Final = "genesys.monitor.loop.lag"

ALL_METRICS: Final = (
    M_RTT,
    M_JITTER,
    M_JITTER_SMOOTHED,
    M_PINGS,
    M_TIMEOUTS,
    M_STABILITY,
    M_HEARTBEAT_GAP,
    M_RECONNECTS,
    M_CONNECTION_STATE,
    M_THRESHOLD_STATE,
    M_LOOP_LAG,
)

#: Histogram buckets for every seconds-valued histogram: 1 ms to 30 s.
SECONDS_BUCKETS: Final = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
)

# Attributes
A_TARGET: Final = "genesys.monitor.target"
A_ENVIRONMENT: Final = "genesys.environment"
A_SERVER_ADDRESS: Final = "server.address"  # semconv
A_SERVER_PORT: Final = "server.port"  # semconv; on the connect span only
A_ERROR_TYPE: Final = "error.type"  # semconv; on a failed connect span
A_PING_TYPE: Final = "genesys.ping.type"
A_REASON: Final = "genesys.reconnect.reason"
A_METRIC: Final = "genesys.threshold.metric"
#: ``error.type`` is also the cause of a failed connect on ``reconnect`` /
#: ``http.retry`` events (with ``server.address``), and ``error.message`` its
#: text: see ``transport.FailureCause`` and docs/telemetry.md.
A_ERROR_MESSAGE: Final = "error.message"  # semconv (development)
A_OUTAGE_UNCERTAINTY: Final = "genesys.outage.uncertainty_s"
"""On ``connection.restored``: seconds since the last failed reconnect attempt -- the
endpoint came back at most this long before the monitor saw it (``outage_s`` is an
upper bound; ``outage_s - genesys.outage.uncertainty_s`` a lower bound)."""

A_MONITOR_INSTANCE: Final = "genesys.monitor.instance"
"""On every metric point: the process that measured it (``<host>:<pid>``), so a
backend can tell monitors apart when more than one runs for a configuration."""
A_CHANNEL_COUNT: Final = "genesys.channel.count"
A_CHANNEL_LIMIT: Final = "genesys.channel.limit"
A_CHANNEL_RESERVE: Final = "genesys.channel.reserve"

# Events with a name of their own (not ``genesys_pulse.<monitor event>``)
E_CHANNEL_BUDGET_EXHAUSTED: Final = "genesys.channel.budget_exhausted"
#: The monitor event reporting one phase of a connection attempt when it ends
#: (``phase``: login, channel, subscribe, handshake; ``duration_s``): the
#: ``genesys_pulse.connect.<phase>`` child spans and span events are made from
#: it. Not an audit record. Defined with the typed event contract in ``core``.
E_CONNECT_PHASE: Final = _E_CONNECT_PHASE
#: Connect phases, in order (``genesys_pulse.connect.<phase>`` spans).
CONNECT_PHASES: Final = _CONNECT_PHASES

#: The only keys a ``target_attrs`` mapping may contribute to metric points.
TARGET_ATTR_KEYS: Final = frozenset({A_ENVIRONMENT, A_SERVER_ADDRESS})
#: Keys a ``target_attrs`` mapping may contribute to the connect span only.
CONNECT_ATTR_KEYS: Final = frozenset({A_SERVER_PORT})
#: Attribute keys on every metric point (the last two when known).
COMMON_METRIC_ATTRS: Final = (A_TARGET, A_ENVIRONMENT, A_SERVER_ADDRESS)

#: Values of ``genesys.ping.type``.
PING_TYPES: Final = ("control", "application", "heartbeat")
#: Values of ``genesys.websocket.threshold.state``.
THRESHOLD_LEVELS: Final[Mapping[int, str]] = {0: "ok", 1: "warning", 2: "critical"}

# Spans
S_CONNECT: Final = "genesys_pulse.connect"
S_PROBE_WINDOW: Final = "genesys_pulse.probe_window"

# Span events on the probe-window span: monitor event name -> span event name.
# The same facts as the log records (``genesys_pulse.<kind>``), named in the
# ``genesys.*`` namespace; on them ``metric``/``probe`` become
# ``genesys.threshold.metric``/``genesys.ping.type`` and a reconnect's
# ``reason`` ``genesys.reconnect.reason``, the keys the metrics use.
E_PING_TIMEOUT: Final = "genesys.ping.timeout"
E_THRESHOLD_BREACH: Final = "genesys.threshold.breach"
E_THRESHOLD_CLEAR: Final = "genesys.threshold.clear"
SPAN_EVENT_NAMES: Final[Mapping[str, str]] = {
    "timeout": E_PING_TIMEOUT,
    "threshold.breach": E_THRESHOLD_BREACH,
    "threshold.clear": E_THRESHOLD_CLEAR,
    "socket_closing": "genesys.socket_closing",
    "rotation": "genesys.channel.rotation",
    "reconnect": "genesys.reconnect",
    "connection.lost": "genesys.connection.lost",
    "connection.restored": "genesys.connection.restored",
    "channel.expired": "genesys.channel.expired",
    "channel.budget_exhausted": E_CHANNEL_BUDGET_EXHAUSTED,
    "token.failed": "genesys.token.failed",
    "http.retry": "genesys.http.retry",
    "local_stall": "genesys.monitor.local_stall",
    "callback.failed": "genesys.monitor.callback.failed",
}

#: Threshold metrics the monitor evaluates per probe type (``threshold.state``
#: starts at 0 for each once a sample of that type was seen).
THRESHOLD_METRICS_BY_KIND: Final = {
    "control": ("rtt", "jitter", "consecutive_timeouts", "stability"),
    "application": ("rtt", "jitter", "consecutive_timeouts", "stability"),
    "heartbeat": ("heartbeat_silence",),
}

#: Reconnect reasons reported as-is; anything else is reported as ``other``.
RECONNECT_REASONS: Final = frozenset(
    {
        "socket_closing",
        "expiry",
        "token",
        "error",
        "timeout",
        "heartbeat",
        "close",
        "server_close",
        "network",
        "rotation",
        "rotation_failed",
        "channel_expiry",
        "heartbeat_silence",
        "closed",
        "takeover",
        "stall",
        "other",
    }
)


InstrumentKind = Literal["histogram", "counter", "gauge"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the contract, as an exporter sees it.

    ``instrument``: ``counter`` is a monotonic cumulative (or delta) sum,
    whether the SDK instrument is synchronous or observable; ``gauge`` likewise.
    ``attributes``: the keys a point carries besides :data:`COMMON_METRIC_ATTRS`.
    """

    name: str
    instrument: InstrumentKind
    unit: str
    attributes: tuple[str, ...] = ()


#: Every metric the sink reports: instrument kind, unit and attribute keys.
METRICS: Final[Mapping[str, MetricSpec]] = {
    m.name: m
    for m in (
        MetricSpec(M_RTT, "histogram", "s", (A_PING_TYPE,)),
        MetricSpec(M_JITTER, "histogram", "s", (A_PING_TYPE,)),
        MetricSpec(M_JITTER_SMOOTHED, "gauge", "s", (A_PING_TYPE,)),
        MetricSpec(M_PINGS, "counter", "{ping}", (A_PING_TYPE,)),
        MetricSpec(M_TIMEOUTS, "counter", "{timeout}", (A_PING_TYPE,)),
        MetricSpec(M_STABILITY, "gauge", "1", (A_PING_TYPE,)),
        MetricSpec(M_HEARTBEAT_GAP, "histogram", "s", (A_PING_TYPE,)),
        MetricSpec(M_RECONNECTS, "counter", "{reconnect}", (A_REASON,)),
        MetricSpec(M_CONNECTION_STATE, "gauge", "1"),
        MetricSpec(M_THRESHOLD_STATE, "gauge", "1", (A_METRIC, A_PING_TYPE)),
        MetricSpec(M_LOOP_LAG, "histogram", "s"),
    )
}
