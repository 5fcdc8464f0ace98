"""The monitor: per-target supervisors, probing on absolute schedules, rotation, callbacks.

:func:`run_monitor` runs every target of a configuration until cancelled,
delivering :class:`~genesys_pulse.core.model.Sample` and
:class:`~genesys_pulse.core.model.Event` records to synchronous
:class:`Sink` objects and to isolated user callbacks. :func:`take_snapshot`
gives readers (the live dashboard) an immutable picture of the targets.
"""

from ._dispatch import MONITOR_TARGET, CallbackStats, Dispatcher, Sink
from ._genesys_supervisor import TargetAuthRefused
from ._monitor import AuthenticationRefused, Monitor, MonitorError, run_monitor, select_shard
from ._snapshot import (
    BackoffSnapshot,
    KindSnapshot,
    MonitorSnapshot,
    TargetSnapshot,
    take_snapshot,
)

__all__ = [
    "MONITOR_TARGET",
    "AuthenticationRefused",
    "BackoffSnapshot",
    "CallbackStats",
    "Dispatcher",
    "KindSnapshot",
    "Monitor",
    "MonitorError",
    "MonitorSnapshot",
    "Sink",
    "TargetAuthRefused",
    "TargetSnapshot",
    "run_monitor",
    "select_shard",
    "take_snapshot",
]
