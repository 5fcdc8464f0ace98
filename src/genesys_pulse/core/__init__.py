"""The pure core: estimators, windows, threshold machines, schedules,
backoff, Genesys message parsing and configuration.

Nothing in this package opens a socket, reads a clock, a file or the
environment, or imports trio (``lint-imports`` and tests/contracts check it).
Every function takes the time it needs as an argument, so it can be tested
with plain data (the h11/wsproto way).

The configuration model lives in :mod:`genesys_pulse.core.config` (import it
from there; reading the file and ``os.environ`` is
:mod:`genesys_pulse.config_sources`); everything else public is re-exported here.
"""

from ._backoff import Backoff
from ._duration import DURATION_UNITS, parse_duration
from ._events import (
    CONNECT_PHASES,
    E_CONNECT_PHASE,
    EVENT_ATTRS,
    AttrSpec,
    Sink,
    contract_problems,
)
from ._health import DEFAULT_LAG_WINDOW, HealthSnapshot, TargetHealth, liveness, readiness
from ._heartbeat import HeartbeatGap, HeartbeatTracker
from ._jitter import JitterTracker, ipdv
from ._looplag import DEFAULT_STALL_THRESHOLD, LoopLagEstimator
from ._messages import (
    APP_PING,
    DEFAULT_MAX_MESSAGE_SIZE,
    HEARTBEAT,
    PONG,
    ChannelFailure,
    Heartbeat,
    Malformed,
    Notification,
    Pong,
    ServerMessage,
    SocketClosing,
    SubscribeAck,
    Unknown,
    app_ping_message,
    parse_server_message,
    subscribe_message,
)
from ._pong import (
    PREVIOUS_UNANSWERED,
    AppPongMatcher,
    ControlPongMatcher,
    Resolution,
    control_payload,
)
from ._proxy import ProxyRules, ProxyURL
from ._quantiles import LogHistogram
from ._redact import RedactingFilter
from ._regions import REGIONS, Region, find_region
from ._report import CATEGORIES, EventMark, ProbeSummary, ReportData, parse_report_lines, summarise
from ._schedule import ProbeSchedule, first_window_end, phase_for, shard_of, stable_hash64, stagger
from ._stats import ProbeStats, StabilityWindow, TimeoutCounter
from ._thresholds import Direction, ThresholdMachine, Transition, severity
from ._timers import RANK_DEADLINE, RANK_DUE, TimerHeap
from ._window import RttWindow, nearest_rank
from .model import EVENT_NAMES, AttrValue, Event, Level, ProbeKind, Sample

__all__ = [
    "APP_PING",
    "CATEGORIES",
    "CONNECT_PHASES",
    "DEFAULT_LAG_WINDOW",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_STALL_THRESHOLD",
    "DURATION_UNITS",
    "EVENT_ATTRS",
    "EVENT_NAMES",
    "E_CONNECT_PHASE",
    "HEARTBEAT",
    "PONG",
    "PREVIOUS_UNANSWERED",
    "RANK_DEADLINE",
    "RANK_DUE",
    "REGIONS",
    "AppPongMatcher",
    "AttrSpec",
    "AttrValue",
    "Backoff",
    "ChannelFailure",
    "ControlPongMatcher",
    "Direction",
    "Event",
    "EventMark",
    "HealthSnapshot",
    "Heartbeat",
    "HeartbeatGap",
    "HeartbeatTracker",
    "JitterTracker",
    "Level",
    "LogHistogram",
    "LoopLagEstimator",
    "Malformed",
    "Notification",
    "Pong",
    "ProbeKind",
    "ProbeSchedule",
    "ProbeStats",
    "ProbeSummary",
    "ProxyRules",
    "ProxyURL",
    "RedactingFilter",
    "Region",
    "ReportData",
    "Resolution",
    "RttWindow",
    "Sample",
    "ServerMessage",
    "Sink",
    "SocketClosing",
    "StabilityWindow",
    "SubscribeAck",
    "TargetHealth",
    "ThresholdMachine",
    "TimeoutCounter",
    "TimerHeap",
    "Transition",
    "Unknown",
    "app_ping_message",
    "contract_problems",
    "control_payload",
    "find_region",
    "first_window_end",
    "ipdv",
    "liveness",
    "nearest_rank",
    "parse_duration",
    "parse_report_lines",
    "parse_server_message",
    "phase_for",
    "readiness",
    "severity",
    "shard_of",
    "stable_hash64",
    "stagger",
    "subscribe_message",
    "summarise",
]
