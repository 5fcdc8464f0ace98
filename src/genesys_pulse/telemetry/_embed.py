"""Build the telemetry sinks for a configuration (used by the CLI, the
instrumentor and trio programs that run the monitor in their own nursery)."""

from __future__ import annotations

import os
import socket
from typing import Final
from urllib.parse import urlsplit

from opentelemetry import _logs, metrics, trace

from genesys_pulse.core.config import MonitorConfig, redacted
from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry._journal import AuditJournal, FsyncPolicy
from genesys_pulse.telemetry._otel_sink import OTelSink

__all__ = ["config_secrets", "monitor_instance", "otel_sinks_for", "target_attrs_for"]


def monitor_instance() -> str:
    """This process's identity as a monitor: ``<host name>:<pid>``.

    Every metric point carries it as ``genesys.monitor.instance``, so that a
    backend can tell two monitors of one configuration apart (two hosts, or a
    misconfigured host where more than one process probes) instead of merging
    their points into one series.
    """
    return f"{socket.gethostname()}:{os.getpid()}"


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


_DEFAULT_PORTS: Final = {"https": 443, "wss": 443, "http": 80, "ws": 80}


def _port(url: str) -> int | None:
    """The URL's port, or its scheme's default (``server.port`` semantics)."""
    try:
        parts = urlsplit(url)
        return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None


def target_attrs_for(config: MonitorConfig) -> dict[str, dict[str, str]]:
    """Per target, the bounded attributes every metric point carries.

    Genesys targets get ``genesys.environment`` (the configured environment
    domain, or the API host without its ``api.`` prefix) and ``server.address``
    (the streaming host, ``streaming.<environment>``, or the API host for an
    explicit URL such as the emulator's). WebSocket targets get
    ``server.address`` = the URL's host. Never a channel id.

    ``server.port`` (used on the ``genesys_pulse.connect`` span only, not on
    metric points) is 443 for an environment's ``wss://streaming.<environment>``,
    else the explicit URL's port (or its scheme's default). The port of the
    ``connectUri`` the channel returns is not known here; for Genesys Cloud it
    is always the default.
    """
    out: dict[str, dict[str, str]] = {}
    for t in config.targets:
        attrs: dict[str, str] = {}
        if t.genesys is not None:
            g = t.genesys
            api_host = _host(g.api_url) or ""
            env = g.environment or (api_host[4:] if api_host.startswith("api.") else api_host)
            if env:
                attrs[N.A_ENVIRONMENT] = env
            if g.environment:
                attrs[N.A_SERVER_ADDRESS] = "streaming." + g.environment
                attrs[N.A_SERVER_PORT] = "443"
            elif api_host:
                attrs[N.A_SERVER_ADDRESS] = (
                    "streaming." + api_host[4:] if api_host.startswith("api.") else api_host
                )
                port = _port(g.api_url)
                if port is not None:
                    attrs[N.A_SERVER_PORT] = str(port)
        elif t.websocket is not None:
            host = _host(t.websocket.url)
            if host:
                attrs[N.A_SERVER_ADDRESS] = host
            port = _port(t.websocket.url)
            if port is not None:
                attrs[N.A_SERVER_PORT] = str(port)
        out[t.id] = attrs
    return out


def config_secrets(config: MonitorConfig) -> tuple[str, ...]:
    """Every configured client secret and proxy credential, revealed, so sinks can
    refuse to export them (and log filters mask them)."""
    secrets: list[str] = []
    for t in config.targets:
        if t.genesys is not None and t.genesys.client_secret is not None:
            value = t.genesys.client_secret.reveal()
            if value:
                secrets.append(value)
    if config.proxy is not None:
        secrets.extend(config.proxy.secrets())
    return tuple(secrets)


def otel_sinks_for(
    config: MonitorConfig,
    *,
    meter_provider: metrics.MeterProvider | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    logger_provider: _logs.LoggerProvider | None = None,
    journal: bool = True,
    journal_fsync: FsyncPolicy = "always",
    journal_max_bytes: int = 10 * 1024 * 1024,
    journal_backups: int = 5,
) -> list[OTelSink | AuditJournal]:
    """Return the sinks that report *config*'s monitor through OpenTelemetry.

    An :class:`OTelSink` on the given providers (``None``: the globals), and,
    when ``config.journal_path`` is set and *journal* is true, an
    :class:`AuditJournal` there. Pass the list as ``run_monitor(config,
    sinks=...)``; call ``close()`` on each when the monitor has returned::

        sinks = otel_sinks_for(config)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(run_monitor, config, sinks=sinks))
                ...
        finally:
            for sink in sinks:
                sink.close()
    """
    secrets = config_secrets(config)
    sinks: list[OTelSink | AuditJournal] = [
        OTelSink(
            meter_provider=meter_provider,
            tracer_provider=tracer_provider,
            logger_provider=logger_provider,
            window=config.window,
            target_attrs=target_attrs_for(config),
            redacted_config=redacted(config),
            secrets=secrets,
            instance=monitor_instance(),
            probe_timeouts={
                t.id: {
                    "control": t.timeout,
                    "application": t.timeout,
                    "heartbeat": t.thresholds.heartbeat_silence.critical,
                }
                for t in config.targets
            },
        )
    ]
    if journal and config.journal_path:
        sinks.append(
            AuditJournal(
                config.journal_path,
                fsync=journal_fsync,
                max_bytes=journal_max_bytes,
                backups=journal_backups,
                secrets=secrets,
            )
        )
    return sinks
