"""Running as a service: the health endpoint and systemd notifications around ``run``.

``genesys-pulse run`` calls four hooks (kept here so the run command itself
stays about monitoring):

* :func:`add_arguments` / :func:`configure` -- ``--health-listen HOST:PORT``
  (overrides the ``health_listen`` configuration key);
* :meth:`Service.open` -- bind the health endpoint before anything starts
  (a port in use is one clear line and exit status 2) and read
  ``NOTIFY_SOCKET`` / ``WATCHDOG_USEC``;
* :meth:`Service.start` -- serve the endpoint and start the watchdog pings;
* :meth:`Service.ready` / :meth:`Service.stopping` -- ``READY=1`` once the
  monitor has started, ``STOPPING=1`` when shutdown begins.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import trio

from genesys_pulse.core import HealthSnapshot
from genesys_pulse.core.config import ConfigError, MonitorConfig, parse_listen

from ._sdnotify import Notifier, watchdog_interval

__all__ = ["Service", "ServiceError", "add_arguments", "configure"]


class ServiceError(Exception):
    """The health endpoint could not be bound (the message names the address and cause)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--health-listen``."""
    parser.add_argument(
        "--health-listen",
        metavar="HOST:PORT",
        default=None,
        help="serve /livez and /readyz on this address, e.g. 127.0.0.1:9464 (a bare PORT: loopback) "
        "(overrides health_listen; default: no health endpoint)",
    )


def configure(args: argparse.Namespace, config: MonitorConfig) -> MonitorConfig:
    """Apply ``--health-listen`` to ``config`` (raises :class:`ConfigError` naming the option)."""
    text = getattr(args, "health_listen", None)
    if text is None:
        return config
    try:
        listen = parse_listen(text)
    except ValueError as exc:
        raise ConfigError("--health-listen", text, str(exc)) from None
    return dataclasses.replace(config, health_listen=listen)


def _show(listen: tuple[str, int]) -> str:
    host, port = listen
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Service:
    """The health endpoint (when configured) and the systemd notifier (when asked for)."""

    def __init__(
        self,
        listeners: list[trio.SocketListener],
        notifier: Notifier | None,
        watchdog: float | None,
    ) -> None:
        self.listeners = listeners
        self.notifier = notifier
        self.watchdog = watchdog
        self.monitor: Any = None

    @classmethod
    async def open(cls, config: MonitorConfig, env: Mapping[str, str] | None = None) -> Service:
        """Bind the health endpoint and read the systemd variables."""
        env = env if env is not None else os.environ
        listeners: list[trio.SocketListener] = []
        if config.health_listen is not None:
            from ._health import open_health_listeners

            host, port = config.health_listen
            try:
                listeners = await open_health_listeners(host, port)
            except OSError as exc:
                raise ServiceError(
                    f"health_listen {_show(config.health_listen)}: cannot listen ({exc})"
                ) from None
        notifier = Notifier.from_env(env)
        return cls(listeners, notifier, watchdog_interval(env) if notifier else None)

    def _snapshot(self) -> HealthSnapshot | None:
        return None if self.monitor is None else self.monitor.health_snapshot()

    async def start(self, nursery: trio.Nursery) -> None:
        """Serve the health endpoint and send watchdog pings, in ``nursery``."""
        if self.listeners:
            from ._health import serve_health

            await nursery.start(serve_health, self.listeners, self._snapshot)
        if self.notifier is not None and self.watchdog is not None:
            nursery.start_soon(self.notifier.run_watchdog, self.watchdog)

    def ready(self, monitor: Any) -> None:
        """The monitor started: readiness reads it from now on; tell systemd ``READY=1``."""
        self.monitor = monitor
        if self.notifier is not None:
            count = len(monitor.targets)
            self.notifier.send(f"READY=1\nSTATUS=monitoring {count} target(s)")

    def stopping(self) -> None:
        """Shutdown began: tell systemd ``STOPPING=1`` (once)."""
        if self.notifier is not None:
            self.notifier.send("STOPPING=1\nSTATUS=stopping")
            self.notifier.close()
            self.notifier = None
