"""TLS through NetConnector: verification is always on; a CA bundle can be given."""

from __future__ import annotations

import pytest
import trio

from genesys_pulse.transport import ConnectError, NetConnector, open_websocket

from ._servers import echo_handler, tls_server
from .conftest import PKI

GUARD = 10.0


async def test_wss_with_ca_bundle_succeeds(pki: PKI) -> None:
    async with tls_server(echo_handler, pki.server_context) as port:
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"wss://localhost:{port}/channels/x",
                connector=NetConnector(ca_bundle=str(pki.ca_pem)),
                connect_timeout=5,
            )
            assert ws.socket is not None
            got: list[str | bytes] = []
            done = trio.Event()

            def on_message(d: str | bytes, t: float) -> None:
                got.append(d)
                done.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.run_reader, on_message, lambda p, t: None)
                await ws.send_text("over tls")
                await done.wait()
                await ws.aclose(timeout=2)
    assert got == ["over tls"]


async def test_ip_address_host_is_verified_against_san(pki: PKI) -> None:
    async with tls_server(echo_handler, pki.server_context) as port:
        with trio.fail_after(GUARD):
            stream = await NetConnector(ca_bundle=str(pki.ca_pem)).open_stream(
                "127.0.0.1", port, tls=True, timeout=5
            )
            await stream.aclose()


async def test_untrusted_certificate_is_an_error(pki: PKI) -> None:
    async with tls_server(echo_handler, pki.server_context) as port:
        for connector in (NetConnector(), NetConnector(ca_bundle=str(pki.other_ca_pem))):
            with trio.fail_after(GUARD), pytest.raises(ConnectError) as info:
                await connector.open_stream("localhost", port, tls=True, timeout=5)
            assert info.value.kind == "tls"
            assert "certificate verify failed" in str(info.value)


def test_verification_cannot_be_turned_off() -> None:
    import inspect

    params = set(inspect.signature(NetConnector).parameters)
    assert params == {"ca_bundle", "proxy"}  # a proxy changes the route, never verification


async def test_tls_handshake_never_answered_times_out() -> None:
    async def mute(stream: trio.abc.Stream) -> None:
        await trio.sleep_forever()

    from ._servers import tcp_server

    async with tcp_server(mute) as port:
        with trio.fail_after(GUARD), pytest.raises(ConnectError) as info:
            await NetConnector().open_stream("127.0.0.1", port, tls=True, timeout=0.2)
    assert info.value.kind == "timeout"
