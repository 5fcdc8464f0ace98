"""Test support for the streaming side: a fake runtime and a wsproto test client.

No tests here. The session is driven through ``serve_channel_socket`` over a
``trio.testing.memory_stream_pair``, so every test can run under a MockClock.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from genesys_pulse.emulator._faults import FaultController
from genesys_pulse.emulator._streaming import serve_channel_socket


@dataclass
class FakeSettings:
    heartbeat_period: float = 30.0
    socket_closing_lead: float = 60.0
    control_pongs: bool = True
    max_ws_message: int = 65536
    event_rate: float = 1.0
    channel_ttl: float = 86400.0


@dataclass(eq=False)
class FakeChannel:
    id: str = "streaming-0-abcdefghijklmnopqrstuvwxyz"
    expires_at: float = math.inf
    topics: dict[str, Any] = field(default_factory=dict)
    session: object | None = None


class SubscriptionRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FakeState:
    def __init__(self, settings: FakeSettings) -> None:
        self.settings = settings

    def attach_session(self, channel: FakeChannel, session: object) -> object | None:
        previous = channel.session
        channel.session = session
        return previous if previous is not session else None

    def detach_session(self, channel: FakeChannel, session: object) -> None:
        if channel.session is session:
            channel.session = None

    def add_topics(
        self,
        channel: FakeChannel,
        topics: list[str],
        replace: bool,
        ignore_errors: bool,
        now: float,
    ) -> list[dict[str, Any]]:
        if any("forbidden" in t for t in topics):
            raise SubscriptionRefused(403, "missing permissions")
        for t in topics:
            channel.topics[t] = t
        channel.expires_at = now + self.settings.channel_ttl
        return []

    def remove_topics(self, channel: FakeChannel, topics: list[str], now: float) -> None:
        for t in topics:
            channel.topics.pop(t, None)


class FakeRuntime:
    def __init__(self, nursery: trio.Nursery, **settings: Any) -> None:
        self.settings = FakeSettings(**settings)
        self.rng = random.Random(1)
        self.faults = FaultController(rng=random.Random(2))
        self.state = FakeState(self.settings)
        self.nursery = nursery


@dataclass
class Received:
    kind: str  # accept, text, bytes, ping, pong, close, eof
    at: float
    data: Any = None
    code: int | None = None
    reason: str = ""

    def json(self) -> Any:
        return json.loads(self.data)


class Client:
    """A wsproto client on one end of a memory stream; records what arrives."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._send, self._recv = trio.open_memory_channel[Received](math.inf)
        self._parts: list[Any] = []
        self.heartbeats: list[float] = []

    def request_bytes(self, channel_id: str) -> bytes:
        return self.ws.send(Request(host="emulator", target=f"/channels/{channel_id}"))

    async def reader(self) -> None:
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            at = trio.current_time()
            if not data:
                self._send.send_nowait(Received("eof", at))
                return
            self.ws.receive_data(data)
            for ev in self.ws.events():
                if isinstance(ev, AcceptConnection):
                    self._send.send_nowait(Received("accept", at))
                elif isinstance(ev, TextMessage | BytesMessage):
                    self._parts.append(ev.data)
                    if ev.message_finished:
                        joined: Any = (
                            "".join(self._parts)
                            if isinstance(ev, TextMessage)
                            else b"".join(self._parts)
                        )
                        self._parts.clear()
                        kind = "text" if isinstance(ev, TextMessage) else "bytes"
                        if kind == "text" and "WebSocket Heartbeat" in joined:
                            self.heartbeats.append(at)
                        self._send.send_nowait(Received(kind, at, joined))
                elif isinstance(ev, Ping):
                    self._send.send_nowait(Received("ping", at, ev.payload))
                elif isinstance(ev, Pong):
                    self._send.send_nowait(Received("pong", at, bytes(ev.payload)))
                elif isinstance(ev, CloseConnection):
                    self._send.send_nowait(Received("close", at, code=ev.code, reason=ev.reason))
                    if self.ws.state == ConnectionState.REMOTE_CLOSING:
                        try:
                            await self.stream.send_all(self.ws.send(ev.response()))
                        except (trio.BrokenResourceError, trio.ClosedResourceError):
                            pass

    async def send_text(self, text: str) -> float:
        await self.stream.send_all(self.ws.send(TextMessage(data=text)))
        return trio.current_time()

    async def send_json(self, obj: Any) -> float:
        return await self.send_text(json.dumps(obj))

    async def ping(self, payload: bytes = b"p") -> float:
        await self.stream.send_all(self.ws.send(Ping(payload=payload)))
        return trio.current_time()

    async def close(self, code: int = 1000) -> None:
        await self.stream.send_all(self.ws.send(CloseConnection(code=code)))

    async def next(self, *, heartbeats: bool = False, timeout: float = 100_000.0) -> Received:  # noqa: ASYNC109
        """The next received item (heartbeats skipped unless asked for)."""
        with trio.fail_after(timeout):
            while True:
                item = await self._recv.receive()
                if not heartbeats and item.kind == "text" and "WebSocket Heartbeat" in item.data:
                    continue
                return item

    async def nothing_for(self, seconds: float, *, heartbeats: bool = False) -> bool:
        """True if nothing (but heartbeats, unless asked) arrives within ``seconds``."""
        with trio.move_on_after(seconds):
            await self.next(heartbeats=heartbeats)
            return False
        return True


@asynccontextmanager
async def session(
    runtime: FakeRuntime, channel: FakeChannel | None = None
) -> AsyncIterator[tuple[Client, FakeChannel]]:
    """Connect a test client to ``channel`` through ``serve_channel_socket``."""
    channel = channel or FakeChannel()
    client_stream, server_stream = trio.testing.memory_stream_pair()
    client = Client(client_stream)
    raw = client.request_bytes(channel.id)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_channel_socket, runtime, server_stream, raw, channel)
        nursery.start_soon(client.reader)
        first = await client.next()
        assert first.kind == "accept"
        yield client, channel
        nursery.cancel_scope.cancel()
