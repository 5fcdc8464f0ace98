"""A thin WebSocket client on wsproto over any trio stream.

Why not trio-websocket: an in-flight ``ping()`` can hang forever, unread
messages block pongs, the connect timeout does not cover the upgrade, and
closing is unbounded (see ``shared/reference/measurement.md``). This client
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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import ProtocolError

from ._connector import Connector, is_loopback_host
from ._errors import ConnectError, ConnectionClosed, HandshakeError
from ._timed import find_socket, find_timer

__all__ = ["CloseInfo", "WebSocketConnection", "open_websocket"]

DEFAULT_MAX_MESSAGE_SIZE = 65536 * 16
"""Largest incoming message accepted (1 MiB); larger ones close the connection with 1009."""

_RECEIVE_SIZE = 65536
_REJECT_BODY_LIMIT = 512

OnMessage = Callable[[str | bytes, float], None]
OnPong = Callable[[bytes, float], None]


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
            received_at = await _handshake(stream, ws, target, list(extra_headers))
            ok = True
            return WebSocketConnection(stream, ws, max_message_size, received_at)
        raise ConnectError(
            target.host,
            target.port,
            "timeout",
            TimeoutError(f"WebSocket upgrade not answered within {connect_timeout:g} s"),
        )
    finally:
        if not ok:
            await trio.aclose_forcefully(stream)


async def _handshake(
    stream: trio.abc.Stream,
    ws: WSConnection,
    target: _Target,
    extra_headers: list[tuple[str, str]],
) -> float:
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
        try:
            ws.receive_data(data)  # type: ignore[arg-type]  # bytearray is fine
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    # Frames that came in the same read as the 101 stay
                    # buffered in ``ws``; the reader yields them first.
                    return received_at
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


class WebSocketConnection:
    """An open client WebSocket connection (RFC 6455) over a trio stream.

    One task runs :meth:`run_reader` for the life of the connection; any
    number of tasks may call :meth:`send_text` / :meth:`send_ping` (a lock
    serialises writers). Create it with :func:`open_websocket`.

    Attributes:
      close_info: How the connection ended, or ``None`` while it is open.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        ws: WSConnection,
        max_message_size: int,
        opened_at: float,
    ) -> None:
        self._stream = stream
        self._ws = ws
        self._max = max_message_size
        self._opened_at = opened_at
        self._send_lock = trio.Lock()
        self._reader_active = False
        self._stream_closed = False
        self._finished = trio.Event()
        self._timer = find_timer(stream)
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
        return self.close_info is None and self._ws.state is ConnectionState.OPEN

    # ------------------------------------------------------------------ sending

    async def _send_frame(
        self, event: TextMessage | BytesMessage | Ping, *more: TextMessage | Ping
    ) -> float:
        if self.close_info is not None:
            raise ConnectionClosed(self.close_info)
        lock = self._send_lock
        # Uncontended fast path: avoid the extra scheduling round of Lock.acquire().
        if lock.locked():
            await lock.acquire()
        else:
            lock.acquire_nowait()
        try:
            # Raise a pending cancellation *before* the frame is generated and
            # written (this does not yield): a cancellation that escapes
            # send_all below then means the write blocked part-way.
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                data = self._ws.send(event)
                for extra in more:
                    data += self._ws.send(extra)
            except ProtocolError:
                raise ConnectionClosed(self.close_info) from None
            try:
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
        return await self._send_frame(TextMessage(data=text))

    async def send_bytes(self, data: bytes) -> float:
        """Send one binary message; returns the time right after the write."""
        return await self._send_frame(BytesMessage(data=data))

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
        return await self._send_frame(Ping(payload=payload))

    async def send_ping_and_text(self, payload: bytes, text: str) -> float:
        """Send a Ping control frame and a text message in one write.

        One system call and one scheduler pass instead of two: a probe slot's
        control ping and application message leave together and share the
        returned send time. Same errors as :meth:`send_ping` and :meth:`send_text`.
        """
        if len(payload) > 125:
            raise ValueError("ping payload must be at most 125 bytes")
        return await self._send_frame(Ping(payload=payload), TextMessage(data=text))

    async def _send_control(self, data: bytes) -> None:
        """Write protocol bytes from the reader (pong, close reply); errors ignored."""
        if not data or self._stream_closed:
            return
        async with self._send_lock:
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

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
        ws = self._ws
        receive_some = self._stream.receive_some
        timer = self._timer
        max_size = self._max
        text_parts: list[str] = []
        bytes_parts: list[bytes] = []
        size = 0
        t = self._opened_at
        data: bytes | bytearray | None = None  # first pass: frames buffered with the 101
        while True:
            if data is not None:
                try:
                    ws.receive_data(data)  # type: ignore[arg-type]  # bytearray is fine
                except ProtocolError:  # pragma: no cover - only after CLOSED
                    return self._finish(CloseInfo(1006, "data after close"))
            for event in ws.events():
                if isinstance(event, TextMessage):
                    text = event.data
                    if event.message_finished and not text_parts:
                        if len(text) * 4 > max_size and len(text.encode()) > max_size:
                            return await self._fail(1009, "message too big")
                        on_message(text, t)
                    else:
                        size += len(text)
                        if size > max_size:
                            return await self._fail(1009, "message too big")
                        text_parts.append(text)
                        if event.message_finished:
                            whole = "".join(text_parts)
                            text_parts.clear()
                            size = 0
                            if len(whole) * 4 > max_size and len(whole.encode()) > max_size:
                                return await self._fail(1009, "message too big")
                            on_message(whole, t)
                elif isinstance(event, Pong):
                    on_pong(event.payload, t)
                elif isinstance(event, Ping):
                    if ws.state is ConnectionState.OPEN:
                        await self._send_control(ws.send(event.response()))
                elif isinstance(event, BytesMessage):
                    chunk = bytes(event.data)
                    size += len(chunk)
                    if size > max_size:
                        return await self._fail(1009, "message too big")
                    if event.message_finished:
                        bytes_parts.append(chunk)
                        whole_b = b"".join(bytes_parts)
                        bytes_parts.clear()
                        size = 0
                        on_message(whole_b, t)
                    else:
                        bytes_parts.append(chunk)
                elif isinstance(event, CloseConnection):
                    return await self._on_close_event(event)
            if self.close_info is not None:
                return self.close_info
            try:
                data = await receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                return self._finish(CloseInfo(1006, f"connection lost: {exc}".rstrip(": ")))
            t = timer.last_read_at if timer is not None else trio.current_time()
            if not data:
                return self._finish(CloseInfo(1006, "connection closed without a close frame"))

    async def _on_close_event(self, event: CloseConnection) -> CloseInfo:
        state = self._ws.state
        if state is ConnectionState.REMOTE_CLOSING:
            # The peer started the close: answer it, then drop the stream.
            info = CloseInfo(event.code, event.reason or "")
            await self._send_control(self._ws.send(event.response()))
            return self._finish(info)
        if state is ConnectionState.OPEN:
            # wsproto reports a frame it could not parse as a CloseConnection
            # without a Close from the peer: we close with that code.
            return await self._fail(event.code, event.reason or "protocol error")
        # CLOSED after our own Close: this is the peer's answer.
        return self._finish(CloseInfo(event.code, event.reason or "", local=True))

    def _finish(self, info: CloseInfo) -> CloseInfo:
        if self.close_info is None:
            self.close_info = info
        self._finished.set()
        return self.close_info

    async def _fail(self, code: int, reason: str) -> CloseInfo:
        """Close from our side because of the peer's data (1009, 1002, 1007)."""
        info = self._finish(CloseInfo(code, reason, local=True))
        if self._ws.state is ConnectionState.OPEN:
            data = self._ws.send(CloseConnection(code=code, reason=reason))
            with trio.move_on_after(1.0):
                await self._send_control(data)
        return info

    # ------------------------------------------------------------------ closing

    async def _close_stream(self) -> None:
        if not self._stream_closed:
            self._stream_closed = True
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
                if self._ws.state is ConnectionState.OPEN and not self._stream_closed:
                    data = self._ws.send(CloseConnection(code=code, reason=reason))
                    await self._send_control(data)
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
        ws = self._ws
        while ws.state is not ConnectionState.CLOSED:
            try:
                data = await self._stream.receive_some(_RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            ws.receive_data(data)  # type: ignore[arg-type]  # bytearray is fine
            for event in ws.events():
                if isinstance(event, CloseConnection):
                    self.close_info = CloseInfo(event.code, event.reason or "", local=True)
                    return
