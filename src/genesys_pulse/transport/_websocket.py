"""A thin WebSocket client over any trio stream: wsproto for the opening handshake,
:mod:`._frames` (sans I/O) for the frames after it.

Why not trio-websocket: an in-flight ``ping()`` can hang forever, unread
messages block pongs, the connect timeout does not cover the upgrade, and
closing is unbounded (see ``docs/facts/measurement.md``). This client
has none of those properties and timestamps frames where it matters:

* :meth:`WebSocketConnection.send_text` / :meth:`~WebSocketConnection.send_ping`
  return the ``trio.current_time()`` at which the bytes were handed to the
  kernel;
* :meth:`WebSocketConnection.run_reader` passes every callback the
  ``trio.current_time()`` at which the read that completed its frame returned,
  taken before any parsing.

Over :class:`NetConnector` streams both times are read right at the
``write``/``read`` system call (see :mod:`._timed`: reading the clock when
``send_all`` returns would be late by a scheduler pass, in which the reader may
already have handled the reply). Over other streams (the emulator's in-memory
ones) they are read when ``send_all``/``receive_some`` return.

There is no internal message queue: callbacks are invoked synchronously from
the reader, so nothing is ever blocked by unread messages.

Writing without a task: :meth:`WebSocketConnection.send_nowait` lets one task
(the monitor's probe driver, which serves every target) write a slot's frames
without awaiting anything. Over a plain :class:`TimedSocketStream` it makes one
non-blocking ``write``; whatever does not fit the kernel's send buffer (and
everything over TLS or an in-memory stream, which have no synchronous write) is
queued, in order, for :meth:`WebSocketConnection.run_writer`, a task per
connection that the owner starts when a write was queued, so that one
connection with a full buffer never delays the others.

Why one module of this size: the handshake, the reader, the locked writers and
the queued writer share one connection state machine (open, close sent, done)
and one send lock; each path must see the others' state changes at once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Final
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.utilities import ProtocolError

from ._connector import Connector, is_loopback_host
from ._errors import ConnectError, ConnectionClosed, HandshakeError
from ._frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    close_payload,
    encode_frame,
)
from ._timed import TimedSocketStream, find_socket, find_timer

__all__ = ["CloseInfo", "WebSocketConnection", "open_websocket", "ping_frame", "text_frame"]

DEFAULT_MAX_MESSAGE_SIZE = 65536 * 16
"""Largest incoming message accepted (1 MiB); larger ones close the connection with 1009."""

_RECEIVE_SIZE = 65536
_REJECT_BODY_LIMIT = 512

OnMessage = Callable[[str | bytes, float], None]
OnPong = Callable[[bytes, float], None]
OnWritten = Callable[[float], None]


def ping_frame(payload: bytes) -> bytes:
    """A masked client Ping frame for :meth:`WebSocketConnection.send_nowait` (payload <= 125 B)."""
    if len(payload) > 125:
        raise ValueError("ping payload must be at most 125 bytes")
    return encode_frame(OP_PING, payload)


def text_frame(data: bytes) -> bytes:
    """A masked client text frame of UTF-8 ``data`` (a fresh masking key per call)."""
    return encode_frame(OP_TEXT, data)


@dataclasses.dataclass(frozen=True, slots=True)
class CloseInfo:
    """How a WebSocket connection ended.

    Attributes:
      code: The close code: the one in the peer's Close frame, ``1005`` if
        its Close frame had none, ``1006`` if the connection was lost without
        a Close frame (EOF, reset), ``1009``/``1002`` if *we* closed because the
        peer sent too big a message or broke the protocol.
      reason: The close reason (for humans; bounded by the protocol to 123 bytes).
      local: ``True`` if this side started the close (:meth:`WebSocketConnection.aclose`,
        oversize message, protocol error), ``False`` if the peer or the network did.
    """

    code: int
    reason: str = ""
    local: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    tls: bool
    host: str
    port: int
    host_header: str
    resource: str


def _parse_url(url: str) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"WebSocket URL must be ws:// or wss://, got scheme {parts.scheme!r}")
    host = parts.hostname
    if not host:
        raise ValueError("WebSocket URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("WebSocket URL must not carry credentials")
    tls = scheme == "wss"
    if not tls and not is_loopback_host(host):
        raise ValueError(
            f"refusing ws:// to non-loopback host {host!r}: "
            "plain-text WebSocket is only allowed to loopback (use wss://)"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"WebSocket URL has an invalid port: {exc}") from None
    default = 443 if tls else 80
    if port is None:
        port = default
    host_in_header = f"[{host}]" if ":" in host else host
    host_header = host_in_header if port == default else f"{host_in_header}:{port}"
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return _Target(tls, host, port, host_header, resource)


async def open_websocket(
    url: str,
    *,
    connector: Connector,
    connect_timeout: float,
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> WebSocketConnection:
    """Connect to ``url`` and complete the WebSocket upgrade.

    Everything - name resolution, TCP, TLS and the HTTP upgrade - happens
    under one deadline of ``connect_timeout`` seconds, so a server that accepts
    TCP but never answers the upgrade fails in time.

    Args:
      url: ``wss://host[:port]/path?query``; ``ws://`` only to a loopback host.
      connector: Opens the byte stream (:class:`NetConnector` or an emulator's).
      connect_timeout: Seconds for the whole connect.
      max_message_size: Largest incoming message (bytes for binary, UTF-8
        bytes for text); larger ones close the connection with 1009.
      extra_headers: Additional request headers for the upgrade.

    Returns:
      An open :class:`WebSocketConnection`; the caller owns it and must
      :meth:`~WebSocketConnection.aclose` it.

    Raises:
      ValueError: if the URL is not an acceptable WebSocket URL.
      ConnectError: if the stream could not be opened, or the upgrade was not
        answered in time (``kind="timeout"``).
      HandshakeError: if the server refused the upgrade or broke HTTP.
    """
    target = _parse_url(url)
    deadline = trio.current_time() + connect_timeout
    stream = await connector.open_stream(
        target.host, target.port, tls=target.tls, timeout=connect_timeout
    )
    ws = WSConnection(ConnectionType.CLIENT)
    ok = False
    try:
        with trio.move_on_at(deadline):
            received_at, buffered = await _handshake(stream, ws, target, list(extra_headers))
            ok = True
            return WebSocketConnection(stream, max_message_size, received_at, buffered)
        raise ConnectError(
            target.host,
            target.port,
            "timeout",
            TimeoutError(f"WebSocket upgrade not answered within {connect_timeout:g} s"),
        )
    finally:
        if not ok:
            await trio.aclose_forcefully(stream)


_HEADER_END = re.compile(rb"\n\r?\n")
"""End of the 101 response's header block, as h11 finds it."""


async def _handshake(
    stream: trio.abc.Stream,
    ws: WSConnection,
    target: _Target,
    extra_headers: list[tuple[str, str]],
) -> tuple[float, bytes]:
    """Send the upgrade and read the answer; return its read time and the bytes after it."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers]
    request = ws.send(
        Request(host=target.host_header, target=target.resource, extra_headers=headers)
    )
    try:
        await stream.send_all(request)
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise HandshakeError(0, detail=f"connection lost while sending the upgrade: {exc}") from exc
    status = 0
    body = bytearray()
    received = bytearray()
    while True:
        try:
            data = await stream.receive_some(_RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise HandshakeError(status, bytes(body), f"connection lost: {exc}") from exc
        timer = find_timer(stream)
        received_at = timer.last_read_at if timer is not None else trio.current_time()
        if not data:
            if status:
                raise HandshakeError(status, bytes(body))
            raise HandshakeError(0, detail="connection closed before the upgrade was answered")
        received += data
        try:
            ws.receive_data(data)  # type: ignore[arg-type]  # bytearray is fine
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    # A 101 has no body: frames that came in the same read
                    # follow the header block; the reader parses them first.
                    end = _HEADER_END.search(received)
                    leftover = bytes(received[end.end() :]) if end is not None else b""
                    return received_at, leftover
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        raise HandshakeError(status)
                elif isinstance(event, RejectData):
                    body += event.data[: _REJECT_BODY_LIMIT - len(body)]
                    if event.body_finished or len(body) >= _REJECT_BODY_LIMIT:
                        raise HandshakeError(status, bytes(body))
        except ProtocolError as exc:
            raise HandshakeError(status, bytes(body), f"protocol error: {exc}") from exc


_OPEN: Final = 0
_CLOSE_SENT: Final = 1
"""We sent a Close and wait for the peer's."""
_DONE: Final = 2
"""Closing handshake over (or the stream is gone): nothing more is sent."""


class WebSocketConnection:
    """An open client WebSocket connection (RFC 6455) over a trio stream.

    One task runs :meth:`run_reader` for the life of the connection; any
    number of tasks may call :meth:`send_text` / :meth:`send_ping` (a lock
    serialises writers). Create it with :func:`open_websocket`.

    Framing after the handshake is :mod:`._frames` (sans I/O): the server's
    frames are parsed without event objects, and the client's are built as
    bytes and written in one call.

    Args:
      stream: the byte stream after a completed upgrade.
      max_message_size: largest incoming message (bytes; UTF-8 bytes for text).
      opened_at: ``trio.current_time()`` when the upgrade's answer was read.
      buffered: bytes that came after the 101 response in the same read.

    Attributes:
      close_info: How the connection ended, or ``None`` while it is open.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        max_message_size: int,
        opened_at: float,
        buffered: bytes = b"",
    ) -> None:
        self._stream = stream
        self._reader = FrameReader(max_message_size)
        self._buffered = buffered
        self._opened_at = opened_at
        self._state = _OPEN
        self._send_lock = trio.Lock()
        self._reader_active = False
        self._stream_closed = False
        self._finished = trio.Event()
        self._timer = find_timer(stream)
        self._direct = stream if isinstance(stream, TimedSocketStream) else None
        """The stream itself when a synchronous write is possible (plain socket, no TLS)."""
        self._outbox: list[tuple[bytes, OnWritten]] = []
        """Frames queued by :meth:`send_nowait` for the writer, in order."""
        self._outbox_lot = trio.lowlevel.ParkingLot()
        self.close_info: CloseInfo | None = None

    def __repr__(self) -> str:
        state = "open" if self.close_info is None else f"closed {self.close_info.code}"
        return f"<WebSocketConnection {state}>"

    @property
    def socket(self) -> trio.socket.SocketType | None:
        """The underlying OS socket, or ``None`` for an in-memory stream."""
        return find_socket(self._stream)

    @property
    def syscall_timestamps(self) -> bool:
        """Whether send/receive times are read right at the system call.

        ``True`` over :class:`NetConnector` streams (:class:`TimedSocketStream`);
        otherwise the times are read when ``send_all``/``receive_some`` return.
        """
        return self._timer is not None

    @property
    def is_open(self) -> bool:
        """``True`` until a Close was sent or received or the stream was lost."""
        return self.close_info is None and self._state == _OPEN

    # ------------------------------------------------------------------ sending

    async def _send_frames(self, data: bytes) -> float:
        if self.close_info is not None or self._state != _OPEN:
            raise ConnectionClosed(self.close_info)
        lock = self._send_lock
        # Uncontended fast path: avoid the extra scheduling round of Lock.acquire().
        if lock.locked():
            await lock.acquire()
        else:
            lock.acquire_nowait()
        try:
            # Raise a pending cancellation *before* the frame is written (this
            # does not yield): a cancellation that escapes send_all below then
            # means the write blocked part-way.
            await trio.lowlevel.checkpoint_if_cancelled()
            if self._state != _OPEN:  # closed while we waited for the lock
                raise ConnectionClosed(self.close_info)
            try:
                if self._outbox:
                    await self._drain_outbox()  # queued frames go first, in order
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionClosed(self.close_info) from exc
            except BaseException:
                # Cancelled while the kernel buffer was full: the frame may be
                # half-written, so the stream can no longer be used.
                self._finish(CloseInfo(1006, "send interrupted", local=True))
                await self._close_stream()
                raise
            timer = self._timer
            return timer.last_write_at if timer is not None else trio.current_time()
        finally:
            lock.release()

    async def send_text(self, text: str) -> float:
        """Send one text message.

        Returns:
          The ``trio.current_time()`` at which the bytes were written.

        A cancellation that arrives before the write starts leaves the
        connection intact; one that interrupts a blocked write (the peer is not
        reading) closes it (``CloseInfo(1006, "send interrupted")``).

        Raises:
          ConnectionClosed: if the connection is closed or closing.
        """
        return await self._send_frames(encode_frame(OP_TEXT, text.encode("utf-8")))

    async def send_bytes(self, data: bytes) -> float:
        """Send one binary message; returns the time right after the write."""
        return await self._send_frames(encode_frame(OP_BINARY, bytes(data)))

    async def send_ping(self, payload: bytes) -> float:
        """Send a Ping control frame (``payload`` at most 125 bytes).

        Returns:
          The ``trio.current_time()`` at which the bytes were written.

        Raises:
          ValueError: if the payload is longer than 125 bytes.
          ConnectionClosed: if the connection is closed or closing.
        """
        if len(payload) > 125:
            raise ValueError("ping payload must be at most 125 bytes")
        return await self._send_frames(encode_frame(OP_PING, payload))

    async def send_ping_and_text(self, payload: bytes, text: str) -> float:
        """Send a Ping control frame and a text message in one write.

        One system call and one scheduler pass instead of two: a probe slot's
        control ping and application message leave together and share the
        returned send time. Same errors as :meth:`send_ping` and :meth:`send_text`.
        """
        if len(payload) > 125:
            raise ValueError("ping payload must be at most 125 bytes")
        return await self._send_frames(
            encode_frame(OP_PING, payload) + encode_frame(OP_TEXT, text.encode("utf-8"))
        )

    # ------------------------------------------------- writing without a task

    @property
    def writes_queued(self) -> bool:
        """Frames queued by :meth:`send_nowait` wait for :meth:`run_writer`."""
        return bool(self._outbox)

    def send_nowait(self, data: bytes, on_written: OnWritten) -> float | None:
        """Write pre-encoded client frames now if that needs no waiting; else queue them.

        Over a plain socket stream, with no other write in progress and
        nothing queued, this is one non-blocking ``write``: if every byte went
        out it returns the ``trio.current_time()`` read right after the system
        call, and ``on_written`` is not called. Otherwise (full send buffer,
        TLS, in-memory stream, a write in progress) the bytes not yet written
        are queued and ``None`` is returned; :meth:`run_writer` (which the
        caller must have running, or start now) writes them in order and calls
        ``on_written(t)`` with the time the last byte went out. Never yields.

        Raises:
          ConnectionClosed: if the connection is closed or closing, or the
            synchronous write failed.
        """
        if self.close_info is not None or self._state != _OPEN:
            raise ConnectionClosed(self.close_info)
        direct = self._direct
        if direct is not None and not self._outbox and not self._send_lock.locked():
            try:
                n = direct.write_nowait(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionClosed(self.close_info) from exc
            if n == len(data):
                return direct.last_write_at
            # a partial frame is on the wire: the rest goes before anything else
            data = data[n:]
        self._outbox.append((data, on_written))
        self._outbox_lot.unpark()
        return None

    async def _drain_outbox(self) -> None:
        """Write every queued frame (the send lock is held); report each write time."""
        while self._outbox:
            batch = self._outbox
            self._outbox = []
            data = batch[0][0] if len(batch) == 1 else b"".join(d for d, _ in batch)
            await self._stream.send_all(data)
            timer = self._timer
            t = timer.last_write_at if timer is not None else trio.current_time()
            for _, on_written in batch:
                on_written(t)

    async def run_writer(self) -> None:
        """Write what :meth:`send_nowait` queued, until the connection is closed.

        A write that is cancelled part-way (the peer stopped reading and the
        owner gave up) leaves a half-written frame: the connection is then
        closed (``CloseInfo(1006, "send interrupted")``), as for :meth:`send_text`.
        """
        lock = self._send_lock
        while not self._stream_closed and self._state == _OPEN:
            if not self._outbox:
                await self._outbox_lot.park()
                continue
            await lock.acquire()
            try:
                if self._state != _OPEN:
                    break
                await self._drain_outbox()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._outbox.clear()
                break
            except BaseException:
                self._outbox.clear()
                self._finish(CloseInfo(1006, "send interrupted", local=True))
                await self._close_stream()
                raise
            finally:
                lock.release()
        self._outbox.clear()

    async def _send_control(self, data: bytes) -> None:
        """Write protocol bytes from the reader (pong, close reply); errors ignored."""
        if not data or self._stream_closed:
            return
        async with self._send_lock:
            try:
                if self._outbox:
                    await self._drain_outbox()  # a queued (maybe partial) frame goes first
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    async def _send_close(self, code: int, reason: str) -> None:
        """Send our Close frame (once; nothing is sent after it)."""
        if self._state != _OPEN or self._stream_closed:
            return
        self._state = _CLOSE_SENT
        await self._send_control(encode_frame(OP_CLOSE, close_payload(code, reason)))

    # ------------------------------------------------------------------ reading

    async def run_reader(self, on_message: OnMessage, on_pong: OnPong) -> CloseInfo:
        """Read and dispatch frames until the connection ends.

        For every complete message ``on_message(data, t)`` is called, for every
        Pong ``on_pong(payload, t)``, where ``t`` is the ``trio.current_time()``
        at which the read that completed the frame returned. Both run
        synchronously in this task: keep them cheap and non-blocking. Server
        Pings are answered. The reader never stops draining, so pongs are
        never delayed by unread messages.

        Returns:
          The :class:`CloseInfo` once the connection has ended: a Close from
          the peer (answered), EOF or reset (``1006``), an oversize message
          (``1009``, sent by us), a protocol error (``1002``/``1007``, sent by
          us) or a local :meth:`aclose`. It does not raise for any of these;
          exceptions raised by the callbacks propagate (the stream is then
          closed).
        """
        if self._reader_active:
            raise RuntimeError("run_reader is already running on this connection")
        self._reader_active = True
        try:
            return await self._read_loop(on_message, on_pong)
        finally:
            self._reader_active = False
            if self.close_info is None:
                # Only reachable when a callback raised or we were cancelled.
                self.close_info = CloseInfo(1006, "reader stopped", local=True)
            await self._close_stream()

    async def _read_loop(self, on_message: OnMessage, on_pong: OnPong) -> CloseInfo:
        feed = self._reader.feed
        receive_some = self._stream.receive_some
        timer = self._timer
        t = self._opened_at
        data: bytes | bytearray = self._buffered  # first pass: frames that came with the 101
        self._buffered = b""
        while True:
            if data:
                events, failure = feed(data)
                for opcode, payload in events:
                    if opcode == OP_PONG:
                        on_pong(payload, t)
                    elif opcode <= OP_BINARY:
                        on_message(payload, t)
                    elif opcode == OP_PING:
                        if self._state == _OPEN:
                            await self._send_control(encode_frame(OP_PONG, payload))
                    else:  # OP_CLOSE
                        code, reason = payload
                        return await self._on_close_frame(code, reason)
                if failure is not None:
                    return await self._fail(*failure)
            if self.close_info is not None:
                return self.close_info
            try:
                data = await receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                return self._finish(CloseInfo(1006, f"connection lost: {exc}".rstrip(": ")))
            t = timer.last_read_at if timer is not None else trio.current_time()
            if not data:
                return self._finish(CloseInfo(1006, "connection closed without a close frame"))

    async def _on_close_frame(self, code: int, reason: str) -> CloseInfo:
        if self._state == _OPEN:
            # The peer started the close: answer it, then drop the stream.
            info = self._finish(CloseInfo(code, reason))
            await self._send_close(code, "")
            self._state = _DONE
            return info
        # The peer's answer to our own Close.
        self._state = _DONE
        return self._finish(CloseInfo(code, reason, local=True))

    def _finish(self, info: CloseInfo) -> CloseInfo:
        if self.close_info is None:
            self.close_info = info
        self._finished.set()
        return self.close_info

    async def _fail(self, code: int, reason: str) -> CloseInfo:
        """Close from our side because of the peer's data (1009, 1002, 1007)."""
        info = self._finish(CloseInfo(code, reason, local=True))
        with trio.move_on_after(1.0):
            await self._send_close(code, reason)
        self._state = _DONE
        return info

    # ------------------------------------------------------------------ closing

    async def _close_stream(self) -> None:
        if not self._stream_closed:
            self._stream_closed = True
            self._state = _DONE
            self._outbox_lot.unpark_all()  # the writer ends
            await trio.aclose_forcefully(self._stream)

    async def aclose(
        self,
        code: int = 1000,
        reason: str = "",
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> None:
        """Close the connection, never taking more than ``timeout`` seconds.

        Sends a Close frame (if still open), waits up to ``timeout`` for the
        peer's Close (read by :meth:`run_reader` if it is running, otherwise
        here), then closes the stream. Safe to call more than once and from a
        cancelled scope (the stream is then closed at once).
        """
        try:
            with trio.move_on_after(timeout):
                await self._send_close(code, reason)
                if self._reader_active:
                    await self._finished.wait()
                elif self.close_info is None and not self._stream_closed:
                    await self._drain_until_close()
        finally:
            if self.close_info is None:
                self.close_info = CloseInfo(code, reason, local=True)
            self._finished.set()
            await self._close_stream()

    async def _drain_until_close(self) -> None:
        feed = self._reader.feed
        data: bytes | bytearray = self._buffered
        self._buffered = b""
        while True:
            if data:
                events, failure = feed(data)
                for opcode, payload in events:
                    if opcode == OP_CLOSE:
                        code, reason = payload
                        self.close_info = CloseInfo(code, reason, local=True)
                        return
                if failure is not None:
                    return
            try:
                data = await self._stream.receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
