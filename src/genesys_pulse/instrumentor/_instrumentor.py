"""``GenesysPulseInstrumentor``: the monitor inside any OpenTelemetry-instrumented host.

Under ``opentelemetry-instrument`` the auto-instrumentation loader finds this
class through the ``opentelemetry_instrumentor`` entry point named
``genesys_pulse`` (so ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=genesys_pulse``
skips it before it is even imported) and calls :meth:`instrument` after the
configurator has installed the global providers.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Collection, Mapping
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from genesys_pulse.instrumentor._hostlock import HostLock, helper_interpreter, lock_key
from genesys_pulse.instrumentor._thread import MonitorThread
from genesys_pulse.instrumentor.package import _instruments

__all__ = ["FORKED_WORKERS_ENV", "LOCK_DIR_ENV", "GenesysPulseInstrumentor"]

_log = logging.getLogger("genesys_pulse.instrumentor")

FORKED_WORKERS_ENV = "GENESYS_PULSE_IN_FORKED_WORKERS"
"""Set to ``1`` to let forked workers stand by to take over the host's monitor when its
process ends (default: a forked child never monitors). Either way at most one process
per host and configuration probes (see :mod:`._hostlock`). Not a configuration by
itself: set alone, the plugin stays inert and silent."""

LOCK_DIR_ENV = "GENESYS_PULSE_LOCK_DIR"
"""Where the one-monitor-per-host lock file lives (default: the temporary directory)."""

_NOT_CONFIG = frozenset({FORKED_WORKERS_ENV, LOCK_DIR_ENV})

STANDBY_POLL = 1.0
"""Seconds between two attempts of a standing-by process to take the host lock."""

STOP_TIMEOUT = 5.0
"""Seconds ``uninstrument()`` and the exit hook wait for the monitor thread."""

_fork_hook_lock = threading.Lock()
_fork_hook_registered = False


class GenesysPulseInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Runs the genesys-pulse monitor in a daemon thread of the host process.

    ``instrument(**kwargs)`` accepts:

    * ``tracer_provider``, ``meter_provider``, ``logger_provider``: where the
      monitor reports (default: the global providers the host configured);
    * ``config``: a :class:`~genesys_pulse.core.config.MonitorConfig` (default:
      loaded from ``GENESYS_PULSE_CONFIG`` or the ``GENESYS_PULSE_*`` variables);
    * ``env``: the environment mapping to read (default ``os.environ``);
    * ``connector``: a transport connector (tests, in-process emulators).

    It never raises into the host: a missing or invalid configuration is
    logged once (at ERROR; at DEBUG when nothing at all is configured) and the
    plugin stays inert.

    One monitor per host and configuration: the process that takes the
    :class:`~genesys_pulse.instrumentor._hostlock.HostLock` probes; any other
    stands by (a thread trying the lock every :data:`STANDBY_POLL` seconds)
    and takes over when the holder ends. Helper interpreters
    (multiprocessing's resource tracker, fork server) do nothing at all.
    """

    _monitor: MonitorThread | None = None
    _kwargs: dict[str, Any] | None = None
    _lock: HostLock | None = None
    _standby: threading.Thread | None = None
    _standby_stop: threading.Event | None = None
    _config: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """None: the monitor patches no library."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        try:
            self._start(kwargs)
        except Exception as exc:  # the host must start whatever happens
            self._monitor = None
            if self._lock is not None:
                self._lock.release()
            _log.error("genesys-pulse: monitor not started: %s", _safe(exc))

    def _uninstrument(self, **kwargs: Any) -> None:
        try:
            atexit.unregister(self._at_exit)
            self._stop(STOP_TIMEOUT)
        except Exception:
            _log.debug("genesys-pulse: uninstrument failed", exc_info=True)
        self._kwargs = None

    # ------------------------------------------------------------------ internals

    @property
    def running(self) -> bool:
        """Whether a monitor thread is running in this process."""
        return self._monitor is not None and self._monitor.alive

    @property
    def standing_by(self) -> bool:
        """Whether this process waits to take over the host's monitor from another process."""
        return self._standby is not None and self._standby.is_alive()

    def _start(self, kwargs: Mapping[str, Any]) -> None:
        from genesys_pulse.config_sources import load_config
        from genesys_pulse.core.config import MonitorConfig, missing_credentials, redacted

        helper = helper_interpreter()
        if helper is not None:
            _log.debug("genesys-pulse: %s is a helper process; plugin inert", helper)
            return
        env: Mapping[str, str] = kwargs.get("env") or os.environ
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            _log.info("genesys-pulse: OTEL_SDK_DISABLED=true; plugin inert (no probing)")
            return
        config = kwargs.get("config")
        if config is None:
            if not any(k.startswith("GENESYS_PULSE_") and k not in _NOT_CONFIG for k in env):
                _log.debug("genesys-pulse: no GENESYS_PULSE_* configuration; plugin inert")
                return
            config = load_config(None, env)
        if not isinstance(config, MonitorConfig):
            raise TypeError("config= must be a MonitorConfig")
        missing = missing_credentials(config)
        if missing:
            raise ValueError("credentials are not set: set " + ", ".join(missing))
        if not config.targets:
            raise ValueError("no targets configured")
        self._kwargs = dict(kwargs)
        self._config = config
        self._lock = HostLock(lock_key(redacted(config)), env.get(LOCK_DIR_ENV) or None)
        atexit.register(self._at_exit)
        _register_fork_hook()
        self._elect()

    def _elect(self) -> None:
        """Monitor now if this process takes the host lock, else stand by for it."""
        lock = self._lock
        assert lock is not None
        if lock.try_acquire():
            self._launch()
            return
        _log.info(
            "genesys-pulse: process %s monitors this configuration on this host; "
            "this process (%d) stands by to take over if it ends",
            lock.holder() or "?",
            os.getpid(),
        )
        stop = threading.Event()
        self._standby_stop = stop
        self._standby = threading.Thread(
            target=self._stand_by, args=(lock, stop), name="genesys-pulse-standby", daemon=True
        )
        self._standby.start()

    def _stand_by(self, lock: HostLock, stop: threading.Event) -> None:
        try:
            while not stop.wait(STANDBY_POLL):
                if lock.try_acquire():
                    if stop.is_set():
                        lock.release()
                        return
                    _log.info("genesys-pulse: took over the host's monitor (pid %d)", os.getpid())
                    self._launch()
                    return
        except Exception as exc:  # never raise into the host
            _log.error("genesys-pulse: standing by failed: %s", _safe(exc))

    def _launch(self) -> None:
        from genesys_pulse.telemetry import otel_sinks_for

        kwargs = self._kwargs or {}
        config = self._config
        _warn_if_unconfigured(kwargs)
        sinks = otel_sinks_for(
            config,
            meter_provider=kwargs.get("meter_provider"),
            tracer_provider=kwargs.get("tracer_provider"),
            logger_provider=kwargs.get("logger_provider"),
        )
        self._monitor = MonitorThread(config, sinks, connector=kwargs.get("connector"))
        self._monitor.start()
        _log.info(
            "genesys-pulse: monitoring %d target(s) in a background thread", len(config.targets)
        )

    def _stop(self, timeout: float) -> bool:
        stop, self._standby_stop = self._standby_stop, None
        if stop is not None:
            stop.set()
        self._standby = None
        monitor, self._monitor = self._monitor, None
        done = True
        if monitor is not None:
            done = monitor.stop(timeout)
            if not done:
                _log.warning("genesys-pulse: monitor thread did not stop within %.1f s", timeout)
        if self._lock is not None and (done or monitor is None):
            self._lock.release()  # a waiting process may take over now
        return done

    def _at_exit(self) -> None:
        try:
            self._stop(STOP_TIMEOUT)
        except Exception:
            pass

    def _after_fork_in_child(self) -> None:
        """In a forked child neither the monitor nor the standby thread exists.

        The child closes its copy of the host lock's descriptor (so the lock
        dies with its holder, not with the last worker); its copies of the
        monitor's sockets and telemetry are dropped by the transport's and the
        sink's own fork handlers. By default the child then stays inert; with
        :data:`FORKED_WORKERS_ENV` it stands by to take over.
        """
        self._monitor = None
        self._standby = None
        self._standby_stop = None
        if self._lock is not None:
            self._lock.forget()
        kwargs = self._kwargs
        if kwargs is None or self._lock is None:
            return
        env: Mapping[str, str] = kwargs.get("env") or os.environ
        if env.get(FORKED_WORKERS_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
            try:
                self._elect()
            except Exception as exc:
                _log.error("genesys-pulse: monitor not started in worker: %s", _safe(exc))
        else:
            # no double probing: the lock's holder probes; this worker stays inert
            atexit.unregister(self._at_exit)


NO_SDK_HINT = (
    "install the SDK and an exporter so opentelemetry-instrument configures them "
    "(pip install opentelemetry-distro opentelemetry-exporter-otlp-proto-http, and set "
    "OTEL_EXPORTER_OTLP_ENDPOINT), or pass providers to GenesysPulseInstrumentor().instrument(); "
    "OTEL_SDK_DISABLED=true makes the plugin inert"
)


def _unconfigured_signals(kwargs: Mapping[str, Any]) -> list[str]:
    """The signals whose provider is the API's default (proxy or no-op): nothing is exported."""
    from opentelemetry import _logs, metrics, trace

    providers = {
        "metrics": kwargs.get("meter_provider") or metrics.get_meter_provider(),
        "traces": kwargs.get("tracer_provider") or trace.get_tracer_provider(),
        "logs": kwargs.get("logger_provider") or _logs.get_logger_provider(),
    }
    # The API's placeholders are ProxyTracerProvider, _ProxyMeterProvider,
    # ProxyLoggerProvider and the NoOp* providers; an SDK (or any real
    # implementation) has another class.
    return [
        signal
        for signal, provider in providers.items()
        if "Proxy" in type(provider).__name__ or "NoOp" in type(provider).__name__
    ]


def _warn_if_unconfigured(kwargs: Mapping[str, Any]) -> None:
    """One WARNING when the monitor's figures (metrics) would go nowhere."""
    missing = _unconfigured_signals(kwargs)
    if "metrics" in missing:
        _log.warning(
            "genesys-pulse: no OpenTelemetry SDK provider is configured for %s: the monitor's "
            "telemetry goes nowhere; %s",
            ", ".join(missing),
            NO_SDK_HINT,
        )


def _register_fork_hook() -> None:
    global _fork_hook_registered
    with _fork_hook_lock:
        if _fork_hook_registered or not hasattr(os, "register_at_fork"):
            return
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True


def _after_fork_in_child() -> None:
    try:
        GenesysPulseInstrumentor()._after_fork_in_child()
    except Exception:
        pass


def _safe(exc: BaseException) -> str:
    """A one-line description of *exc* with known secret shapes masked."""
    from genesys_pulse.telemetry import redact_attributes

    text = f"{type(exc).__name__}: {exc}"
    return str(redact_attributes({"m": " ".join(text.split())[:2000]})["m"])
