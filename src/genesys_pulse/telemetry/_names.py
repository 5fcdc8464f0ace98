"""The telemetry contract: metric, span, attribute and event names.

These names are public and stable (see ``docs/telemetry.md``). Changing one
is a breaking change for every dashboard and alert built on it.
"""

from __future__ import annotations

from typing import Final

INSTRUMENTATION_SCOPE: Final = "genesys_pulse"

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
A_TARGET: Final = "monitor.target"
A_ENVIRONMENT: Final = "genesys.environment"
A_SERVER_ADDRESS: Final = "server.address"
A_PING_TYPE: Final = "genesys.ping.type"
A_REASON: Final = "reason"
A_METRIC: Final = "metric"

A_MONITOR_INSTANCE: Final = "genesys.monitor.instance"
"""On every metric point: the process that measured it (``<host>:<pid>``), so a
backend can tell monitors apart when more than one runs for a configuration."""
A_CHANNEL_COUNT: Final = "genesys.channel.count"
A_CHANNEL_LIMIT: Final = "genesys.channel.limit"
A_CHANNEL_RESERVE: Final = "genesys.channel.reserve"

# Events with a name of their own (not ``genesys_pulse.<monitor event>``)
E_CHANNEL_BUDGET_EXHAUSTED: Final = "genesys.channel.budget_exhausted"

#: The only keys a ``target_attrs`` mapping may contribute to metric points.
TARGET_ATTR_KEYS: Final = frozenset({A_ENVIRONMENT, A_SERVER_ADDRESS})

# Spans
S_CONNECT: Final = "genesys_pulse.connect"
S_PROBE_WINDOW: Final = "genesys_pulse.probe_window"

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
