"""A socket stream whose reads and writes are timestamped at the system call.

Why: ``trio.SocketStream.send_all`` yields to the scheduler *after* the write
succeeded (``cancel_shielded_checkpoint``). A time taken when ``send_all``
returns is therefore late by whatever the scheduler ran meanwhile - possibly
the very reader task that already received the reply, which gives round-trip
times that are too small or even negative. The same happens on the receive
side when data is already waiting. :class:`TimedSocketStream` does the
non-blocking ``write``/``read`` itself, reads ``trio.current_time()`` right
after the call that completed the operation, and only then yields. Under
:class:`trio.SSLStream` it is the transport, so with TLS the stamps are those
of the encrypted bytes on the wire.
"""

from __future__ import annotations

import os
import socket
import sys
import weakref
from typing import Any

import trio

__all__ = [
    "TimedSocketStream",
    "close_inherited_sockets",
    "find_socket",
    "find_timer",
    "timed",
    "track_sockets",
]

_OPEN: weakref.WeakSet[TimedSocketStream] = weakref.WeakSet()
"""Every stream of this process not yet closed (for :func:`close_inherited_sockets`)."""
_CREATED: weakref.WeakSet[trio.socket.SocketType] = weakref.WeakSet()
"""Every socket a tracked trio run created (see :func:`track_sockets`)."""


class _TrackingSocketFactory(trio.abc.SocketFactory):
    """Trio's own socket creation, remembering each socket from its creation on (a
    connection still being opened when the process forks is one of them too)."""

    def socket(
        self,
        family: socket.AddressFamily | int = socket.AF_INET,
        type: socket.SocketKind | int = socket.SOCK_STREAM,
        proto: int = 0,
    ) -> trio.socket.SocketType:
        sock = trio.socket.from_stdlib_socket(socket.socket(family, type, proto))
        _CREATED.add(sock)
        return sock


def track_sockets() -> None:
    """In the current trio run, remember every socket created (for forked children)."""
    trio.socket.set_custom_socket_factory(_TrackingSocketFactory())


_DEFAULT_RECEIVE_SIZE = 65536


