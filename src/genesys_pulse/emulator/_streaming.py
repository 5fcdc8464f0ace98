"""The emulator's streaming WebSocket: one session per connected channel socket.

The HTTP side hands over every ``GET /channels/{id}`` upgrade of a known,
unexpired channel to :func:`serve_channel_socket`. The session speaks RFC 6455
with ``wsproto`` (sans-I/O), so every frame is under our control:

* ``channel.metadata`` "WebSocket Heartbeat" every ``heartbeat_period``
  seconds, on an absolute schedule from the moment the socket was accepted
  (slot ``k`` is due at ``connected_at + k * period``; a late write never
  shifts later ones);
* ``{"message":"ping"}`` answered with the ``channel.metadata`` pong;
* ``{"message":"subscribe"|"unsubscribe","topics":[...],"correlationId":..}``
  answered with ``{"result":"200","status":"subscribed"|"unsubscribed",...}``,
  or ``{"result":"400","status":"failure","message":...}``;
* any other client message (not JSON, not an object, unknown ``message``,
  binary) is answered with ``{"result":"400","status":"failure","message":...}``
  and the session carries on;
* RFC 6455 control pings answered with pongs (unless switched off, globally
  by ``settings.control_pongs`` or per channel by the fault controller);
* an inbound message larger than ``settings.max_ws_message`` closes the
  socket with 1009;
* ``v2.system.socket_closing`` exactly ``socket_closing_lead`` seconds before
  a scheduled close (:meth:`FaultController.schedule_close`), then the close
  (a socket that connects after the warning time but before the close gets
  the warning at once; one that connects after the close time is untouched);
* at channel expiry (``channel.expires_at``, which re-subscribing moves
  forward) the socket gets ``{"result":"404","message":"Channel expired ..."}``
  and is then closed with code 1000 (reason ``"channel expired"``);
* a second socket on the same channel takes over: the first one is closed
  with 1000 (reason ``"replaced by another connection"``);
* events for subscribed topics that have a generator (see ``_events``) at
  ``settings.event_rate`` per second per topic.

Timing of pongs. The receive time of a ping is ``trio.current_time()`` taken
right after ``receive_some`` returned its bytes, before any parsing. A pong
with delay ``d`` is written at ``received_at + d``: the writer sleeps with
``trio.sleep_until`` to just short of the deadline and then yields in a
tight loop until the deadline is reached, so epoll's millisecond timer
granularity does not add up to a millisecond of error (under a
``MockClock`` it simply sleeps). Pongs of one kind leave in the order their
pings arrived (FIFO, like TCP): a pong is due no earlier than the pong
before it, so a short draw after a long one waits for it, and the recorded
``delay`` is the delay actually applied. App and control pongs are
independent queues.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from collections.abc import Iterable
from typing import Any

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from ._events import (
    event_message,
    generator_for,
    heartbeat_message,
    pong_message,
    socket_closing_message,
)
from ._faults import (
    Action,
    CloseAction,
    FaultController,
    PongKind,
    PongRecord,
    ResetAction,
    SendAction,
    StallAction,
)

__all__ = ["ChannelSession", "precise_sleep_until", "serve_channel_socket"]

#: How long a closing side waits for the peer's close frame before dropping TCP.
CLOSE_TIMEOUT = 2.0
#: Close of the first socket when a second one connects to the same channel.
TAKEOVER_CLOSE = (1000, "replaced by another connection")
#: Close at channel expiry (after a ``{"result":"404"}`` message).
EXPIRY_CLOSE = (1000, "channel expired")
#: Spin (yield without sleeping) for the last part of a precise sleep.
_SPIN = 0.001
#: How many tasks may spin at the same time (see :func:`precise_sleep_until`).
MAX_SPINNERS = 8
_spinners = 0
_RECEIVE_SIZE = 65536


async def precise_sleep_until(deadline: float) -> None:
    """Sleep until ``trio.current_time() >= deadline`` with sub-millisecond error.

    ``trio.sleep_until`` alone wakes up to ~1 ms late (epoll timeouts are in
    whole milliseconds). This sleeps to ``_SPIN`` seconds before the deadline,
    then yields in a loop until it is reached. At most ``MAX_SPINNERS`` tasks
    spin at once (the CPU cost stays bounded with many sockets); the others
    fall back to a plain ``trio.sleep_until``. Under a ``MockClock`` it only
    sleeps (spinning would never let the mock clock jump).
    """
    global _spinners
    if trio.current_time() >= deadline:
        await trio.lowlevel.checkpoint()
        return
    if isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock):
        await trio.sleep_until(deadline)
        return
    await trio.sleep_until(deadline - _SPIN)
    if _spinners >= MAX_SPINNERS:
        await trio.sleep_until(deadline)
        return
    _spinners += 1
    try:
        while trio.current_time() < deadline:
            await trio.lowlevel.checkpoint()
    finally:
        _spinners -= 1


def _topic_ids(topics: Any) -> list[str]:
    """Topic ids of a channel's ``topics`` (a mapping, or an iterable of ids or objects)."""
    if topics is None:
        return []
    items: Iterable[Any] = topics.keys() if hasattr(topics, "keys") else topics
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        else:
            ident = getattr(item, "id", None)
            if isinstance(ident, str):
                out.append(ident)
    return out


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class ChannelSession:
    """One accepted WebSocket on a channel.

    Created and run by :func:`serve_channel_socket`. The HTTP side may call
    :meth:`disconnect` (e.g. when a channel is evicted or deleted).

    Attributes:
      channel: The channel state object.
      connected_at: ``trio.current_time()`` when the upgrade was accepted.
      closed: Set once the session is over.
      close_sent: The ``(code, reason)`` the emulator closed with, if it did.
    """

    def __init__(self, runtime: Any, stream: trio.abc.Stream, channel: Any) -> None:
        self._runtime = runtime
        self._stream = stream
        self.channel = channel
        self._ws = WSConnection(ConnectionType.SERVER)
        self._send_lock = trio.Lock()
        self._stalled = False
        self._unstalled = trio.Event()
        self._closing = False
        self._discard = False
        self._peer_closed = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._pending: list[Action] = []
        self._last_due: dict[PongKind, float] = {"app": -math.inf, "control": -math.inf}
        self._msg_size = 0
        self._msg_parts: list[str] = []
        self.connected_at = trio.current_time()
        self.closed = trio.Event()
        self.close_sent: tuple[int, str] | None = None
        app_send, app_recv = trio.open_memory_channel[tuple[float, PongRecord, Event]](math.inf)
        ctl_send, ctl_recv = trio.open_memory_channel[tuple[float, PongRecord, Event]](math.inf)
        self._pong_send: dict[PongKind, trio.MemorySendChannel[tuple[float, PongRecord, Event]]] = {
            "app": app_send,
            "control": ctl_send,
        }
        self._pong_recv = {"app": app_recv, "control": ctl_recv}

    # -- public -------------------------------------------------------------

    @property
    def channel_id(self) -> str:
        """The id of the channel this socket is connected to."""
        return str(self.channel.id)

    @property
    def faults(self) -> FaultController:
        """The emulator's fault controller."""
        return self._runtime.faults  # type: ignore[no-any-return]

    def disconnect(self, code: int = 1000, reason: str = "") -> None:
        """Close this socket with ``code`` and ``reason`` (non-blocking)."""
        self.inject(CloseAction(code, reason))

    def inject(self, action: Action) -> None:
        """Apply a fault action to this socket (non-blocking)."""
        if self.closed.is_set():
            return
        if self._nursery is None:
            self._pending.append(action)
        else:
            self._nursery.start_soon(self._do_action, action)

    # -- main ---------------------------------------------------------------

    async def serve(self, raw_request: bytes) -> None:
        """Accept the upgrade in ``raw_request`` and run the socket until it ends."""
        try:
            self._ws.receive_data(raw_request)
            request = next((e for e in self._ws.events() if isinstance(e, Request)), None)
            if request is None:
                await self._stream.send_all(
                    self._ws.send(RejectConnection(status_code=400, has_body=False))
                )
                return
            await self._stream.send_all(self._ws.send(AcceptConnection()))
        except (RemoteProtocolError, LocalProtocolError, trio.BrokenResourceError):
            await trio.aclose_forcefully(self._stream)
            self.closed.set()
            return
        self.connected_at = trio.current_time()
        state = self._runtime.state
        previous = state.attach_session(self.channel, self)
        if previous is not None and previous is not self:
            previous.disconnect(*TAKEOVER_CLOSE)
        faults = self.faults
        faults.register(self)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for pending in self._pending:
                    nursery.start_soon(self._do_action, pending)
                self._pending.clear()
                nursery.start_soon(self._reader)
                nursery.start_soon(self._heartbeats)
                nursery.start_soon(self._pong_writer, "app")
                nursery.start_soon(self._pong_writer, "control")
                nursery.start_soon(self._expiry_watch)
                nursery.start_soon(self._maintenance_watch)
                nursery.start_soon(self._events)
        finally:
            self._nursery = None
            faults.unregister(self)
            detach = getattr(state, "detach_session", None)
            if detach is not None:
                detach(self.channel, self)
            elif getattr(self.channel, "session", None) is self:
                self.channel.session = None
            self.closed.set()
            await trio.aclose_forcefully(self._stream)

    def _end(self) -> None:
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    # -- writing --------------------------------------------------------------

    async def _send_event(self, event: Event) -> bool:
        """Write one frame; false if it was not written (stalled, closed, gone)."""
        async with self._send_lock:
            if self._stalled or self._ws.state not in (
                ConnectionState.OPEN,
                ConnectionState.REMOTE_CLOSING,
            ):
                return False
            try:
                data = self._ws.send(event)
            except LocalProtocolError:
                return False
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._end()
                return False
        return True

    async def send_text(self, text: str) -> bool:
        """Send one text message; false if it was not written."""
        return await self._send_event(TextMessage(data=text))

    async def _close(self, code: int, reason: str) -> None:
        """Close handshake: send our close frame, wait (bounded) for the peer's, drop TCP."""
        if self._closing:
            return
        self._closing = True
        self.close_sent = (code, reason)
        if await self._send_event(CloseConnection(code=code, reason=reason)):
            with trio.move_on_after(CLOSE_TIMEOUT):
                await self._peer_closed.wait()
        self._end()

    # -- reading --------------------------------------------------------------

    async def _wait_unstalled(self) -> None:
        while self._stalled:
            await self._unstalled.wait()

    async def _reader(self) -> None:
        while True:
            await self._wait_unstalled()
            try:
                data = await self._stream.receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            received_at = trio.current_time()
            if not data:
                self._end()
                return
            # Bytes read during a stall are held back: nothing is processed.
            await self._wait_unstalled()
            try:
                self._ws.receive_data(bytes(data))
                events = list(self._ws.events())
            except RemoteProtocolError:
                self._spawn_close(1002, "protocol error")
                continue
            except LocalProtocolError:  # data after the connection closed
                self._end()
                return
            for event in events:
                await self._handle(event, received_at)

    def _spawn_close(self, code: int, reason: str) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._close, code, reason)

    async def _handle(self, event: Event, received_at: float) -> None:
        if isinstance(event, Ping):
            if self.faults.control_pongs_enabled(
                self.channel_id, bool(self._runtime.settings.control_pongs)
            ):
                self._queue_pong("control", received_at, event.response())
        elif isinstance(event, CloseConnection):
            self._peer_closed.set()
            if not self._closing:
                self._closing = True
                await self._send_event(event.response())
                self._end()
        elif isinstance(event, Message):
            await self._handle_message_part(event, received_at)
        elif isinstance(event, Pong):
            pass

    async def _handle_message_part(self, event: Message[Any], received_at: float) -> None:
        if self._closing or self._discard:
            return
        size = len(event.data.encode()) if isinstance(event.data, str) else len(event.data)
        self._msg_size += size
        if self._msg_size > int(self._runtime.settings.max_ws_message):
            self._msg_parts.clear()
            self._discard = True
            self._spawn_close(1009, "message too big")
            return
        if isinstance(event, TextMessage):
            self._msg_parts.append(event.data)
        if not event.message_finished:
            return
        self._msg_size = 0
        if isinstance(event, BytesMessage):
            self._msg_parts.clear()
            await self._failure("Binary messages are not supported")
            return
        text = "".join(self._msg_parts)
        self._msg_parts.clear()
        await self._handle_text(text, received_at)

    async def _failure(self, message: str, correlation_id: Any = None) -> None:
        reply: dict[str, Any] = {"result": "400", "status": "failure", "message": message}
        if correlation_id is not None:
            reply["correlationId"] = correlation_id
        await self.send_text(_json(reply))

    async def _handle_text(self, text: str, received_at: float) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            await self._failure("Invalid message: not JSON")
            return
        if not isinstance(msg, dict):
            await self._failure("Invalid message: expected a JSON object")
            return
        kind = msg.get("message")
        if kind == "ping":
            self._queue_pong("app", received_at, TextMessage(data=pong_message()))
        elif kind in ("subscribe", "unsubscribe"):
            await self._subscription(str(kind), msg)
        else:
            await self._failure(f"Unknown message type: {kind!r}", msg.get("correlationId"))

    async def _subscription(self, kind: str, msg: dict[str, Any]) -> None:
        correlation = msg.get("correlationId")
        topics = msg.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            await self._failure("'topics' must be a list of topic strings", correlation)
            return
        state = self._runtime.state
        now = trio.current_time()
        try:
            if kind == "subscribe":
                state.add_topics(self.channel, topics, False, False, now)
            else:
                state.remove_topics(self.channel, topics, now)
        except Exception as exc:  # the state's validation errors (SubscriptionError)
            reply_error: dict[str, Any] = {
                "result": str(getattr(exc, "status", 400)),
                "status": "failure",
                "message": str(getattr(exc, "message", "") or exc or type(exc).__name__),
            }
            if correlation is not None:
                reply_error["correlationId"] = correlation
            await self.send_text(_json(reply_error))
            return
        reply: dict[str, Any] = {
            "result": "200",
            "status": "subscribed" if kind == "subscribe" else "unsubscribed",
        }
        if correlation is not None:
            reply["correlationId"] = correlation
        await self.send_text(_json(reply))

    # -- pongs -----------------------------------------------------------------

    def _queue_pong(self, kind: PongKind, received_at: float, pong: Event) -> None:
        record = self.faults.decide_pong(self.channel_id, kind, received_at)
        if record.delay is None:
            return
        due = max(received_at + record.delay, self._last_due[kind])
        self._last_due[kind] = due
        record.delay = due - received_at
        self._pong_send[kind].send_nowait((due, record, pong))

    async def _pong_writer(self, kind: PongKind) -> None:
        async for due, record, pong in self._pong_recv[kind]:
            await precise_sleep_until(due)
            if await self._send_event(pong):
                record.sent_at = trio.current_time()

    # -- periodic ----------------------------------------------------------------

    async def _heartbeats(self) -> None:
        period = float(self._runtime.settings.heartbeat_period)
        slot = 1
        while True:
            await trio.sleep_until(self.connected_at + slot * period)
            if not self._stalled:
                await self.send_text(heartbeat_message())
            behind = math.floor((trio.current_time() - self.connected_at) / period)
            slot = max(slot + 1, behind + 1)

    async def _expiry_watch(self) -> None:
        wait_closed = getattr(self.channel, "wait_closed", None)
        if wait_closed is not None:
            # The state's channel follows expires_at and also ends on eviction.
            reason = str(await wait_closed())
        else:
            # expires_at only moves forward: sleep to it, then look again.
            expires_at = float(self.channel.expires_at)
            while True:
                await trio.sleep_until(expires_at)
                expires_at = float(self.channel.expires_at)
                if trio.current_time() >= expires_at:
                    break
            reason = "expired"
        if reason == "expired":
            message = f"Channel expired: {self.channel_id}"
        else:
            message = f"Channel closed ({reason}): {self.channel_id}"
        await self.send_text(_json({"result": "404", "message": message}))
        await self._close(*EXPIRY_CLOSE if reason == "expired" else (1000, f"channel {reason}"))

    async def _maintenance_watch(self) -> None:
        faults = self.faults
        lead_default = float(self._runtime.settings.socket_closing_lead)
        warned: set[str] = set()
        while True:
            changed = faults.changed()
            now = trio.current_time()
            upcoming = faults.scheduled_closes(self.channel_id, after=self.connected_at)
            if not upcoming:
                await changed.wait()
                continue
            close = upcoming[0]
            lead = lead_default if close.lead is None else close.lead
            if close.warn and close.correlation_id not in warned and now < close.at:
                target = close.at - lead
                if now >= target:
                    warned.add(close.correlation_id)
                    await self.send_text(socket_closing_message(close.correlation_id))
                    continue
            else:
                target = close.at
                if now >= target:
                    await self._close(close.code, close.reason)
                    return
            with trio.move_on_at(target):
                await changed.wait()

    async def _events(self) -> None:
        rate = float(self._runtime.settings.event_rate)
        if rate <= 0:
            return
        interval = 1.0 / rate
        slot = 1
        rng = self._runtime.rng
        while True:
            await trio.sleep_until(self.connected_at + slot * interval)
            slot += 1
            if self._stalled:
                continue
            for topic in _topic_ids(getattr(self.channel, "topics", None)):
                generator = generator_for(topic)
                if generator is not None:
                    await self.send_text(event_message(topic, generator(rng), rng))

    # -- fault actions --------------------------------------------------------------

    async def _do_action(self, action: Action) -> None:
        if isinstance(action, StallAction):
            await self._stall(action.duration)
        elif isinstance(action, ResetAction):
            await self._reset()
        elif isinstance(action, CloseAction):
            await self._close(action.code, action.reason)
        elif isinstance(action, SendAction):
            payload = action.payload
            await self._send_event(
                TextMessage(data=payload)
                if isinstance(payload, str)
                else BytesMessage(data=payload)
            )

    async def _stall(self, duration: float | None) -> None:
        self._stalled = True
        if duration is None:
            return
        await trio.sleep(duration)
        self._stalled = False
        self._unstalled.set()
        self._unstalled = trio.Event()

    async def _reset(self) -> None:
        """Abort the connection: RST on a TCP socket, abrupt close otherwise."""
        self._closing = True
        sock = getattr(self._stream, "socket", None)
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        await trio.aclose_forcefully(self._stream)
        self._end()


async def serve_channel_socket(
    runtime: Any, stream: trio.abc.Stream, raw_request: bytes, channel: Any
) -> None:
    """Accept a channel's WebSocket upgrade and serve the socket until it ends.

    Args:
      runtime: The emulator runtime (``state``, ``faults``, ``settings``, ``rng``).
      stream: The connection; closed when this returns.
      raw_request: All bytes read so far from ``stream`` (the request head and
        anything after it).
      channel: The channel state (known and unexpired).
    """
    session = ChannelSession(runtime, stream, channel)
    await session.serve(raw_request)
