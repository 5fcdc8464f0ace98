"""One open WebSocket of a target, and the probes in flight on it.

A :class:`Link` is owned by a target's supervisor; the target's probe loop
sends on whichever link is *current*. Probe slots belong to the target, not to
the link: during a make-before-break rotation the old link still answers the
probes it carries while new slots already go to the new link.

The reader task of a link calls :meth:`Link.on_pong` / :meth:`Link.on_message`
synchronously with the receive timestamp of each frame (see
:meth:`genesys_pulse.transport.WebSocketConnection.run_reader`): these update
the pong matchers and, when the answer completes the probe slot in flight,
tell the slot's :class:`SlotWatcher` (the target's probe) at once; the probe
then has the driver record the slot on its next turn. A pong that answers
a ping already reported as a timeout (exact for control pings, stop-and-wait
for application pings: see :mod:`genesys_pulse.core._pong`) is handed to the
owner as a *late answer* with its true RTT.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from genesys_pulse.core import AppPongMatcher, ControlPongMatcher
from genesys_pulse.transport import CloseInfo, WebSocketConnection

__all__ = ["Link", "LinkOwner", "SlotWatcher"]

Spawn = Callable[[Callable[[], Awaitable[None]]], None]
"""Starts a task in the owner's nursery (the link's writer, when a write was queued)."""


class SlotWatcher(Protocol):
    """Who is told when the probe slot in flight on a link makes progress (the probe)."""

    def slot_progress(self, link: Link) -> None:
        """Every answer came, the link died, or the owed application pong arrived."""


class LinkOwner(Protocol):
    """What a link reports to its target."""

    def on_heartbeat(self, link: Link, t: float) -> None:
        """A server heartbeat arrived on ``link`` at ``t``."""

    def on_socket_closing(self, link: Link, t: float) -> None:
        """``v2.system.socket_closing`` arrived on ``link``."""

    def on_channel_failure(self, link: Link, detail: str) -> None:
        """A ``{"result":"404"}`` channel failure arrived on ``link``."""

    def on_link_dead(self, link: Link) -> None:
        """``link`` was declared dead (closed, timeouts, silence)."""

    def on_late_answer(self, link: Link, kind: str, seq: int, sent: float, t: float) -> None:
        """The pong of timed-out ping ``seq`` (``kind`` "control"/"application") arrived at ``t``."""


class Link:
    """An open connection with its pong matchers and its current probe slot.

    Args:
      ws: the open connection (the link owns it and closes it).
      generation: a number unique to this link within its target.
      opened_at: ``trio.current_time()`` when the upgrade completed.
      timeout: the target's probe timeout (for the matchers' horizons).
      is_app_pong: classifies an incoming message: returns ``"pong"``,
        ``"heartbeat"``, ``"socket_closing"``, ``"channel_failure"`` or ``None``.
      owner: receives heartbeats and system messages.
      channel_id: the Genesys channel this socket is connected to (never
        reported in metrics), or ``None``.
      spawn: starts a task in the owner's nursery (the connection's writer,
        the first time a write could not be made at once); ``None``: writes
        that cannot be made at once fail the link.
    """

    def __init__(
        self,
        ws: WebSocketConnection,
        generation: int,
        *,
        opened_at: float,
        timeout: float,
        classify: Callable[[str | bytes], tuple[str, str] | None],
        owner: LinkOwner,
        channel_id: str | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        self.ws = ws
        self._spawn = spawn
        self._writer_started = False
        self.generation = generation
        self.opened_at = opened_at
        self.channel_id = channel_id
        self.control = ControlPongMatcher(timeout)
        self.app = AppPongMatcher(timeout)
        """Stop-and-wait: at most one application ping outstanding on this link."""
        self._classify = classify
        self._owner = owner
        self.dead = trio.Event()
        self.dead_reason: str | None = None
        self.close_info: CloseInfo | None = None
        self.last_heartbeat: float | None = None
        self.heartbeats = 0
        self.silence_reported = False
        self.socket_closing = False
        """``v2.system.socket_closing`` was received: the close that follows is planned."""
        self.lost_slots = 0
        """Consecutive slots in which every probe sent on this link timed out."""
        self.late_pongs = 0
        self.other_messages = 0
        self.retired = False
        """A newer link has replaced this one (rotation): no new probes go here."""
        self.channel_gone = False
        """The channel behind this link is gone (failure message): do not reuse it."""
        # the probe slot in flight on this link
        self.slot_seq = -1
        self.control_rx: float | None = None
        self.app_rx: float | None = None
        self._waiting = 0
        self._watcher: SlotWatcher | None = None
        self.app_deferred = False
        """The current slot waits for the owed application ping before sending its own."""

    @property
    def usable(self) -> bool:
        """True while new probes may be sent on this link."""
        return not self.dead.is_set() and not self.retired and self.ws.is_open

    def declare_dead(self, reason: str) -> None:
        """Mark the link dead (the supervisor reconnects); the slot in flight is told."""
        if not self.dead.is_set():
            self.dead_reason = reason
            self.dead.set()
            self._owner.on_link_dead(self)
        watcher = self._watcher
        if watcher is not None:
            watcher.slot_progress(self)

    # -- writing (called by the probe driver) --------------------------------

    def send(self, data: bytes, on_written: Callable[[float], None]) -> float | None:
        """Write a slot's pre-encoded frames in one write, without waiting.

        Returns the write time, or ``None`` when the bytes were queued for the
        connection's writer task (started here the first time), which calls
        ``on_written(t)`` once they are out.

        Raises:
          ConnectionClosed: the connection is closed or the write failed.
        """
        t = self.ws.send_nowait(data, on_written)
        if t is None and not self._writer_started:
            self._writer_started = True
            if self._spawn is None:
                raise RuntimeError("this link cannot queue writes (no writer task)")
            self._spawn(self.ws.run_writer)
        return t

    # -- probe slot bookkeeping (called by the probe) -------------------------

    def begin_slot(
        self, seq: int, waiting: int, watcher: SlotWatcher, *, app_deferred: bool = False
    ) -> None:
        """Start slot ``seq`` expecting ``waiting`` answers; ``watcher`` hears of its progress.

        With ``app_deferred`` the application ping is not sent yet (the
        previous one is still owed): the watcher is also told when that owed
        pong arrives, so that the slot can send its own ping then.
        """
        self.slot_seq = seq
        self.control_rx = None
        self.app_rx = None
        self._waiting = waiting
        self.app_deferred = app_deferred
        self._watcher = watcher

    @property
    def slot_answered(self) -> bool:
        """Every answer the slot in flight expects has come."""
        return self._waiting <= 0

    def end_slot(self) -> None:
        """The slot is resolved; later pongs for it are late."""
        self._watcher = None
        self._waiting = 0
        self.app_deferred = False

    def _answered(self) -> None:
        self._waiting -= 1
        watcher = self._watcher
        if self._waiting <= 0 and watcher is not None:
            watcher.slot_progress(self)

    # -- reader callbacks ---------------------------------------------------

    def on_pong(self, payload: bytes, t: float) -> None:
        """A control-frame pong arrived at ``t``."""
        res = self.control.on_pong(payload, t)
        if res is None:
            return
        if res.late:
            self.late_pongs += 1
            self._owner.on_late_answer(self, "control", res.seq, res.sent, t)
            return
        if res.seq == self.slot_seq and self.control_rx is None:
            self.control_rx = t
            self._answered()

    def on_message(self, data: str | bytes, t: float) -> None:
        """A message arrived at ``t``: application pong, heartbeat, system message, other."""
        kind = self._classify(data)
        if kind is None:
            self.other_messages += 1
            return
        what, detail = kind
        if what == "pong":
            self.on_app_pong(t)
        elif what == "heartbeat":
            self._owner.on_heartbeat(self, t)
        elif what == "socket_closing":
            self.socket_closing = True
            self._owner.on_socket_closing(self, t)
        elif what == "channel_failure":
            self._owner.on_channel_failure(self, detail)
        else:  # pragma: no cover - classify returns only the names above
            self.other_messages += 1

    def on_app_pong(self, t: float) -> None:
        """An application pong arrived at ``t``; attribute it with the core rule."""
        res = self.app.on_pong(t)
        if res is None:
            return
        if res.late:
            self.late_pongs += 1
            self._owner.on_late_answer(self, "application", res.seq, res.sent, t)
            watcher = self._watcher
            if self.app_deferred and watcher is not None:
                watcher.slot_progress(self)  # the channel is free: the slot sends its ping now
        elif res.seq == self.slot_seq and self.app_rx is None:
            self.app_rx = t
            self._answered()
