"""Fixtures for the emulator tests.

``http`` is an :class:`httpx.AsyncClient` whose connections go through the
emulator's in-memory :attr:`Emulator.connector` (no sockets), so tests can run
under ``autojump_clock`` and jump hours of emulated time. It is built here on
plain httpcore, independent of the project's client code.
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import AsyncIterator, Iterable

import httpcore
import httpx
import pytest
import trio

from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator


class _MemoryStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        with trio.move_on_after(timeout if timeout is not None else float("inf")) as scope:
            try:
                return bytes(await self._stream.receive_some(max_bytes))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise httpcore.ReadError(str(exc)) from exc
        assert scope.cancelled_caught
        raise httpcore.ReadTimeout("read timed out")

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        with trio.move_on_after(timeout if timeout is not None else float("inf")) as scope:
            try:
                await self._stream.send_all(buffer)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise httpcore.WriteError(str(exc)) from exc
            return
        assert scope.cancelled_caught
        raise httpcore.WriteTimeout("write timed out")

    async def aclose(self) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._stream.aclose()

    def get_extra_info(self, info: str) -> typing.Any:
        return None


class MemoryBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that connects through ``emulator.connector``."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._emulator.connector.open_stream(
            host, port, tls=False, timeout=timeout or 10.0
        )
        return _MemoryStream(stream)

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)


def memory_client(
    emulator: Emulator, *, keep_alive: bool = False, **kwargs: typing.Any
) -> httpx.AsyncClient:
    """An httpx client talking to ``emulator`` over in-memory streams.

    Without ``keep_alive`` every request gets a fresh connection: httpcore
    times keep-alive with the real monotonic clock, which does not follow a
    ``MockClock``, so a pooled connection could outlive the emulator's idle
    timeout in emulated time.
    """
    transport = httpx.AsyncHTTPTransport()
    transport._pool = httpcore.AsyncConnectionPool(
        network_backend=MemoryBackend(emulator),
        max_keepalive_connections=None if keep_alive else 0,
    )
    return httpx.AsyncClient(transport=transport, base_url=emulator.base_url, **kwargs)


async def login(http: httpx.AsyncClient, emulator: Emulator) -> str:
    """Get an access token with client credentials; return it."""
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.client_id, emulator.client_secret),
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings() -> EmulatorSettings:
    """Emulator settings for a test (override the fixture to change them)."""
    return EmulatorSettings(seed=1234)


@pytest.fixture
async def emulator(settings: EmulatorSettings) -> AsyncIterator[Emulator]:
    """A running emulator on 127.0.0.1, port 0."""
    async with open_emulator(settings=settings) as emu:
        yield emu


@pytest.fixture
async def http(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client to ``emulator`` over the in-memory connector."""
    async with memory_client(emulator) as client:
        yield client


@pytest.fixture
async def token(http: httpx.AsyncClient, emulator: Emulator) -> str:
    """A fresh access token of the emulator's client."""
    return await login(http, emulator)
