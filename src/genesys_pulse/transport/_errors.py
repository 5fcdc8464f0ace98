"""Errors raised by the network shell."""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass
from typing import Final, Literal

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


# ---------------------------------------------------------------- failure causes

FAILURE_TYPES: Final = {
    "resolve": "name_resolution",
    "refused": "connection_refused",
    "timeout": "timeout",
    "tls": "tls",
    "unreachable": "network_unreachable",
    "proxy": "proxy",
    "other": "_OTHER",
}
"""``error.type`` of each :class:`ConnectError` kind (``_OTHER`` as semantic conventions say)."""


@dataclass(frozen=True)
class FailureCause:
    """Why a network call failed, for one log line and event attributes.

    Attributes:
      error_type: ``error.type``: ``name_resolution``, ``connection_refused``,
        ``timeout``, ``tls``, ``network_unreachable``, ``connection_lost``,
        ``protocol``, an HTTP status (``"403"``) or ``_OTHER``.
      server_address: The host that was dialled (``server.address``), or ``""``.
      message: The operating system's (or library's) own words, e.g.
        ``[Errno -2] Name or service not known`` (``error.message``).
    """

    error_type: str
    server_address: str
    message: str

    def attributes(self) -> dict[str, str]:
        """The event attributes (semantic-convention keys; the contract is in
        ``telemetry/_names.py`` and docs/telemetry.md)."""
        out = {"error.type": self.error_type, "error.message": self.message}
        if self.server_address:
            out["server.address"] = self.server_address
        return out


def failure_cause(exc: BaseException, server_address: str = "") -> FailureCause:
    """Classify *exc* (following ``__cause__``/``__context__``) into a :class:`FailureCause`.

    Works on our :class:`ConnectError` and :class:`HandshakeError`, on httpx's
    and httpcore's exceptions wrapping them (matched by class name so this
    module needs neither), and on plain ``OSError``/``ssl`` errors.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen and len(chain) < 16:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in chain:
        if isinstance(e, ConnectError):
            detail = _os_message(e.cause) if e.cause is not None else e.kind
            return FailureCause(FAILURE_TYPES[e.kind], e.host, _short(detail or e.kind))
        if isinstance(e, HandshakeError):
            kind = str(e.status) if e.status else "protocol"
            return FailureCause(kind, server_address, _short(str(e)))
    deepest = chain[-1]
    message = _short(str(deepest) or type(deepest).__name__)
    names = " ".join(type(e).__name__ for e in chain)
    if isinstance(deepest, socket.gaierror):
        kind = "name_resolution"
    elif isinstance(deepest, ConnectionRefusedError):
        kind = "connection_refused"
    elif isinstance(deepest, ssl.SSLError):
        kind = "tls"
    elif "Timeout" in names or isinstance(deepest, TimeoutError) or "TooSlow" in names:
        kind = "timeout"
    elif "Proxy" in names:
        kind = "proxy"
    elif "ProtocolError" in names:
        kind = "protocol"
    elif any(n in names for n in ("ReadError", "WriteError", "BrokenResource", "ClosedResource")):
        kind = "connection_lost"
    elif isinstance(deepest, OSError) and deepest.errno in (
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
    ):
        kind = "network_unreachable"
    else:
        kind = "_OTHER"
    return FailureCause(kind, server_address, message)


def _os_message(exc: BaseException) -> str:
    """The most specific words about *exc*: the first OS error inside it, if any.

    trio's happy-eyeballs connect raises ``OSError("all attempts to connect
    ... failed")`` from a group holding each attempt's own error (e.g.
    ``[Errno 111] Connection refused``): that one is what a human needs.
    """
    cur: BaseException | None = exc
    for _ in range(16):
        if cur is None:
            break
        if isinstance(cur, BaseExceptionGroup) and cur.exceptions:
            cur = cur.exceptions[0]
            continue
        if isinstance(cur, OSError) and cur.strerror:
            return str(cur)
        cur = cur.__cause__ or cur.__context__
    return str(exc)


def _short(text: str) -> str:
    return " ".join(text.split())[:200]
