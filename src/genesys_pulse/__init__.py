"""genesys-pulse: know whether a Genesys Cloud real-time connection is healthy.

The public surface is re-exported here; everything else lives in private
modules and may change.
"""

from genesys_pulse._version import __version__
from genesys_pulse.core.model import EVENT_NAMES, Event, Level, ProbeKind, Sample

__all__ = ["EVENT_NAMES", "Event", "Level", "ProbeKind", "Sample", "__version__"]
