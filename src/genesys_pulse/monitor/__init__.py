"""The monitor: per-target supervisors, probing on absolute schedules, rotation, callbacks.

:func:`run_monitor` runs every target of a configuration until cancelled,
delivering :class:`~genesys_pulse.core.model.Sample` and
:class:`~genesys_pulse.core.model.Event` records to synchronous
:class:`Sink` objects and to isolated user callbacks.
"""

from ._dispatch import MONITOR_TARGET, CallbackStats, Dispatcher, Sink
from ._monitor import AuthenticationRefused, Monitor, MonitorError, run_monitor, select_shard
from ._supervisor import TargetAuthRefused

__all__ = [
    "MONITOR_TARGET",
    "AuthenticationRefused",
    "CallbackStats",
    "Dispatcher",
    "Monitor",
    "MonitorError",
    "Sink",
    "TargetAuthRefused",
    "run_monitor",
    "select_shard",
]
