"""systemd's notification protocol (``sd_notify``) for ``genesys-pulse run``.

Under a ``Type=notify`` unit systemd passes ``NOTIFY_SOCKET`` (a unix
datagram socket: a path, or an abstract name written with a leading ``@``)
and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``). The
monitor sends:

* ``READY=1`` once start-up is over (configuration loaded, health endpoint
  bound, every target task started);
* ``WATCHDOG=1`` from a task on the monitor's own event loop every half
  ``WATCHDOG_USEC`` -- a blocked loop stops the pings and systemd restarts
  the service (``Restart=on-failure`` in the shipped unit);
* ``STOPPING=1`` when shutdown begins (signal, ``--duration``).

Why hand-written rather than a library: the protocol is one ``sendto`` of a
newline-separated ``KEY=VALUE`` datagram (see ``sd_notify(3)`` and
https://systemd.io/NOTIFY/), the Python wrappers are either bindings to
libsystemd (a C dependency absent from slim images) or small unmaintained
packages, and the reference page itself gives a dependency-free
implementation of the same dozen lines. Sending never blocks (non-blocking
socket; a full queue drops that one message) and never raises: a failure is
logged once at WARNING, because a monitor must not stop monitoring because
its supervisor's socket went away.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Mapping

import trio

__all__ = ["Notifier", "watchdog_interval"]

log = logging.getLogger("genesys_pulse.systemd")


class Notifier:
    """Sends ``sd_notify`` messages to ``address`` (a path, or ``\\0name`` for abstract)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.setblocking(False)
        self._warned = False
        self.sent = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Notifier | None:
        """The notifier ``NOTIFY_SOCKET`` asks for, or ``None`` when unset or unusable."""
        raw = env.get("NOTIFY_SOCKET", "")
        if not raw:
            return None
        if raw.startswith("@"):
            address = "\0" + raw[1:]
        elif raw.startswith("/"):
            address = raw
        else:
            log.warning(
                "NOTIFY_SOCKET=%r is neither an absolute path nor an abstract name (@...): "
                "systemd notifications are off",
                raw,
            )
            return None
        return cls(address)

    def send(self, message: str) -> bool:
        """Send one datagram; ``False`` (logged once) if it could not be sent."""
        if self._sock.fileno() == -1:
            return False  # closed after STOPPING=1
        try:
            self._sock.sendto(message.encode("utf-8"), self.address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("systemd notification %r failed: %s", message.split("=")[0], exc)
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()

    async def run_watchdog(self, interval: float) -> None:
        """Send ``WATCHDOG=1`` every ``interval`` seconds, from the event loop, until cancelled."""
        while True:
            self.send("WATCHDOG=1")
            await trio.sleep(interval)


def watchdog_interval(env: Mapping[str, str], pid: int | None = None) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, or ``None`` when no watchdog applies to us.

    ``WATCHDOG_PID``, when set, must be this process (``sd_watchdog_enabled(3)``).
    """
    usec = env.get("WATCHDOG_USEC", "").strip()
    if not usec:
        return None
    wpid = env.get("WATCHDOG_PID", "").strip()
    if wpid and wpid != str(pid if pid is not None else os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not an integer: no watchdog pings", usec)
        return None
    if value <= 0:
        return None
    return value / 2_000_000
