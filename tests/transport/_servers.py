"""Tiny WebSocket/TCP servers for transport tests (127.0.0.1 or in-memory)."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)

Handler = Callable[[trio.abc.Stream], Awaitable[None]]


class ServerWS:
    """Server side of one WebSocket connection, driven by a test."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.request: Request | None = None

    async def accept(self) -> None:
        while self.request is None:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError
            self.ws.receive_data(data)
            for ev in self.ws.events():
                if isinstance(ev, Request):
                    self.request = ev
        await self.stream.send_all(self.ws.send(AcceptConnection()))

    async def send(self, event: object) -> None:
        await self.stream.send_all(self.ws.send(event))  # type: ignore[arg-type]

    async def events(self) -> AsyncIterator[object]:
        """Yield events until EOF; pings are answered automatically."""
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            self.ws.receive_data(data)
            for ev in self.ws.events():
                if isinstance(ev, Ping):
                    await self.send(ev.response())
                yield ev


async def echo_handler(stream: trio.abc.Stream) -> None:
    """Accept, echo messages, answer pings, answer a close."""
    srv = ServerWS(stream)
    try:
        await srv.accept()
        async for ev in srv.events():
            if isinstance(ev, TextMessage | BytesMessage):
                await srv.send(type(ev)(data=ev.data))
            elif isinstance(ev, CloseConnection):
                await srv.send(ev.response())
                return
    except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


@asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[int]:
    """Serve ``handler`` on 127.0.0.1:<random port>; yields the port."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield port
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def tls_server(handler: Handler, ssl_context: object) -> AsyncIterator[int]:
    """Serve ``handler`` over TLS on 127.0.0.1:<random port>."""
    import ssl

    assert isinstance(ssl_context, ssl.SSLContext)
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        tls_listeners = [
            trio.SSLListener(lst, ssl_context, https_compatible=True) for lst in listeners
        ]
        nursery.start_soon(trio.serve_listeners, handler, tls_listeners)
        port = listeners[0].socket.getsockname()[1]
        yield port
        nursery.cancel_scope.cancel()


def reset(stream: trio.abc.Stream) -> None:
    """Make closing ``stream`` send a TCP RST (SO_LINGER 0)."""
    assert isinstance(stream, trio.SocketStream)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class MemoryConnector:
    """A Connector that hands out in-memory streams served by ``handler``."""

    def __init__(self, nursery: trio.Nursery, handler: Handler) -> None:
        self.nursery = nursery
        self.handler = handler
        self.calls: list[tuple[str, int, bool, float]] = []

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        self.calls.append((host, port, tls, timeout))
        client, server = trio.testing.memory_stream_pair()
        self.nursery.start_soon(self.handler, server)
        return client


__all__ = [
    "MemoryConnector",
    "ServerWS",
    "echo_handler",
    "reset",
    "tcp_server",
    "tls_server",
]
