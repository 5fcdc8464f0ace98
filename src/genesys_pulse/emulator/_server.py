"""The emulator's HTTP/1.1 server (trio + h11), its runtime object and connector.

One :class:`Emulator` serves any number of connections, from a TCP listener
(:func:`open_emulator`) or from any :class:`trio.abc.Stream` handed to
:meth:`Emulator.handle_stream` (the in-memory :attr:`Emulator.connector` does
that, for tests under :class:`trio.testing.MockClock`).

Each connection is an h11 state machine with keep-alive. Every network wait has
a deadline: ``settings.idle_timeout`` between requests, and
``settings.request_timeout`` for the rest of a request and for writing a
response. Whatever a client sends, the emulator answers 4xx/5xx or closes the
connection; a handler bug is logged and answered 500 but never stops the
server. ``GET /channels/{id}`` with ``Upgrade: websocket`` is handed to the
streaming side (``_streaming.serve_channel_socket``) together with every byte
read so far for that request.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate
from typing import Any

import h11
import trio
import trio.testing

from . import _rest, _streaming
from ._faults import FaultController
from ._rest import Context, Request, Response
from ._scenarios import Scenario, load_scenario
from ._settings import EmulatorSettings
from ._state import EmulatorState

__all__ = ["Emulator", "MemoryConnector", "open_emulator"]

log = logging.getLogger("genesys_pulse.emulator")

_READ_SIZE = 65536
_MAX_HEAD = 64 * 1024
_SERVER_HEADER = "genesys-pulse-emulator"


class _ConnectionDone(Exception):
    """Internal: stop serving this connection (already answered or silent)."""


class MemoryConnector:
    """A ``transport.Connector`` whose streams lead into one emulator, in memory.

    ``open_stream`` ignores host, port and ``tls``: every stream it returns is
    the client end of a :func:`trio.testing.memory_stream_pair` whose server end
    the emulator serves. No sockets, so it works under ``MockClock`` autojump.
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.opened = 0

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        """Open an in-memory connection to the emulator."""
        client, server = trio.testing.memory_stream_pair()
        self.opened += 1
        self._emulator.nursery.start_soon(self._emulator.handle_stream, server)
        await trio.lowlevel.checkpoint()
        return client


