"""OpenTelemetry auto-instrumentation entry point for genesys-pulse.

Install the package from a checkout (``pip install .``, or a wheel built
with ``pip wheel --no-deps .``; it is not published on a package index),
set ``GENESYS_PULSE_CONFIG`` (or the ``GENESYS_PULSE_*`` variables) and
the Genesys credentials, and run the
service under ``opentelemetry-instrument``: the monitor starts in a daemon
thread and reports through the providers the host configured. Disable it
with ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=genesys_pulse``.
"""

from genesys_pulse.instrumentor._instrumentor import FORKED_WORKERS_ENV, GenesysPulseInstrumentor
from genesys_pulse.instrumentor._thread import MonitorThread
from genesys_pulse.instrumentor.version import __version__

__all__ = ["FORKED_WORKERS_ENV", "GenesysPulseInstrumentor", "MonitorThread", "__version__"]
