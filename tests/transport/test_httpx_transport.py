"""httpx over our connector: loopback HTTP, TLS, in-memory streams, errors."""

from __future__ import annotations

import h11
import httpx
import pytest
import trio
import trio.testing

from genesys_pulse.transport import NetConnector, httpx_transport

from ._servers import MemoryConnector, tcp_server, tls_server
from .conftest import PKI

GUARD = 10.0


async def http_handler(stream: trio.abc.Stream) -> None:
    """A keep-alive HTTP/1.1 server that echoes method, path and a header."""
    conn = h11.Connection(h11.SERVER)
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                conn.receive_data(data)
                if not data:
                    return
                continue
            if isinstance(event, h11.Request):
                auth = dict(event.headers).get(b"authorization", b"-")
                body = b"%s %s %s" % (event.method, event.target, auth)
                await stream.send_all(
                    conn.send(
                        h11.Response(status_code=200, headers=[("content-length", str(len(body)))])
                    )
                )
                await stream.send_all(conn.send(h11.Data(data=body)))
                await stream.send_all(conn.send(h11.EndOfMessage()))
            elif isinstance(event, h11.EndOfMessage):
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return
    except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
        pass
    finally:
        await trio.aclose_forcefully(stream)


async def test_http_over_loopback_reuses_connection() -> None:
    accepted = 0

    async def counting(stream: trio.abc.Stream) -> None:
        nonlocal accepted
        accepted += 1
        await http_handler(stream)

    async with tcp_server(counting) as port:
        transport = httpx_transport(NetConnector())
        async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port}") as c:
            with trio.fail_after(GUARD):
                r1 = await c.get("/a?x=1", headers={"Authorization": "Bearer t"})
                r2 = await c.post("/b", content=b"hi")
    assert r1.status_code == 200
    assert r1.content == b"GET /a?x=1 Bearer t"
    assert r2.content == b"POST /b -"
    assert accepted == 1


async def test_https_with_ca_bundle(pki: PKI) -> None:
    async with tls_server(http_handler, pki.server_context) as port:
        transport = httpx_transport(NetConnector(ca_bundle=str(pki.ca_pem)))
        async with httpx.AsyncClient(transport=transport) as c:
            with trio.fail_after(GUARD):
                r = await c.get(f"https://localhost:{port}/oauth/token")
    assert r.content == b"GET /oauth/token -"


async def test_https_untrusted_is_connect_error(pki: PKI) -> None:
    async with tls_server(http_handler, pki.server_context) as port:
        async with httpx.AsyncClient(transport=httpx_transport(NetConnector())) as c:
            with trio.fail_after(GUARD), pytest.raises(httpx.ConnectError, match="tls"):
                await c.get(f"https://localhost:{port}/")


async def test_http_to_non_loopback_is_refused() -> None:
    connector_calls: list[object] = []

    class Recording:
        async def open_stream(
            self,
            host: str,
            port: int,
            *,
            tls: bool,
            timeout: float,  # noqa: ASYNC109
        ) -> trio.abc.Stream:
            connector_calls.append(host)
            raise AssertionError("must not connect")

    async with httpx.AsyncClient(transport=httpx_transport(Recording())) as c:
        with pytest.raises(httpx.UnsupportedProtocol, match="non-loopback"):
            await c.get("http://login.mypurecloud.com/oauth/token")
    assert connector_calls == []


async def test_connection_refused_maps_to_httpx_connect_error() -> None:
    async with tcp_server(http_handler) as port:
        pass
    async with httpx.AsyncClient(transport=httpx_transport(NetConnector())) as c:
        with trio.fail_after(GUARD), pytest.raises(httpx.ConnectError, match="refused"):
            await c.get(f"http://127.0.0.1:{port}/")


async def test_in_memory_connector_and_tls_flag(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        conn = MemoryConnector(nursery, http_handler)
        async with httpx.AsyncClient(transport=httpx_transport(conn)) as c:
            r = await c.get("https://api.example/api/v2/notifications/channels")
            r2 = await c.get("http://127.0.0.1:8080/x")
        assert r.content == b"GET /api/v2/notifications/channels -"
        assert r2.status_code == 200
        assert [(h, p, tls) for h, p, tls, _ in conn.calls] == [
            ("api.example", 443, True),
            ("127.0.0.1", 8080, False),
        ]
        nursery.cancel_scope.cancel()


async def test_connect_timeout_maps_to_httpx_connect_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Slow:
        async def open_stream(
            self,
            host: str,
            port: int,
            *,
            tls: bool,
            timeout: float,  # noqa: ASYNC109
        ) -> trio.abc.Stream:
            from genesys_pulse.transport import ConnectError

            await trio.sleep(timeout)
            raise ConnectError(host, port, "timeout")

    async with httpx.AsyncClient(transport=httpx_transport(Slow())) as c:
        with pytest.raises(httpx.ConnectTimeout):
            await c.get("https://api.example/", timeout=3)


async def test_https_is_never_sent_in_clear_if_httpcore_skips_start_tls(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The guard on httpcore's call order: a backend stream whose ``start_tls`` is
    skipped (as a changed httpcore might) fails loudly and opens no connection."""
    import httpcore

    from genesys_pulse.transport._httpx import ConnectorTransport

    class SkipsStartTls(httpcore.AsyncNetworkBackend):
        def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
            self.inner = inner

        async def connect_tcp(self, host: str, port: int, **kw: object) -> object:  # type: ignore[override]
            stream = await self.inner.connect_tcp(host, port, **kw)  # type: ignore[arg-type]

            async def no_tls(*a: object, **k: object) -> object:
                return stream

            stream.start_tls = no_tls  # type: ignore[method-assign]
            return stream

    async with trio.open_nursery() as nursery:
        conn = MemoryConnector(nursery, http_handler)
        transport = ConnectorTransport(conn)
        pool = transport._pool
        pool._network_backend = SkipsStartTls(pool._network_backend)
        async with httpx.AsyncClient(transport=transport) as c:
            with pytest.raises(httpx.ConnectError, match=r"before start_tls.*httpcore 1\.x"):
                await c.get("https://api.example/api/v2/notifications/channels")
            r = await c.get("http://127.0.0.1:8080/x")  # plain loopback still works
        assert r.status_code == 200
        assert [(h, p, tls) for h, p, tls, _ in conn.calls] == [("127.0.0.1", 8080, False)]
        nursery.cancel_scope.cancel()