class Emulator:
    """A running Genesys Cloud emulator (the ``runtime`` the streaming side gets).

    Attributes:
      base_url: ``http://HOST:PORT``.
      login_url: Base of ``/oauth/token`` (equal to ``base_url``).
      api_url: Base of ``/api/v2/...`` (equal to ``base_url``).
      ws_url: ``ws://HOST:PORT``, the base of every ``connectUri``.
      client_id: The OAuth client id the emulator accepts.
      client_secret: Its secret (never logged; not in the repr).
      settings: The :class:`EmulatorSettings`.
      state: The :class:`EmulatorState` (clients, tokens, channels).
      faults: The :class:`FaultController`.
      rng: The seeded random generator.
      nursery: Where connections and background tasks run.
      connector: A :class:`MemoryConnector` into this emulator.
      stats: Counters: ``connections``, ``requests``, ``protocol_errors``,
        ``timeouts``, ``internal_errors``, ``upgrades``.
    """

    def __init__(
        self,
        *,
        nursery: trio.Nursery,
        host: str,
        port: int,
        settings: EmulatorSettings | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        faults: FaultController | None = None,
    ) -> None:
        self.settings = settings or EmulatorSettings()
        self.rng = random.Random(self.settings.seed)
        self.nursery = nursery
        self.host = host
        self.port = port
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.base_url = f"http://{netloc}"
        self.login_url = self.base_url
        self.api_url = self.base_url
        self.ws_url = f"ws://{netloc}"
        self.client_id = client_id or _random_id(self.rng)
        self.client_secret = client_secret or _random_secret()
        self.state = EmulatorState(
            self.settings,
            self.rng,
            api_url=self.api_url,
            ws_url=self.ws_url,
            clock_origin=trio.current_time(),
            wall_origin=time.time(),
        )
        self.state.add_client(self.client_id, self.client_secret)
        self.faults = faults if faults is not None else FaultController(rng=self.rng)
        self.connector = MemoryConnector(self)
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "connections",
                "requests",
                "protocol_errors",
                "timeouts",
                "internal_errors",
                "upgrades",
            ),
            0,
        )

    def __repr__(self) -> str:
        return f"<Emulator {self.base_url} client_id={self.client_id!r}>"

    def describe(self) -> dict[str, str]:
        """The JSON-able connection details (includes the client secret)."""
        return {
            "login_url": self.login_url,
            "api_url": self.api_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "base_url": self.base_url,
        }

    # -- connection handling ----------------------------------------------

    async def handle_stream(self, stream: trio.abc.Stream) -> None:
        """Serve one HTTP connection until it closes; never raises (but Cancelled).

        The stream is closed on return, unless it was handed to the streaming
        side, which then owns it.
        """
        self.stats["connections"] += 1
        handed_off = False
        try:
            handed_off = await self._serve_http(stream)
        except _ConnectionDone:
            pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except Exception:
            self.stats["internal_errors"] += 1
            log.exception("emulator: connection handler failed")
        finally:
            if not handed_off:
                with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                    await _aclose_quietly(stream)

    async def _receive(self, stream: trio.abc.Stream, deadline: float) -> bytes:
        with trio.move_on_at(deadline):
            return bytes(await stream.receive_some(_READ_SIZE))
        raise TimeoutError

    async def _send(self, stream: trio.abc.Stream, data: bytes) -> None:
        with trio.move_on_after(self.settings.request_timeout) as scope:
            await stream.send_all(data)
        if scope.cancelled_caught:
            self.stats["timeouts"] += 1
            raise _ConnectionDone

    async def _send_raw_error(
        self, stream: trio.abc.Stream, status: int, message: str | None = None
    ) -> None:
        """Answer outside h11 (after a protocol error) and end the connection."""
        correlation = self._correlation_id()
        body = json.dumps(
            _rest.error_body(status, correlation, message), separators=(",", ":")
        ).encode()
        response = Response(status, body)
        self._add_common_headers(response, correlation, [])
        extra = "".join(f"{k}: {v}\r\n" for k, v in response.headers)
        head = (
            f"HTTP/1.1 {status} {_rest.reason_phrase(status)}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{extra}"
            f"Date: {formatdate(usegmt=True)}\r\n"
            f"Server: {_SERVER_HEADER}\r\n"
            f"Connection: close\r\n\r\n"
        ).encode("ascii")
        try:
            await self._send(stream, head + body)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        raise _ConnectionDone

    def _correlation_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    async def _next_event(
        self, conn: h11.Connection, stream: trio.abc.Stream, raw: bytearray, deadline: float
    ) -> Any:
        """The next h11 event, reading (into ``raw`` too) until ``deadline``."""
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self._receive(stream, deadline)
            raw += data
            conn.receive_data(data)

    async def _serve_http(self, stream: trio.abc.Stream) -> bool:
        """The keep-alive loop. Returns True if the stream was handed off."""
        settings = self.settings
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        raw = bytearray()
        while True:
            # -- the request head (idle timeout) --
            try:
                event = await self._next_event(
                    conn, stream, raw, trio.current_time() + settings.idle_timeout
                )
            except TimeoutError:
                if raw.strip():
                    self.stats["timeouts"] += 1
                    await self._send_raw_error(stream, 408)
                return False
            except h11.RemoteProtocolError as exc:
                self.stats["protocol_errors"] += 1
                status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
                await self._send_raw_error(stream, status)
                return False
            if isinstance(event, h11.ConnectionClosed):
                return False
            if not isinstance(event, h11.Request):
                # h11 emits a Request first in every cycle; anything else is a bug.
                await self._send_raw_error(stream, 400)
                return False
            self.stats["requests"] += 1
            if sum(len(k) + len(v) + 4 for k, v in event.headers) > _MAX_HEAD:
                self.stats["protocol_errors"] += 1
                await self._send_raw_error(stream, 431, "Request header fields too large.")
            request = _to_request(event)

            # -- WebSocket hand-off --
            match = _rest.SOCKET_RE.fullmatch(request.path)
            if match is not None and "websocket" in request.headers.get("upgrade", "").lower():
                self.stats["upgrades"] += 1
                return await self._upgrade(conn, stream, raw, request, match.group(1))

            # -- the body (request timeout) --
            deadline = trio.current_time() + settings.request_timeout
            response = await self._read_body(conn, stream, raw, request, deadline)
            if response is None:
                response = self._dispatch(request)
            keep_alive = await self._respond(conn, stream, request, response)
            if not keep_alive or conn.our_state is h11.MUST_CLOSE:
                if response.status == 413:
                    await self._drain(stream)
                return False
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return False
            raw = bytearray(conn.trailing_data[0])

    async def _read_body(
        self,
        conn: h11.Connection,
        stream: trio.abc.Stream,
        raw: bytearray,
        request: Request,
        deadline: float,
    ) -> Response | None:
        """Read the body into ``request.body``; a Response if it must be refused."""
        max_body = self.settings.max_body
        length_text = request.headers.get("content-length")
        if length_text is not None and length_text.isdigit() and int(length_text) > max_body:
            return self._too_large(request)
        if conn.client_is_waiting_for_100_continue:
            await self._send(
                stream, conn.send(h11.InformationalResponse(status_code=100, headers=[]))
            )
        body = bytearray()
        while True:
            try:
                event = await self._next_event(conn, stream, raw, deadline)
            except TimeoutError:
                self.stats["timeouts"] += 1
                await self._send_raw_error(stream, 408)
                raise  # pragma: no cover - _send_raw_error always raises
            except h11.RemoteProtocolError:
                self.stats["protocol_errors"] += 1
                await self._send_raw_error(stream, 400)
                raise  # pragma: no cover
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > max_body:
                    return self._too_large(request)
            elif isinstance(event, h11.EndOfMessage):
                request.body = bytes(body)
                return None
            elif isinstance(event, h11.ConnectionClosed):
                raise _ConnectionDone
            else:  # pragma: no cover - h11 emits only Data/EndOfMessage here
                await self._send_raw_error(stream, 400)

    async def _drain(self, stream: trio.abc.Stream) -> None:
        """Discard what the client is still sending (bounded), so that closing
        does not reset the connection before it has read our answer."""
        budget = 4 * self.settings.max_body
        with trio.move_on_after(1.0):
            while budget > 0:
                data = await stream.receive_some(_READ_SIZE)
                if not data:
                    return
                budget -= len(data)

    def _too_large(self, request: Request) -> Response:
        correlation = self._correlation_id()
        response = _rest.error_response(
            413,
            correlation,
            f"The request body exceeds the maximum of {self.settings.max_body} bytes.",
            "request.entity.too.large",
        )
        self._add_common_headers(response, correlation, [])
        response.headers.append(("Connection", "close"))
        request.headers["connection"] = "close"
        return response

    def _dispatch(self, request: Request) -> Response:
        now = trio.current_time()
        ctx = Context(
            state=self.state,
            settings=self.settings,
            faults=self.faults,
            now=now,
            correlation_id=self._correlation_id(),
        )
        try:
            response = _rest.handle_request(request, ctx)
        except Exception:
            self.stats["internal_errors"] += 1
            log.exception("emulator: handler failed for %s %s", request.method, request.path[:200])
            response = _rest.error_response(500, ctx.correlation_id)
        self._add_common_headers(response, ctx.correlation_id, ctx.rate_headers)
        return response

    def _add_common_headers(
        self, response: Response, correlation_id: str, rate_headers: list[tuple[str, str]]
    ) -> None:
        """Add ``ININ-Correlation-Id`` and ``inin-ratelimit-*`` (every response has them).

        Requests without a valid token are counted in an unlimited shared
        ``anonymous`` window, so their rate-limit headers are still meaningful.
        """
        if not rate_headers:
            now = trio.current_time()
            _, window = self.state.take_rate("anonymous", None, now)
            rate_headers = [
                ("inin-ratelimit-count", str(window.count)),
                ("inin-ratelimit-allowed", str(self.settings.rate_limit_per_minute)),
                ("inin-ratelimit-reset", str(window.reset_in(now))),
            ]
        response.headers.extend(rate_headers)
        response.headers.append(("ININ-Correlation-Id", correlation_id))

    async def _respond(
        self, conn: h11.Connection, stream: trio.abc.Stream, request: Request, response: Response
    ) -> bool:
        """Write ``response``; return whether the connection may be kept alive."""
        close = request.headers.get("connection", "").lower() == "close" or any(
            k.lower() == "connection" and v.lower() == "close" for k, v in response.headers
        )
        headers: list[tuple[str, str]] = [
            ("Date", formatdate(usegmt=True)),
            ("Server", _SERVER_HEADER),
        ]
        if response.content_type is not None and (response.body or request.method == "HEAD"):
            headers.append(("Content-Type", response.content_type))
        body = response.body if response.status not in (204, 304) else b""
        headers.append(("Content-Length", str(len(body))))
        headers.extend((k, v) for k, v in response.headers if k.lower() != "connection")
        if close:
            headers.append(("Connection", "close"))
        data = conn.send(
            h11.Response(
                status_code=response.status,
                headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                reason=_rest.reason_phrase(response.status).encode("ascii"),
            )
        )
        out = bytearray(data or b"")
        if body and request.method != "HEAD":
            out += conn.send(h11.Data(data=body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        await self._send(stream, bytes(out))
        return not close

    async def _upgrade(
        self,
        conn: h11.Connection,
        stream: trio.abc.Stream,
        raw: bytearray,
        request: Request,
        channel_id: str,
    ) -> bool:
        """Hand a WebSocket upgrade to the streaming side (or refuse it)."""
        if self.faults.take_upgrade_hang(channel_id):
            # Read and discard until the client gives up; never answer.
            while await stream.receive_some(_READ_SIZE):
                pass
            return False
        channel = self.state.get_channel(channel_id, trio.current_time())
        if channel is None:
            correlation = self._correlation_id()
            response = _rest.error_response(
                self.settings.expired_upgrade_status,
                correlation,
                f"Channel {channel_id[:100]} was not found or has expired.",
            )
            self._add_common_headers(response, correlation, [])
            response.headers.append(("Connection", "close"))
            await self._respond(conn, stream, request, response)
            return False
        await _streaming.serve_channel_socket(self, stream, bytes(raw), channel)
        return True


def _to_request(event: h11.Request) -> Request:
    target = event.target.decode("latin-1")
    path, _, query_text = target.partition("?")
    query: dict[str, str] = {}
    for part in query_text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        query[_unquote(key)] = _unquote(value)
    headers: dict[str, str] = {}
    for raw_name, raw_value in event.headers:
        name = raw_name.decode("latin-1").lower()
        text = raw_value.decode("latin-1")
        headers[name] = (
            f"{headers[name]}, {text}" if name in headers and name != "authorization" else text
        )
    return Request(
        method=event.method.decode("latin-1").upper(),
        path=_unquote(path),
        query=query,
        headers=headers,
    )


def _unquote(text: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(text, errors="replace")


def _random_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _random_secret() -> str:
    import secrets

    return secrets.token_urlsafe(32)


async def _aclose_quietly(stream: trio.abc.AsyncResource) -> None:
    try:
        await stream.aclose()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@asynccontextmanager
async def open_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    scenario: str | os.PathLike[str] | Scenario | None = None,
    settings: EmulatorSettings | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> AsyncIterator[Emulator]:
    """Run a Genesys Cloud emulator for the duration of the ``async with``.

    Args:
      host: Address to listen on (127.0.0.1 by default; anything that is not
        loopback triggers a warning: the emulator has no TLS and a known secret).
      port: TCP port; 0 picks a free one (see :attr:`Emulator.base_url`).
      scenario: Name of a built-in scenario, path of a scenario file, or a
        :class:`Scenario`, played in the background for the emulator's
        lifetime (it starts when the emulator does). A scenario that does not
        load raises ``ScenarioError`` before anything listens.
      settings: :class:`EmulatorSettings` (defaults mirror the real service).
      client_id: The accepted OAuth client id (random if omitted).
      client_secret: Its secret (random if omitted).

    Yields:
      The running :class:`Emulator`. Leaving the block cancels every
      connection and background task.
    """
    if not _is_loopback(host):
        message = (
            f"genesys-pulse emulator listening on non-loopback address {host!r}: "
            "it has no TLS and its credentials are printed"
        )
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        log.warning("%s", message)
    loaded = (
        scenario if isinstance(scenario, Scenario) or scenario is None else load_scenario(scenario)
    )
    body_error: Exception | None = None
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(port, host=host)
        try:
            bound = listeners[0].socket.getsockname()[1]
            emulator = Emulator(
                nursery=nursery,
                host=host,
                port=bound,
                settings=settings,
                client_id=client_id,
                client_secret=client_secret,
            )
            nursery.start_soon(_serve_listeners, emulator, listeners)
            if loaded is not None:
                nursery.start_soon(loaded.run, emulator)
            log.info("emulator: serving on %s", emulator.base_url)
            try:
                yield emulator
            except Exception as exc:
                body_error = exc
        finally:
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await _aclose_quietly(listener)
    if body_error is not None:
        raise body_error


async def _serve_listeners(emulator: Emulator, listeners: list[trio.SocketListener]) -> None:
    await trio.serve_listeners(emulator.handle_stream, listeners, handler_nursery=emulator.nursery)
