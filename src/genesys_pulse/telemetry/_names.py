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
#: The cause of a failed connect on ``reconnect`` / ``http.retry`` events (with
#: ``server.address``): see ``transport.FailureCause`` and docs/telemetry.md.
A_ERROR_TYPE: Final = "error.type"
A_ERROR_MESSAGE: Final = "error.message"
A_OUTAGE_UNCERTAINTY: Final = "genesys.outage.uncertainty_s"
"""On ``connection.restored``: seconds since the last failed reconnect attempt -- the
endpoint came back at most this long before the monitor saw it (``outage_s`` is an
upper bound; ``outage_s - genesys.outage.uncertainty_s`` a lower bound)."""

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
