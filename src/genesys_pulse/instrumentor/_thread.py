"""Run the monitor in a daemon thread with its own ``trio.run``.

The host's threads never wait on the monitor beyond a bound:
:meth:`MonitorThread.stop` queues the cancellation of the monitor's scope
through its ``TrioToken`` (``run_sync_soon``, which never blocks) and joins
with a timeout. Nothing here ever raises into the host.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import trio

from genesys_pulse.core.config import MonitorConfig

__all__ = ["MonitorThread"]

_log = logging.getLogger("genesys_pulse.instrumentor")


class MonitorThread:
    """The monitor of one configuration, running in a background daemon thread.

    Args:
      config: the validated configuration (credentials filled in).
      sinks: passed to ``run_monitor``; each one's ``close()`` (if any) is
        called when the monitor has stopped.
      connector: optional transport connector (tests, emulators).
      run: the coroutine function to run (default ``run_monitor``); it gets
        ``config, sinks=..., connector=...``.
    """

    def __init__(
        self,
        config: MonitorConfig,
        sinks: Sequence[Any],
        *,
        connector: Any = None,
        run: Callable[..., Any] | None = None,
        name: str = "genesys-pulse-monitor",
    ) -> None:
        self.config = config
        self.sinks = list(sinks)
        self._connector = connector
        self._run = run
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._stop_requested = False
        self._ready = threading.Event()
        self.error: BaseException | None = None
        """The exception the monitor stopped with, if any (already logged)."""
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    @property
    def alive(self) -> bool:
        """Whether the monitor thread is running."""
        return self._thread.is_alive()

    def start(self, timeout: float = 5.0) -> bool:
        """Start the thread; wait up to *timeout* s for trio to be running."""
        self._thread.start()
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> bool:
        """Cancel the monitor and join the thread within *timeout* s.

        Returns ``True`` if the thread ended in time. Never raises.
        """
        self._stop_requested = True
        token, scope = self._token, self._scope
        if token is not None and scope is not None:
            try:
                # run_sync_soon only queues the call (thread-safe, never blocks),
                # so a stuck monitor loop cannot hang the host's exit; the
                # bounded join below is the only wait.
                token.run_sync_soon(scope.cancel)
            except trio.RunFinishedError:
                pass  # already finished
            except Exception:
                _log.debug("genesys-pulse: cancelling the monitor failed", exc_info=True)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _main(self) -> None:
        try:
            trio.run(self._amain)
        except BaseException as exc:  # never let anything escape the thread
            self.error = exc
            _log.error("genesys-pulse monitor stopped: %s", _describe(exc))
        finally:
            self._ready.set()
            for sink in self.sinks:
                close = getattr(sink, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:
                        _log.debug("genesys-pulse: closing a sink failed", exc_info=True)

    async def _amain(self) -> None:
        run = self._run
        if run is None:
            from genesys_pulse.monitor import run_monitor

            run = run_monitor
        from genesys_pulse.transport import track_sockets

        # the host may fork while a connection is being opened: a forked child
        # must be able to close its copy of every socket of this run
        track_sockets()
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._scope = scope
            self._ready.set()
            if self._stop_requested:
                scope.cancel()
            await run(self.config, sinks=self.sinks, connector=self._connector)


def _describe(exc: BaseException) -> str:
    """One line about *exc*, never a secret (our exceptions are redacted by contract)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions[:3])
    return f"{type(exc).__name__}: {exc}"[:500]
