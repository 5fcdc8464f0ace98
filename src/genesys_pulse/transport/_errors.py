"""Errors raised by the network shell."""

from __future__ import annotations

from typing import Literal

ConnectFailure = Literal["resolve", "refused", "timeout", "tls", "unreachable", "proxy", "other"]


class TransportError(Exception):
    """Base class of every error raised by :mod:`genesys_pulse.transport`."""


class ConnectError(TransportError):
    """Opening a TCP (or TLS) stream to ``host:port`` failed.

    Attributes:
      host: The host that was dialled.
      port: The port that was dialled.
      kind: What failed: ``"resolve"`` (name resolution), ``"refused"``
        (connection refused), ``"timeout"`` (the deadline passed),
        ``"tls"`` (handshake or certificate verification),
        ``"unreachable"`` (no route / network down), ``"proxy"`` (the HTTP
        proxy refused or broke the ``CONNECT`` tunnel; the message names the
        proxy, never its credentials) or ``"other"``. Failures reaching the
        proxy itself keep their kind (``"refused"``, ``"timeout"``...) and
        name the proxy too.
      cause: The underlying exception, if any (also chained as ``__cause__``).
    """

    def __init__(
        self, host: str, port: int, kind: ConnectFailure, cause: BaseException | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.kind: ConnectFailure = kind
        self.cause = cause
        detail = f": {cause}" if cause is not None and str(cause) else ""
        super().__init__(f"cannot connect to {_hostport(host, port)} ({kind}){detail}")


class ProxyError(TransportError):
    """The HTTP proxy did not open the tunnel (the ``cause`` of a :class:`ConnectError`).

    Attributes:
      proxy: The proxy, as ``http://host:port`` (never with credentials).
      status: The proxy's HTTP status (``403``, ``407``...), or 0 if it broke HTTP.
    """

    def __init__(self, proxy: str, status: int, detail: str) -> None:
        self.proxy = proxy
        self.status = status
        super().__init__(f"proxy {proxy} {detail}")


class HandshakeError(TransportError):
    """The server answered the WebSocket upgrade with something other than 101.

    Attributes:
      status: The HTTP status code (0 if the server broke the protocol or
        closed the connection before answering).
      body: The first bytes of the response body (at most 512), for humans.
    """

    def __init__(self, status: int, body: bytes = b"", detail: str = "") -> None:
        self.status = status
        self.body = body[:512]
        excerpt = self.body.decode("utf-8", "replace")
        what = f"HTTP {status}" if status else "no valid HTTP response"
        msg = f"WebSocket upgrade rejected: {what}"
        if detail:
            msg += f" ({detail})"
        if excerpt:
            msg += f": {excerpt!r}"
        super().__init__(msg)


class ConnectionClosed(TransportError):
    """Sending on a WebSocket connection that is closed (or closing).

    Attributes:
      close_info: How the connection closed, if known.
    """

    def __init__(self, close_info: object | None = None) -> None:
        self.close_info = close_info
        super().__init__(f"WebSocket connection closed: {close_info}")


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
