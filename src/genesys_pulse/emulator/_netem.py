"""A TCP fault proxy: network-level faults between a client and any server.

The emulator injects faults *inside* the Genesys protocol (a delayed pong, a
close code). Some faults live below it: added latency per direction, a thin
pipe, a half-open stall, a reset. :class:`FaultProxy` sits on loopback between
a client and a server and applies them to the byte stream, like a tiny
``netem`` that needs no privileges.

It is also the ground-truth rig for accuracy benchmarks: every forwarded chunk
is recorded with the time it arrived and the time it was written on, so the
delay that was *actually* added (timer lateness included) is known exactly.

Usage::

    async with open_fault_proxy("127.0.0.1", server_port) as proxy:
        proxy.downstream.delay = fixed_delay(0.020)   # server -> client
        ... connect the client to proxy.port ...
        proxy.stall()             # stop forwarding both ways, keep sockets open
        proxy.reset_connections() # RST every proxied connection

Ordering: chunks are never reordered within a direction (a chunk is due no
earlier than the chunk before it), as on a real link without reordering.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import random
import socket
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import trio

__all__ = [
    "DirectionFaults",
    "FaultProxy",
    "ForwardRecord",
    "fixed_delay",
    "normal_delay",
    "open_fault_proxy",
]

DelayFn = Callable[[random.Random], float]


def fixed_delay(seconds: float) -> DelayFn:
    """A delay distribution that always adds ``seconds``."""
    if seconds < 0:
        raise ValueError("delay must be >= 0")
    return lambda _rng: seconds


def normal_delay(mean: float, stdev: float, floor: float = 0.0) -> DelayFn:
    """Normally distributed delay, never below ``floor`` seconds."""
    if stdev < 0 or floor < 0:
        raise ValueError("stdev and floor must be >= 0")
    return lambda rng: max(floor, rng.gauss(mean, stdev))


@dataclass(slots=True)
class ForwardRecord:
    """One forwarded chunk: when it arrived, when it left, how big it was.

    ``received`` is when the read system call returned, ``sent`` when the write
    system call that forwarded the chunk started.
    """

    received: float
    sent: float
    nbytes: int
    conn: int = -1
    """The client's TCP port of the proxied connection (``-1`` if unknown):
    records of different connections interleave in one deque."""

    @property
    def added_delay(self) -> float:
        """The delay the proxy really added (includes timer lateness)."""
        return self.sent - self.received


@dataclass
class DirectionFaults:
    """Faults for one direction of every proxied connection.

    ``delay`` draws the added delay per chunk; ``bandwidth`` (bytes/s) limits
    throughput (``None`` = unlimited); ``stalled`` holds all data (nothing is
    read or written in this direction) until cleared.
    """

    delay: DelayFn | None = None
    bandwidth: float | None = None
    stalled: bool = False
    records: deque[ForwardRecord] = field(default_factory=lambda: deque(maxlen=100_000))
    _unstalled: trio.Event = field(default_factory=trio.Event)

    def __post_init__(self) -> None:
        self._unstalled.set()

    def stall(self) -> None:
        """Stop forwarding in this direction (the sockets stay open)."""
        self.stalled = True
        self._unstalled = trio.Event()

    def resume(self) -> None:
        """Forward again; held data flows on in order."""
        self.stalled = False
        self._unstalled.set()


class FaultProxy:
    """Forward TCP connections from ``port`` to ``upstream`` with faults.

    Construct with :func:`open_fault_proxy`. ``upstream`` is data flowing from
    client to server, ``downstream`` from server to client.
    """

    def __init__(self, upstream_host: str, upstream_port: int, *, seed: int = 0) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.upstream = DirectionFaults()
        self.downstream = DirectionFaults()
        self.rng = random.Random(seed)
        self.host = "127.0.0.1"
        self.port = 0
        self.accepted = 0
        self.refuse_new = False
        self._conns: set[tuple[trio.SocketStream, trio.SocketStream, trio.CancelScope]] = set()

    @property
    def active_connections(self) -> int:
        """How many client connections are being proxied now."""
        return len(self._conns)

    def stall(self) -> None:
        """Half-open stall: both directions stop, sockets stay open."""
        self.upstream.stall()
        self.downstream.stall()

    def resume(self) -> None:
        """End a stall in both directions."""
        self.upstream.resume()
        self.downstream.resume()

    def reset_connections(self) -> int:
        """Abort every proxied connection with a TCP RST, both sides.

        Returns how many connections were reset.
        """
        n = 0
        for client, server, scope in list(self._conns):
            for s in (client, server):
                _rst(s)
            scope.cancel()
            n += 1
        return n

    async def _handle(self, client: trio.SocketStream) -> None:
        self.accepted += 1
        if self.refuse_new:
            _rst(client)
            return
        try:
            server = await trio.open_tcp_stream(self.upstream_host, self.upstream_port)
        except OSError:
            _rst(client)
            return
        for s in (client, server):
            with contextlib.suppress(OSError):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = int(client.socket.getpeername()[1])
        except (OSError, IndexError, TypeError):
            conn = -1
        with trio.CancelScope() as scope:
            entry = (client, server, scope)
            self._conns.add(entry)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pipe, client, server, self.upstream, scope, conn)
                    nursery.start_soon(self._pipe, server, client, self.downstream, scope, conn)
            finally:
                self._conns.discard(entry)
        with trio.CancelScope(shield=True):
            for s in (client, server):
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await s.aclose()

    async def _pipe(
        self,
        src: trio.SocketStream,
        dst: trio.SocketStream,
        faults: DirectionFaults,
        scope: trio.CancelScope,
        conn: int = -1,
    ) -> None:
        """Read from ``src``, hold each chunk until due, write to ``dst``."""
        send, recv = trio.open_memory_channel[tuple[float, float, bytes] | None](math.inf)

        async def writer() -> None:
            next_free = 0.0  # bandwidth: when the link is free again
            async for item in recv:
                if item is None:
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await dst.send_eof()
                    return
                received, due, chunk = item
                if faults.bandwidth:
                    start = max(due, next_free)
                    next_free = start + len(chunk) / faults.bandwidth
                    due = next_free
                await trio.sleep_until(due)
                await faults._unstalled.wait()
                try:
                    sent_at = await _write_timed(dst, chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    scope.cancel()
                    return
                faults.records.append(ForwardRecord(received, sent_at, len(chunk), conn))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            last_due = 0.0
            while True:
                await faults._unstalled.wait()
                try:
                    chunk, now = await _read_timed(src)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    scope.cancel()
                    return
                if not chunk:
                    send.send_nowait(None)
                    return
                delay = faults.delay(self.rng) if faults.delay else 0.0
                last_due = max(last_due, now + delay)
                send.send_nowait((now, last_due, chunk))


async def _read_timed(src: trio.SocketStream) -> tuple[bytes, float]:
    """Read a chunk; return it with the time the read system call returned.

    ``receive_some`` returns only after a scheduler pass, which on a busy proxy
    would make the recorded times (the ground truth of the accuracy bench) late.
    """
    sock = src.socket
    while True:
        try:
            chunk = os.read(sock.fileno(), 65536)  # trio sockets are non-blocking
        except BlockingIOError:
            await trio.lowlevel.wait_readable(sock)
            continue
        except OSError as exc:
            raise trio.BrokenResourceError(str(exc)) from exc
        now = trio.current_time()
        await trio.lowlevel.cancel_shielded_checkpoint()
        return chunk, now


async def _write_timed(dst: trio.SocketStream, chunk: bytes) -> float:
    """Write ``chunk``; return the time the bytes were handed to the kernel.

    That is the time *before* the write system call: on loopback the call itself
    delivers the bytes to the reader (who may read them before it returns), so
    the time after it would be late by the call's duration (50-150 us here).
    """
    before = trio.current_time()
    try:
        n = os.write(dst.socket.fileno(), chunk)  # non-blocking
    except BlockingIOError:
        n = 0
    except OSError as exc:
        raise trio.BrokenResourceError(str(exc)) from exc
    if n == len(chunk):
        await trio.lowlevel.cancel_shielded_checkpoint()
        return before
    await dst.send_all(chunk[n:])
    return trio.current_time()


def _rst(stream: trio.SocketStream) -> None:
    """Make the next close of ``stream`` send RST instead of FIN, then close."""
    with contextlib.suppress(OSError):
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        stream.socket.close()


@contextlib.asynccontextmanager
async def open_fault_proxy(
    upstream_host: str,
    upstream_port: int,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
) -> AsyncIterator[FaultProxy]:
    """Run a :class:`FaultProxy` on ``host:port`` for the duration of the block."""
    proxy = FaultProxy(upstream_host, upstream_port, seed=seed)
    async with trio.open_nursery() as nursery:
        listeners: list[trio.SocketListener] = await nursery.start(
            functools.partial(trio.serve_tcp, proxy._handle, port, host=host)
        )
        sockname = listeners[0].socket.getsockname()
        proxy.host, proxy.port = sockname[0], sockname[1]
        try:
            yield proxy
        finally:
            nursery.cancel_scope.cancel()
