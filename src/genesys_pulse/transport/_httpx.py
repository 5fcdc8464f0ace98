"""An httpx transport whose connections come from a :class:`Connector`.

httpcore's connection pool asks its network backend for a TCP stream
(``connect_tcp(host, port)``, without the scheme) and then, for ``https``,
calls ``stream.start_tls(ssl_context, server_hostname)``. Our connectors do
TCP and TLS in one call (``open_stream(..., tls=...)``) with their *own*
always-verifying TLS context, so :class:`_ConnectorBackend` hands back a
*deferred* stream: the real connection is opened either by ``start_tls``
(``tls=True``; httpcore's context is ignored) or by the first read or write
(``tls=False``). httpcore always calls ``start_tls`` straight after
``connect_tcp`` for https, before any I/O, so the choice is made correctly.

Plain ``http://`` is refused for any host that is not loopback.

Why httpcore and not only httpx: httpx has no public way to give its
transport a network backend, while httpcore's ``AsyncConnectionPool``,
``AsyncNetworkBackend`` and ``AsyncNetworkStream`` are httpcore's documented
public API (its "network backends" page), and every httpx release we support
(0.28, 0.29) requires ``httpcore==1.*``. We do not reach into httpx's own
transport. Two httpcore behaviours are relied on and guarded so that a new
release cannot break them silently:

* the major version: ``httpcore`` other than 1.x raises :class:`ImportError`
  here, naming the versions (pip's metadata says ``httpcore>=1.0.9,<2``; this
  catches ``--no-deps`` installs);
* ``start_tls`` before any I/O for https: the transport tells the backend which
  origins are https, and a stream of such an origin that is read or written
  before ``start_tls`` fails with a ``ConnectError`` naming the httpcore
  version, instead of sending an https request in clear text.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import AsyncIterator, Iterable

import httpcore
import httpx
import trio

from ._connector import Connector, is_loopback_host
from ._errors import ConnectError
from ._timed import find_socket

__all__ = ["httpx_transport"]

_DEFAULT_CONNECT_TIMEOUT = 10.0

SUPPORTED_HTTPCORE = "1.x"
"""The httpcore major version this transport is written and tested against."""

if not str(getattr(httpcore, "__version__", "")).startswith("1."):  # pragma: no cover - guard
    raise ImportError(
        f"genesys-pulse needs httpcore {SUPPORTED_HTTPCORE} (the one httpx 0.28/0.29 use); "
        f"found httpcore {getattr(httpcore, '__version__', '?')}: "
        "pip install 'httpcore>=1.0.9,<2'"
    )


class _DeferredStream(httpcore.AsyncNetworkStream):
    """A stream that connects on ``start_tls`` or on first use."""

    def __init__(
        self,
        connector: Connector,
        host: str,
        port: int,
        timeout: float,
        idle_limit: float,
        tls_expected: bool = False,
    ) -> None:
        self._connector = connector
        self._tls_expected = tls_expected
        self._host = host
        self._port = port
        self._timeout = timeout
        self._idle_limit = idle_limit
        self._stream: trio.abc.Stream | None = None
        self._tls = False
        self._last_used = trio.current_time()

    async def _open(self, tls: bool) -> trio.abc.Stream:
        if not tls and self._tls_expected:
            # httpcore did I/O before start_tls on an https origin: never send
            # an https request in clear text; say which library changed.
            raise httpcore.ConnectError(
                f"httpcore {httpcore.__version__} wrote or read before start_tls on an https "
                f"connection to {self._host}:{self._port}; genesys-pulse supports httpcore "
                f"{SUPPORTED_HTTPCORE} - pin 'httpcore>=1.0.9,<2'"
            )
        try:
            stream = await self._connector.open_stream(
                self._host, self._port, tls=tls, timeout=self._timeout
            )
        except ConnectError as exc:
            if exc.kind == "timeout":
                raise httpcore.ConnectTimeout(str(exc)) from exc
            raise httpcore.ConnectError(str(exc)) from exc
        self._stream = stream
        self._tls = tls
        return stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        stream = self._stream if self._stream is not None else await self._open(False)
        try:
            with trio.fail_after(float("inf") if timeout is None else timeout):
                data = bytes(await stream.receive_some(max_bytes))
                self._last_used = trio.current_time()
                return data
        except trio.TooSlowError as exc:
            raise httpcore.ReadTimeout(str(exc) or "read timed out") from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        stream = self._stream if self._stream is not None else await self._open(False)
        try:
            with trio.fail_after(float("inf") if timeout is None else timeout):
                await stream.send_all(buffer)
                self._last_used = trio.current_time()
        except trio.TooSlowError as exc:
            raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._stream is not None:
            await trio.aclose_forcefully(self._stream)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        if self._stream is not None:  # pragma: no cover - httpcore never does this
            raise httpcore.ConnectError("start_tls on an already connected stream")
        if timeout is not None:
            self._timeout = timeout
        await self._open(True)
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        stream: object = self._stream
        if info == "ssl_object":
            # Only used by httpcore to see whether h2 was negotiated (we never offer it).
            return (
                getattr(stream, "_ssl_object", None) if isinstance(stream, trio.SSLStream) else None
            )
        sock = find_socket(stream)
        if info == "socket":
            return sock
        if info == "is_readable":
            # httpcore asks this of an idle pooled connection: True makes it drop
            # the connection. Say so when the server closed it (socket readable)
            # or when it sat idle longer than the keep-alive limit by *trio's*
            # clock (httpcore's own expiry uses time.monotonic(), which does not
            # advance under MockClock, and in-memory streams have no socket).
            if trio.current_time() - self._last_used > self._idle_limit:
                return True
            return sock.is_readable() if sock is not None else False
        if info == "client_addr" and sock is not None:
            return sock.getsockname()
        if info == "server_addr" and sock is not None:
            return sock.getpeername()
        return None


class _ConnectorBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, connector: Connector, connect_timeout: float, idle_limit: float) -> None:
        self._connector = connector
        self._connect_timeout = connect_timeout
        self._idle_limit = idle_limit
        self.tls_origins: set[tuple[str, int]] = set()
        """``(host, port)`` of every https origin requested (see the module docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _DeferredStream(
            self._connector,
            host,
            port,
            self._connect_timeout if timeout is None else timeout,
            self._idle_limit,
            (host, port) in self.tls_origins,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not supported")

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)


_EXC_MAP: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    # Most specific first.
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _map_exc(exc: Exception) -> Exception:
    for src, dst in _EXC_MAP:
        if isinstance(exc, src):
            return dst(str(exc))
    return exc


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:
            mapped = _map_exc(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


class ConnectorTransport(httpx.AsyncBaseTransport):
    """An :class:`httpx.AsyncBaseTransport` over a :class:`Connector`.

    HTTP/1.1 only, with a keep-alive pool; a connection idle for more than
    ``keepalive_expiry`` seconds (by ``trio.current_time()``) is not reused. TLS is done (and verified) by the
    connector. ``http://`` to a non-loopback host raises
    :class:`httpx.UnsupportedProtocol` before anything is sent.
    """

    def __init__(
        self,
        connector: Connector,
        *,
        connect_timeout: float = _DEFAULT_CONNECT_TIMEOUT,
        max_connections: int = 10,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self._backend = _ConnectorBackend(connector, connect_timeout, keepalive_expiry)
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=self._backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool and return the streaming response."""
        url = request.url
        if url.scheme == "http" and not is_loopback_host(url.host):
            raise httpx.UnsupportedProtocol(
                f"refusing http:// to non-loopback host {url.host!r}: use https://",
                request=request,
            )
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError(
                f"httpx {httpx.__version__} gave a {type(request.stream).__name__} request "
                "stream to an async transport; genesys-pulse supports httpx >=0.28,<1"
            )
        if url.scheme == "https":
            self._backend.tls_origins.add((url.raw_host.decode("ascii"), url.port or 443))
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme,
                host=url.raw_host,
                port=url.port,
                target=url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            resp = await self._pool.handle_async_request(req)
        except Exception as exc:
            mapped = _map_exc(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        assert isinstance(resp.stream, typing.AsyncIterable)
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_ResponseStream(resp.stream),
            extensions=resp.extensions,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._pool.aclose()


def httpx_transport(
    connector: Connector, *, connect_timeout: float = _DEFAULT_CONNECT_TIMEOUT
) -> httpx.AsyncBaseTransport:
    """An httpx transport that opens its connections through ``connector``.

    Use it as ``httpx.AsyncClient(transport=httpx_transport(connector))``;
    with :class:`NetConnector` it talks to real servers (TLS always
    verified), with an emulator's connector to the in-process emulator.
    """
    return ConnectorTransport(connector, connect_timeout=connect_timeout)