class TimedSocketStream(trio.abc.HalfCloseableStream):
    """Wraps a connected :class:`trio.SocketStream`; stamps reads and writes.

    Attributes:
      last_write_at: ``trio.current_time()`` right after the system call that
        completed the latest :meth:`send_all`.
      last_read_at: ``trio.current_time()`` right after the system call that
        returned the latest :meth:`receive_some` data.
    """

    def __init__(self, inner: trio.SocketStream) -> None:
        self._inner = inner
        self.socket = inner.socket
        self._fd = inner.socket.fileno()
        self._closed = False
        self._eof_sent = False
        self._sending = False
        self._receiving = False
        self.last_write_at = 0.0
        self.last_read_at = 0.0
        _OPEN.add(self)

    def setsockopt(self, level: int, option: int, value: int | bytes) -> None:
        """Set a socket option on the underlying socket."""
        self._inner.setsockopt(level, option, value)

    def getsockopt(self, level: int, option: int, buffersize: int = 0) -> Any:
        """Get a socket option from the underlying socket."""
        return self._inner.getsockopt(level, option, buffersize)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data``; stamp :attr:`last_write_at` when the last byte went out."""
        if self._closed or self._eof_sent:
            raise trio.ClosedResourceError("the stream is closed for sending")
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            blocked = False
            with memoryview(data) as view:
                total = len(view)
                sent = 0
                while sent < total:
                    try:
                        sent += os.write(self._fd, view[sent:])
                    except BlockingIOError:
                        blocked = True
                        await trio.lowlevel.wait_writable(self.socket)
                        if self._closed:
                            raise trio.ClosedResourceError("the stream was closed") from None
                    except OSError as exc:
                        raise trio.BrokenResourceError(f"socket write failed: {exc}") from exc
            self.last_write_at = trio.current_time()
            if not blocked:
                await trio.lowlevel.cancel_shielded_checkpoint()
        finally:
            self._sending = False

    def write_nowait(self, data: bytes | bytearray | memoryview) -> int:
        """One non-blocking ``write`` of ``data``; returns how many bytes went out.

        Never yields: a caller that may not wait (the probe driver) writes
        here when the kernel's send buffer has room, and queues the rest for a
        task that may block. Returns 0 (nothing written) while another task is
        in :meth:`send_all` or when the buffer is full. Stamps
        :attr:`last_write_at` after the call.

        Raises:
          trio.ClosedResourceError: the stream is closed for sending.
          trio.BrokenResourceError: the write failed (reset, broken pipe).
        """
        if self._closed or self._eof_sent:
            raise trio.ClosedResourceError("the stream is closed for sending")
        if self._sending:
            return 0
        try:
            n = os.write(self._fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise trio.BrokenResourceError(f"socket write failed: {exc}") from exc
        self.last_write_at = trio.current_time()
        return n

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the socket is writable."""
        if self._closed:
            raise trio.ClosedResourceError("the stream is closed")
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            await trio.lowlevel.wait_writable(self.socket)
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Read at most ``max_bytes``; ``b""`` at EOF. Stamps :attr:`last_read_at`."""
        if self._closed:
            raise trio.ClosedResourceError("the stream is closed")
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this stream")
        size = _DEFAULT_RECEIVE_SIZE if max_bytes is None else max_bytes
        if size < 1:
            raise ValueError("max_bytes must be >= 1")
        self._receiving = True
        try:
            await trio.lowlevel.checkpoint_if_cancelled()
            blocked = False
            while True:
                try:
                    data = os.read(self._fd, size)
                    break
                except BlockingIOError:
                    blocked = True
                    await trio.lowlevel.wait_readable(self.socket)
                    if self._closed:
                        raise trio.ClosedResourceError("the stream was closed") from None
                except OSError as exc:
                    raise trio.BrokenResourceError(f"socket read failed: {exc}") from exc
            self.last_read_at = trio.current_time()
            if not blocked:
                await trio.lowlevel.cancel_shielded_checkpoint()
            return data
        finally:
            self._receiving = False

    async def send_eof(self) -> None:
        """Shut down the sending side (TCP FIN)."""
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this stream")
        self._eof_sent = True
        await self._inner.send_eof()

    async def aclose(self) -> None:
        """Close the socket; blocked readers and writers get ``ClosedResourceError``."""
        self._closed = True
        _OPEN.discard(self)
        await self._inner.aclose()


def close_inherited_sockets() -> int:
    """In a forked child: close this process's copies of the monitor's sockets.

    A child forked while the monitor (a thread of the parent) had connections
    open holds duplicates of their descriptors; the parent's later close then
    does not end the TCP connection (it lingers in CLOSE-WAIT while any worker
    lives). Only the child's descriptor is closed: no ``shutdown``, which would
    end the parent's connection too. Returns how many were closed.
    """
    closed = 0
    socks = []
    for stream in list(_OPEN):
        stream._closed = True
        socks.append(stream.socket)
    socks += list(_CREATED)
    for sock in socks:
        try:
            fd = sock.detach()  # the socket object forgets the fd: no double close
        except Exception:
            fd = -1
        if fd >= 0:
            try:
                os.close(fd)
                closed += 1
            except OSError:
                pass
    _OPEN.clear()
    _CREATED.clear()
    return closed


def timed(stream: trio.SocketStream) -> trio.abc.HalfCloseableStream:
    """Wrap ``stream`` in a :class:`TimedSocketStream` where supported (POSIX)."""
    if sys.platform == "win32":  # pragma: no cover - os.read/os.write need POSIX sockets
        return stream
    return TimedSocketStream(stream)


def _bottom(stream: object) -> object:
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    return stream


def find_timer(stream: object) -> TimedSocketStream | None:
    """The :class:`TimedSocketStream` at the bottom of ``stream``, if any."""
    bottom = _bottom(stream)
    return bottom if isinstance(bottom, TimedSocketStream) else None


def find_socket(stream: object) -> trio.socket.SocketType | None:
    """The OS socket at the bottom of ``stream``, or ``None`` (in-memory streams)."""
    bottom = _bottom(stream)
    if isinstance(bottom, TimedSocketStream | trio.SocketStream):
        return bottom.socket
    return None


def _after_fork_in_child() -> None:
    try:
        close_inherited_sockets()
    except Exception:  # never break the host's fork
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
