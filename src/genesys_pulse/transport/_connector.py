"""Opening byte streams: real TCP/TLS, or anything with the same signature.

The :class:`Connector` protocol is the seam between the network shell and
whatever is at the other end. :class:`NetConnector` dials real sockets; the
emulator offers an in-memory connector with the same ``open_stream`` so the
whole client runs under :class:`trio.testing.MockClock` without sockets.

:class:`NetConnector` also goes through an HTTP proxy when its
:class:`~genesys_pulse.core._proxy.ProxyRules` say so: an HTTP ``CONNECT``
tunnel (request and answer parsed by h11), with TLS to the destination
inside it, so the proxy sees only the host and port. Plain destinations
(``http://``/``ws://``, loopback only) are tunnelled the same way rather than
forwarded, so OAuth, REST and the WebSocket share one code path.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import ssl
from typing import Protocol, runtime_checkable

import h11
import trio

from genesys_pulse._version import __version__
from genesys_pulse.core import ProxyRules, ProxyURL

from ._errors import ConnectError, ConnectFailure, ProxyError
from ._timed import timed

__all__ = ["Connector", "NetConnector", "is_loopback_host"]

_log = logging.getLogger("genesys_pulse.transport")


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
      proxy: Which HTTP proxy each destination goes through
        (:attr:`MonitorConfig.proxy <genesys_pulse.core.config.MonitorConfig.proxy>`);
        ``None``: always direct.
    """

    def __init__(self, ca_bundle: str | None = None, proxy: ProxyRules | None = None) -> None:
        self._ca_bundle = ca_bundle
        self._proxy = proxy
        self._reported: set[tuple[str, str, int, str]] = set()
        """Proxy failures already logged (each distinct one is logged once)."""
        ctx = ssl.create_default_context(cafile=ca_bundle)
        ctx.set_alpn_protocols(["http/1.1"])
        # create_default_context already sets CERT_REQUIRED and check_hostname;
        # assert it so a future refactor cannot silently weaken it.
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        self._ssl_context = ctx

    def __repr__(self) -> str:
        return f"NetConnector(ca_bundle={self._ca_bundle!r}, proxy={self._proxy!r})"

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
            refusal, timeout, TLS failure, a proxy's refusal and other errors
            apart. Through a proxy, the message names the proxy (never its
            credentials).
        """
        bare = host.strip("[]")
        proxy = self._proxy.select(bare, tls=tls) if self._proxy is not None else None
        if proxy is None:
            return await self._open(host, port, tls, timeout, None)
        try:
            return await self._open(host, port, tls, timeout, proxy)
        except ConnectError as exc:
            # The callers retry with back-off and report only the error type;
            # a proxy problem is a configuration problem the operator must see:
            # one warning line per distinct failure (never the credentials).
            key = (str(proxy), bare, port, exc.kind)
            if key not in self._reported:
                self._reported.add(key)
                via = "" if str(proxy) in str(exc) else f" (through proxy {proxy})"
                _log.warning("%s%s", exc, via)
            raise

    async def _open(
        self,
        host: str,
        port: int,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
        proxy: ProxyURL | None,
    ) -> trio.abc.Stream:
        bare = host.strip("[]")
        with trio.move_on_after(timeout) as scope:
            if proxy is None:
                tcp = await _dial(host, port, host, port, None)
                stream = timed(tcp)
            else:
                tcp = await _dial(proxy.host, proxy.port, host, port, proxy)
                stream = timed(tcp)
                try:
                    await _open_tunnel(stream, proxy, bare, port)
                except ProxyError as exc:
                    await trio.aclose_forcefully(tcp)
                    raise ConnectError(host, port, "proxy", exc) from None
                except BaseException:
                    await trio.aclose_forcefully(tcp)
                    raise
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
        via = f" through proxy {proxy}" if proxy is not None else ""
        raise ConnectError(
            host, port, "timeout", TimeoutError(f"no connection within {timeout:g} s{via}")
        )


async def _dial(
    host: str, port: int, dest_host: str, dest_port: int, proxy: ProxyURL | None
) -> trio.SocketStream:
    """TCP to ``host:port`` (the destination, or ``proxy``) with ``TCP_NODELAY``."""
    try:
        tcp = await trio.open_tcp_stream(host.strip("[]"), port)
    except OSError as exc:
        if proxy is None:
            raise ConnectError(dest_host, dest_port, _classify(exc), exc) from exc
        cause = ProxyError(str(proxy), 0, f"could not be reached ({exc})")
        raise ConnectError(dest_host, dest_port, _classify(exc), cause) from exc
    try:
        tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
    except OSError:  # pragma: no cover - not a TCP socket
        pass
    return tcp


_PROXY_READ = 16384
_USER_AGENT = f"genesys-pulse/{__version__}"


def _auth_hint(status: int, schemes: list[str], sent_credentials: bool) -> str:
    """What to do about a refusal, from its status and ``Proxy-Authenticate`` schemes.

    >>> _auth_hint(407, ["NTLM", "Negotiate"], False)
    ' (it asks for NTLM, Negotiate; only Basic is supported)'
    """
    if status not in (401, 407):  # 407 is the standard; tinyproxy says 401 to bad ones
        return ""
    if schemes and not any(s.lower() == "basic" for s in schemes):
        return f" (it asks for {', '.join(schemes)}; only Basic is supported)"
    if sent_credentials:
        return " (check the proxy credentials)"
    return " (it wants credentials: http://user:password@host:port)"


def _printable(raw: bytes, limit: int = 80) -> str:
    text = raw.decode("latin-1")
    return "".join(c if " " <= c <= "~" else "?" for c in text[:limit])


async def _open_tunnel(stream: trio.abc.Stream, proxy: ProxyURL, host: str, port: int) -> None:
    """Ask ``proxy`` (already connected on ``stream``) for a tunnel to ``host:port``.

    Returns once the proxy answered 2xx; the stream then carries the
    destination's bytes. Raises :class:`ProxyError` otherwise (its message
    names the proxy and the status, never the credentials: the proxy's own
    reason phrase and body are not echoed beyond a short, printable reason).
    """
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    headers = [("Host", authority), ("User-Agent", _USER_AGENT)]
    auth = proxy.authorization()
    if auth is not None:
        headers.append(("Proxy-Authorization", auth))
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=_PROXY_READ)
    request = conn.send(h11.Request(method="CONNECT", target=authority, headers=headers))
    end = conn.send(h11.EndOfMessage())
    try:
        await stream.send_all((request or b"") + (end or b""))
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise ProxyError(str(proxy), 0, f"closed the connection on CONNECT ({exc})") from None
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise ProxyError(str(proxy), 0, f"broke HTTP answering CONNECT ({exc})") from None
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive_some(_PROXY_READ)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ProxyError(
                    str(proxy), 0, f"closed the connection on CONNECT ({exc})"
                ) from None
            conn.receive_data(bytes(data))
            continue
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            reason = _printable(bytes(event.reason))
            if 200 <= status < 300:
                if conn.trailing_data[0]:
                    raise ProxyError(str(proxy), status, "sent data before the tunnel was used")
                return
            schemes = [
                _printable(bytes(v), 40).split(" ", 1)[0]
                for k, v in event.headers
                if bytes(k).lower() == b"proxy-authenticate"
            ]
            hint = _auth_hint(status, schemes, auth is not None)
            raise ProxyError(
                str(proxy),
                status,
                f"refused the tunnel to {authority}: {status} {reason}".rstrip() + hint,
            )
        if isinstance(event, h11.ConnectionClosed):
            raise ProxyError(str(proxy), 0, "closed the connection before answering CONNECT")
        raise ProxyError(  # pragma: no cover - h11 yields nothing else here
            str(proxy), 0, f"answered CONNECT unexpectedly ({type(event).__name__})"
        )
