"""The HTTP side's WebSocket hand-off, over the in-memory connector under MockClock.

A raw wsproto client (no project client code) upgrades on a channel's
connectUri; the channel's end (expiry, eviction) closes the socket.
"""

from __future__ import annotations

import json

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Request,
    TextMessage,
)

from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator

from .conftest import bearer, login, memory_client

CHANNELS = "/api/v2/notifications/channels"


class RawSocket:
    """A minimal WebSocket client on wsproto over an emulator connector stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.texts: list[str] = []
        self.close: CloseConnection | None = None

    @classmethod
    async def connect(
        cls, emulator: Emulator, connect_uri: str, first: str | None = None
    ) -> RawSocket:
        stream = await emulator.connector.open_stream(
            "127.0.0.1", emulator.port, tls=False, timeout=5
        )
        sock = cls(stream)
        target = "/" + connect_uri.split("://", 1)[1].split("/", 1)[1]
        data = sock.ws.send(Request(host=f"127.0.0.1:{emulator.port}", target=target))
        # with the first frame in the same write: the hand-off must carry it
        await stream.send_all(data)
        await sock._until(lambda e: isinstance(e, AcceptConnection))
        if first is not None:
            await stream.send_all(sock.ws.send(TextMessage(first)))
        return sock

    async def _until(self, done) -> None:  # type: ignore[no-untyped-def]
        while True:
            for event in self.ws.events():
                if isinstance(event, TextMessage):
                    self.texts.append(event.data)
                elif isinstance(event, CloseConnection):
                    self.close = event
                if done(event):
                    return
            data = await self.stream.receive_some(65536)
            if not data:
                self.ws.receive_data(None)
                if self.close is None:
                    raise EOFError("closed without a close frame")
                return
            self.ws.receive_data(data)

    async def read_until_closed(self) -> CloseConnection:
        await self._until(lambda e: isinstance(e, CloseConnection))
        assert self.close is not None
        return self.close

    async def read_text(self) -> str:
        count = len(self.texts)
        await self._until(lambda e: isinstance(e, Message) and len(self.texts) > count)
        return self.texts[-1]


async def test_upgrade_handoff_and_close_at_expiry(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(seed=11, channel_ttl=7200.0, heartbeat_period=30.0)
    async with open_emulator(settings=settings) as emu, memory_client(emu) as http:
        token = await login(http, emu)
        start = trio.current_time()
        channel = (await http.post(CHANNELS, headers=bearer(token))).json()
        sock = await RawSocket.connect(emu, channel["connectUri"], first='{"message":"ping"}')
        state = emu.state.channels[channel["id"]]
        assert state.session is not None
        # the ping sent right after the upgrade is answered
        pong = json.loads(await sock.read_text())
        assert pong == {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}
        close = await sock.read_until_closed()
        closed_at = trio.current_time()
        assert abs(closed_at - start - settings.channel_ttl) < 1
        assert close.code >= 1000
        assert await state.wait_closed() == "expired"
        # two hours of heartbeats arrived on the way
        heartbeats = [t for t in sock.texts if "WebSocket Heartbeat" in t]
        assert abs(len(heartbeats) - 7200 / 30) <= 2
        await sock.stream.aclose()


async def test_eviction_of_a_connected_channel_closes_its_socket(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=12, max_channels=1)
    async with open_emulator(settings=settings) as emu, memory_client(emu) as http:
        token = await login(http, emu)
        channel = (await http.post(CHANNELS, headers=bearer(token))).json()
        sock = await RawSocket.connect(emu, channel["connectUri"])
        await trio.sleep(5)
        replacement = await http.post(CHANNELS, headers=bearer(token))
        assert replacement.status_code == 200
        with trio.fail_after(60):
            close = await sock.read_until_closed()
        assert close.code == 1000
        assert emu.state.evicted == [channel["id"]]
        await sock.stream.aclose()
