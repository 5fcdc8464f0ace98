"""Opening byte streams: real TCP/TLS, or anything with the same signature.

The :class:`Connector` protocol is the seam between the network shell and
whatever is at the other end. :class:`NetConnector` dials real sockets; the
emulator offers an in-memory connector with the same ``open_stream`` so the
whole client runs under :class:`trio.testing.MockClock` without sockets.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
from typing import Protocol, runtime_checkable

import trio

from ._errors import ConnectError, ConnectFailure
from ._timed import timed

__all__ = ["Connector", "NetConnector", "is_loopback_host"]


@runtime_checkable
class Connector(Protocol):
    """Something that opens a byte stream to ``host:port``."""

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        """Open a stream to ``host:port`` (TLS-wrapped if ``tls``) within ``timeout`` seconds.

        Raises:
          ConnectError: if the stream could not be opened in time.
        """
        ...


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names the loopback interface.

    ``localhost`` (and ``*.localhost``, RFC 6761), ``127.0.0.0/8`` and ``::1``
    count; nothing is resolved.
    """
    h = host.strip("[]").rstrip(".").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


_REFUSED = {errno.ECONNREFUSED}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


def _classify(exc: BaseException) -> ConnectFailure:
    """Map an exception from ``trio.open_tcp_stream`` onto a failure kind."""
    if isinstance(exc, socket.gaierror):
        return "resolve"
    errors: list[BaseException] = [exc]
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        errors = list(cause.exceptions)
    elif cause is not None:
        errors = [cause]
    codes = {e.errno for e in errors if isinstance(e, OSError)}
    if codes and codes <= _REFUSED:
        return "refused"
    if codes & _UNREACHABLE:
        return "unreachable"
    if codes & _REFUSED:
        return "refused"
    return "other"


class NetConnector:
    """Real TCP (happy eyeballs, ``TCP_NODELAY``), optionally wrapped in TLS.

    The TCP stream is a :class:`TimedSocketStream`, so the WebSocket client
    can read the time of the actual ``write``/``read`` system calls.

    TLS certificate and host-name verification are always on: the context is
    :func:`ssl.create_default_context`, optionally trusting ``ca_bundle``
    (a PEM file) *instead of* the system store. There is deliberately no way
    to turn verification off.

    Args:
      ca_bundle: Path to a PEM file of CA certificates to trust, or ``None``
        for the system's default trust store.
    """

    def __init__(self, ca_bundle: str | None = None) -> None:
        self._ca_bundle = ca_bundle
        ctx = ssl.create_default_context(cafile=ca_bundle)
        ctx.set_alpn_protocols(["http/1.1"])
        # create_default_context already sets CERT_REQUIRED and check_hostname;
        # assert it so a future refactor cannot silently weaken it.
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        self._ssl_context = ctx

    def __repr__(self) -> str:
        return f"NetConnector(ca_bundle={self._ca_bundle!r})"

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        """Open a TCP stream (and TLS on top if ``tls``), all within ``timeout``.

        Raises:
          ConnectError: with ``kind`` telling name-resolution failure,
            refusal, timeout, TLS failure and other errors apart.
        """
        bare = host.strip("[]")
        with trio.move_on_after(timeout) as scope:
            try:
                tcp = await trio.open_tcp_stream(bare, port)
            except OSError as exc:
                raise ConnectError(host, port, _classify(exc), exc) from exc
            try:
                tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            except OSError:  # pragma: no cover - not a TCP socket
                pass
            stream = timed(tcp)
            if not tls:
                return stream
            ssl_stream = trio.SSLStream(
                stream,
                self._ssl_context,
                server_hostname=bare,
                https_compatible=True,
            )
            try:
                await ssl_stream.do_handshake()
            except trio.BrokenResourceError as exc:
                await trio.aclose_forcefully(tcp)
                cause = exc.__cause__ or exc
                raise ConnectError(host, port, "tls", cause) from cause
            except BaseException:
                await trio.aclose_forcefully(tcp)
                raise
            return ssl_stream
        assert scope.cancelled_caught
        raise ConnectError(
            host, port, "timeout", TimeoutError(f"no connection within {timeout:g} s")
        )
