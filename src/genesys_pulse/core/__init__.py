"""The pure core: estimators, windows, threshold machines, schedules,
backoff, Genesys message parsing and configuration.

Nothing in this package opens a socket, reads a clock or imports trio.
Every function takes the time it needs as an argument, so it can be tested
with plain data (the h11/wsproto way).

The configuration model lives in :mod:`genesys_pulse.core.config` (import it
from there); everything else public is re-exported here.
"""

from ._backoff import Backoff
from ._heartbeat import HeartbeatGap, HeartbeatTracker
from ._jitter import JitterTracker, ipdv
from ._looplag import DEFAULT_STALL_THRESHOLD, LoopLagEstimator
from ._messages import (
    APP_PING,
    DEFAULT_MAX_MESSAGE_SIZE,
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
from ._pong import AppPongMatcher, ControlPongMatcher, Resolution, control_payload
from ._quantiles import LogHistogram
from ._schedule import ProbeSchedule, phase_for, shard_of, stable_hash64, stagger
from ._stats import ProbeStats, StabilityWindow, TimeoutCounter
from ._thresholds import Direction, ThresholdMachine, Transition, severity
from ._window import RttWindow, nearest_rank
from .model import EVENT_NAMES, AttrValue, Event, Level, ProbeKind, Sample

__all__ = [
    "APP_PING",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_STALL_THRESHOLD",
    "EVENT_NAMES",
    "AppPongMatcher",
    "AttrValue",
    "Backoff",
    "ChannelFailure",
    "ControlPongMatcher",
    "Direction",
    "Event",
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
    "Resolution",
    "RttWindow",
    "Sample",
    "ServerMessage",
    "SocketClosing",
    "StabilityWindow",
    "SubscribeAck",
    "ThresholdMachine",
    "TimeoutCounter",
    "Transition",
    "Unknown",
    "app_ping_message",
    "control_payload",
    "ipdv",
    "nearest_rank",
    "parse_server_message",
    "phase_for",
    "severity",
    "shard_of",
    "stable_hash64",
    "stagger",
    "subscribe_message",
]
