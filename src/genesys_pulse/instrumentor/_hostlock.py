"""One monitor per host and configuration: an OS file lock, and helper interpreters.

A service runs as several processes (gunicorn's master and workers, uvicorn's
supervisor and spawned workers, ``multiprocessing`` children, Django's
autoreloader, Celery's pool), and under ``opentelemetry-instrument`` every one
of them loads this plugin. Exactly one of them may probe: the first to take an
exclusive ``flock`` on a file named after the user and a hash of the
configuration. The kernel releases the lock when its holder dies (however it
dies), so a waiting process can take over; nothing needs cleaning up.

Hand-written because it is a few lines over ``fcntl.flock``; the lock-file
libraries (``filelock``, ``portalocker``) add a dependency to every host for
the same two calls, and none of them handles the fork case below.

Forks: an ``flock`` belongs to the open file description, which a forked
child shares. So a child must *close* its copy of the descriptor (never
unlock it: that would release the parent's lock) -- :meth:`HostLock.forget`.
The descriptor is opened close-on-exec, so spawned interpreters never inherit
it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["HostLock", "helper_interpreter", "lock_key"]

#: Substrings of the command line of interpreters that are helpers, not
#: services: multiprocessing's resource tracker and fork server. They never
#: start a monitor, nor stand by for one (their stderr may be closed).
_HELPERS = (
    "multiprocessing.resource_tracker",
    "multiprocessing.forkserver",
    "multiprocessing.semaphore_tracker",
    "billiard.resource_tracker",
    "billiard.forkserver",
    "billiard.semaphore_tracker",
)


def helper_interpreter(argv: Sequence[str] | None = None) -> str | None:
    """The helper this interpreter is (e.g. ``multiprocessing.resource_tracker``), or ``None``."""
    if argv is None:
        argv = getattr(sys, "orig_argv", None) or sys.argv
    text = " ".join(str(a) for a in argv)
    for name in _HELPERS:
        if name in text:
            return name
    return None


def lock_key(redacted_config: Mapping[str, Any]) -> str:
    """A short hash of a configuration (its redacted form: no secret enters the name)."""
    blob = json.dumps(redacted_config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _user() -> str:
    getuid = getattr(os, "getuid", None)
    return str(getuid()) if getuid is not None else os.environ.get("USERNAME", "user")


class HostLock:
    """An exclusive, non-blocking ``flock`` on ``<dir>/genesys-pulse-<user>-<key>.lock``.

    Args:
      key: the configuration hash (:func:`lock_key`).
      directory: where the lock file lives (default: the temporary directory,
        ``TMPDIR`` or ``/tmp``: one per host, or per container).
    """

    def __init__(self, key: str, directory: str | None = None) -> None:
        self.path = os.path.join(
            directory or tempfile.gettempdir(), f"genesys-pulse-{_user()}-{key}.lock"
        )
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never blocks. Writes our pid into the file."""
        if self._fd is not None:
            return True
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # the pid is only informative
        self._fd = fd
        return True

    def holder(self) -> int | None:
        """The pid written by the process holding the lock (informative), if readable."""
        try:
            with open(self.path, encoding="ascii") as f:
                return int(f.read(32).strip() or "0") or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        """Release the lock (closing the descriptor releases it)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def forget(self) -> None:
        """In a forked child: close our copy of the descriptor, leaving the parent's lock held."""
        self.release()  # close() alone never unlocks a description another process still holds
