"""WebSocketConnection over real loopback sockets and in-memory streams."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from wsproto.events import AcceptConnection, CloseConnection, Ping, Pong, Request, TextMessage

from genesys_pulse.transport import (
    CloseInfo,
    ConnectError,
    ConnectionClosed,
    HandshakeError,
    NetConnector,
    open_websocket,
)

from ._servers import MemoryConnector, ServerWS, echo_handler, reset, tcp_server

GUARD = 10.0  # seconds: a generous bound so a broken test fails instead of hanging


async def test_echo_text_and_ping_over_loopback() -> None:
    async with tcp_server(echo_handler) as port:
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"ws://127.0.0.1:{port}/channels/abc?x=1",
                connector=NetConnector(),
                connect_timeout=5,
            )
            assert ws.socket is not None
            messages: list[tuple[str | bytes, float]] = []
            pongs: list[tuple[bytes, float]] = []
            got = trio.Event()
            got_message = trio.Event()

            def on_message(data: str | bytes, t: float) -> None:
                messages.append((data, t))
                got_message.set()

            def on_pong(payload: bytes, t: float) -> None:
                pongs.append((payload, t))
                got.set()

            async with trio.open_nursery() as nursery:
                result: list[CloseInfo] = []

                async def reader() -> None:
                    result.append(await ws.run_reader(on_message, on_pong))

                nursery.start_soon(reader)
                sent_text = await ws.send_text('{"message":"ping"}')
                sent_ping = await ws.send_ping(b"p-1")
                await got.wait()
                assert pongs[0][0] == b"p-1"
                assert pongs[0][1] >= sent_ping
                await got_message.wait()
                assert messages[0][0] == '{"message":"ping"}'
                assert messages[0][1] >= sent_text
                await ws.aclose(1000, "bye", timeout=5)
            assert result == [CloseInfo(1000, "bye", local=True)]
            assert ws.close_info == CloseInfo(1000, "bye", local=True)
            with pytest.raises(ConnectionClosed):
                await ws.send_text("after close")


async def test_ws_to_non_loopback_is_refused() -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        await open_websocket("ws://example.com/x", connector=NetConnector(), connect_timeout=1)


async def test_bad_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="ws:// or wss://"):
        await open_websocket("http://127.0.0.1/x", connector=NetConnector(), connect_timeout=1)


async def test_upgrade_never_answered_fails_within_connect_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def silent(stream: trio.abc.Stream) -> None:
        await stream.receive_some(65536)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        conn = MemoryConnector(nursery, silent)
        start = trio.current_time()
        with pytest.raises(ConnectError) as info:
            await open_websocket("wss://streaming.example/ch", connector=conn, connect_timeout=7)
        assert info.value.kind == "timeout"
        assert trio.current_time() - start == pytest.approx(7)
        assert conn.calls == [("streaming.example", 443, True, 7)]
        nursery.cancel_scope.cancel()


async def test_upgrade_never_answered_over_loopback() -> None:
    async def silent(stream: trio.abc.Stream) -> None:
        await stream.receive_some(65536)
        await trio.sleep_forever()

    async with tcp_server(silent) as port:
        with trio.fail_after(GUARD), pytest.raises(ConnectError, match="upgrade not answered"):
            await open_websocket(
                f"ws://127.0.0.1:{port}/", connector=NetConnector(), connect_timeout=0.2
            )


async def test_rejected_upgrade_gives_status_and_body() -> None:
    async def reject(stream: trio.abc.Stream) -> None:
        await stream.receive_some(65536)
        body = b'{"message":"channel not found","status":404}'
        await stream.send_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await trio.sleep(1)

    async with tcp_server(reject) as port:
        with trio.fail_after(GUARD), pytest.raises(HandshakeError) as info:
            await open_websocket(
                f"ws://localhost:{port}/channels/x", connector=NetConnector(), connect_timeout=5
            )
    assert info.value.status == 404
    assert b"channel not found" in info.value.body
    assert "404" in str(info.value)


async def test_connection_refused_is_classified() -> None:
    async with tcp_server(echo_handler) as port:
        pass  # the port is now closed
    with trio.fail_after(GUARD), pytest.raises(ConnectError) as info:
        await open_websocket(f"ws://127.0.0.1:{port}/", connector=NetConnector(), connect_timeout=5)
    assert info.value.kind == "refused"
    assert f"127.0.0.1:{port}" in str(info.value)


async def test_name_resolution_failure_is_classified() -> None:
    import socket

    class FailingResolver(trio.abc.HostnameResolver):
        async def getaddrinfo(self, *args: object, **kwargs: object) -> list[object]:  # type: ignore[override]
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        async def getnameinfo(self, *args: object) -> tuple[str, str]:  # type: ignore[override]
            raise NotImplementedError

    old = trio.socket.set_custom_hostname_resolver(FailingResolver())
    try:
        with trio.fail_after(GUARD), pytest.raises(ConnectError) as info:
            await NetConnector().open_stream("nowhere.example", 443, tls=True, timeout=5)
    finally:
        trio.socket.set_custom_hostname_resolver(old)
    assert info.value.kind == "resolve"
    assert "nowhere.example:443" in str(info.value)


async def test_server_reset_gives_1006() -> None:
    async def resetter(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await srv.stream.receive_some(65536)  # wait for the client's first message
        reset(stream)
        await stream.aclose()

    async with tcp_server(resetter) as port:
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"ws://127.0.0.1:{port}/", connector=NetConnector(), connect_timeout=5
            )
            await ws.send_text("hello")
            info = await ws.run_reader(lambda d, t: None, lambda p, t: None)
    assert info.code == 1006
    assert not info.local
    with pytest.raises(ConnectionClosed):
        await ws.send_ping(b"x")


async def test_huge_message_closes_1009() -> None:
    closed_with: list[int] = []

    async def huge(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await srv.send(TextMessage(data="x" * 5000))
        async for ev in srv.events():
            if isinstance(ev, CloseConnection):
                closed_with.append(ev.code)
                return

    async with tcp_server(huge) as port:
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"ws://127.0.0.1:{port}/",
                connector=NetConnector(),
                connect_timeout=5,
                max_message_size=4096,
            )
            seen: list[str | bytes] = []
            info = await ws.run_reader(lambda d, t: seen.append(d), lambda p, t: None)
            await trio.sleep(0.05)
    assert info == CloseInfo(1009, "message too big", local=True)
    assert seen == []
    assert closed_with == [1009]


async def test_fragmented_message_reassembled_and_limit_counts_whole_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def fragments(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await srv.send(TextMessage(data="ab", message_finished=False))
        await srv.send(TextMessage(data="cd", message_finished=True))
        await srv.send(TextMessage(data="x" * 60, message_finished=False))
        await srv.send(TextMessage(data="y" * 60, message_finished=True))
        async for _ in srv.events():
            pass

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/",
            connector=MemoryConnector(nursery, fragments),
            connect_timeout=5,
            max_message_size=100,
        )
        seen: list[str | bytes] = []
        info = await ws.run_reader(lambda d, t: seen.append(d), lambda p, t: None)
        assert seen == ["abcd"]
        assert info.code == 1009


async def test_server_close_is_answered_and_reported() -> None:
    answered: list[CloseConnection] = []

    async def closer(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await srv.send(CloseConnection(code=1001, reason="idle timeout"))
        async for ev in srv.events():
            if isinstance(ev, CloseConnection):
                answered.append(ev)

    async with tcp_server(closer) as port:
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"ws://127.0.0.1:{port}/", connector=NetConnector(), connect_timeout=5
            )
            info = await ws.run_reader(lambda d, t: None, lambda p, t: None)
            await trio.sleep(0.05)
    assert info == CloseInfo(1001, "idle timeout")
    assert [e.code for e in answered] == [1001]


async def test_server_ping_is_answered(autojump_clock: trio.testing.MockClock) -> None:
    pongs: list[bytes] = []

    async def pinger(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await srv.send(Ping(payload=b"srv"))
        async for ev in srv.events():
            if isinstance(ev, Pong):
                pongs.append(ev.payload)
                await srv.send(CloseConnection(code=1000))

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, pinger), connect_timeout=5
        )
        info = await ws.run_reader(lambda d, t: None, lambda p, t: None)
    assert pongs == [b"srv"]
    assert info.code == 1000


async def test_pongs_not_blocked_by_flood_of_messages(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def flood(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        for i in range(200):
            await srv.send(TextMessage(data=f'{{"n":{i}}}'))
        async for _ in srv.events():
            pass

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, flood), connect_timeout=5
        )
        count = 0
        pong = trio.Event()

        def on_message(d: str | bytes, t: float) -> None:
            nonlocal count
            count += 1

        nursery.start_soon(ws.run_reader, on_message, lambda p, t: pong.set())
        with trio.fail_after(5):
            await ws.send_ping(b"1")
            await pong.wait()
        await ws.aclose()
        assert count == 200


async def test_frames_buffered_with_the_101_are_delivered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def eager(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        while srv.request is None:
            srv.ws.receive_data(await stream.receive_some(65536))
            for ev in srv.ws.events():
                if isinstance(ev, Request):
                    srv.request = ev
        # The 101 and the first frame in one write: one read on the client side.
        data = srv.ws.send(AcceptConnection()) + srv.ws.send(TextMessage(data="first"))
        await stream.send_all(data)
        await srv.send(CloseConnection(code=1000))
        async for _ in srv.events():
            pass

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, eager), connect_timeout=5
        )
        seen: list[str | bytes] = []
        info = await ws.run_reader(lambda d, t: seen.append(d), lambda p, t: None)
    assert seen == ["first"]
    assert info.code == 1000


async def test_aclose_is_bounded_when_peer_never_answers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def deaf(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, deaf), connect_timeout=5
        )
        start = trio.current_time()
        await ws.aclose(1000, "bye", timeout=2)
        assert trio.current_time() - start == pytest.approx(2)
        assert ws.close_info == CloseInfo(1000, "bye", local=True)
        nursery.cancel_scope.cancel()


async def test_aclose_with_reader_running_and_peer_answering(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, echo_handler), connect_timeout=5
        )
        results: list[CloseInfo] = []

        async def reader() -> None:
            results.append(await ws.run_reader(lambda d, t: None, lambda p, t: None))

        nursery.start_soon(reader)
        await trio.sleep(0.1)
        start = trio.current_time()
        await ws.aclose(1001, "rotating", timeout=2)
        assert trio.current_time() - start < 2
    assert results == [CloseInfo(1001, "rotating", local=True)]


async def test_ping_payload_limit(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, echo_handler), connect_timeout=5
        )
        with pytest.raises(ValueError, match="125"):
            await ws.send_ping(b"x" * 126)
        await ws.aclose(timeout=1)


async def test_send_cancelled_before_writing_keeps_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, echo_handler), connect_timeout=5
        )
        with trio.CancelScope() as scope:
            scope.cancel()
            await ws.send_ping(b"never")
        assert ws.close_info is None
        pong = trio.Event()
        nursery.start_soon(ws.run_reader, lambda d, t: None, lambda p, t: pong.set())
        await ws.send_ping(b"again")
        with trio.fail_after(5):
            await pong.wait()
        await ws.aclose(timeout=1)


async def test_send_blocked_by_stalled_peer_then_cancelled_closes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def stalled(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await trio.sleep_forever()  # never reads again: the client's writes back up

    class TinyBuffers(MemoryConnector):
        async def open_stream(
            self,
            host: str,
            port: int,
            *,
            tls: bool,
            timeout: float,  # noqa: ASYNC109
        ) -> trio.abc.Stream:
            client, server = trio.testing.lockstep_stream_pair()
            self.nursery.start_soon(self.handler, server)
            return client

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=TinyBuffers(nursery, stalled), connect_timeout=5
        )
        with trio.move_on_after(3) as scope:
            await ws.send_text("x" * 1000)
        assert scope.cancelled_caught
        assert ws.close_info == CloseInfo(1006, "send interrupted", local=True)
        with pytest.raises(ConnectionClosed):
            await ws.send_text("again")
        nursery.cancel_scope.cancel()


async def test_garbage_instead_of_http_is_a_handshake_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def garbage(stream: trio.abc.Stream) -> None:
        await stream.receive_some(65536)
        await stream.send_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        with pytest.raises(HandshakeError) as info:
            await open_websocket(
                "wss://h/", connector=MemoryConnector(nursery, garbage), connect_timeout=5
            )
        assert info.value.status == 0
        nursery.cancel_scope.cancel()


async def test_server_closing_before_answer_is_a_handshake_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def hangup(stream: trio.abc.Stream) -> None:
        await stream.receive_some(65536)
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        with pytest.raises(HandshakeError, match="closed before the upgrade"):
            await open_websocket(
                "wss://h/", connector=MemoryConnector(nursery, hangup), connect_timeout=5
            )


async def test_protocol_error_from_server_closes_1002(
    autojump_clock: trio.testing.MockClock,
) -> None:
    closed_with: list[int] = []

    async def broken(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await stream.send_all(b"\xf1\x00")  # FIN + RSV1-3 set, no extension negotiated
        async for ev in srv.events():
            if isinstance(ev, CloseConnection):
                closed_with.append(ev.code)

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, broken), connect_timeout=5
        )
        info = await ws.run_reader(lambda d, t: None, lambda p, t: None)
        await trio.sleep(0.1)
    assert info.code == 1002
    assert info.local
    assert closed_with == [1002]


async def test_binary_messages_reassembled_and_limited(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from wsproto.events import BytesMessage

    async def binary(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await srv.send(BytesMessage(data=b"\x00\x01", message_finished=False))
        await srv.send(BytesMessage(data=b"\x02", message_finished=True))
        await srv.send(BytesMessage(data=b"z" * 101))
        async for _ in srv.events():
            pass

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/",
            connector=MemoryConnector(nursery, binary),
            connect_timeout=5,
            max_message_size=100,
        )
        seen: list[str | bytes] = []
        info = await ws.run_reader(lambda d, t: seen.append(d), lambda p, t: None)
    assert seen == [b"\x00\x01\x02"]
    assert info == CloseInfo(1009, "message too big", local=True)


async def test_upgrade_request_carries_host_path_and_extra_headers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[Request] = []

    async def capture(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        assert srv.request is not None
        seen.append(srv.request)
        async for _ in srv.events():
            pass

    async with trio.open_nursery() as nursery:
        conn = MemoryConnector(nursery, capture)
        ws = await open_websocket(
            "wss://streaming.example:8443/channels/abc?x=1",
            connector=conn,
            connect_timeout=5,
            extra_headers=[("User-Agent", "genesys-pulse-test")],
        )
        await ws.aclose(timeout=1)
    assert conn.calls[0][:3] == ("streaming.example", 8443, True)
    assert seen[0].host == "streaming.example:8443"
    assert seen[0].target == "/channels/abc?x=1"
    assert (b"user-agent", b"genesys-pulse-test") in [
        (k.lower(), v) for k, v in seen[0].extra_headers
    ]


async def test_ipv6_loopback_literal() -> None:
    from functools import partial

    try:
        probe = await trio.open_tcp_listeners(0, host="::1")
    except OSError:  # pragma: no cover - host without IPv6 loopback
        pytest.skip("no IPv6 loopback")
    for listener in probe:
        await listener.aclose()
    seen: list[Request] = []

    async def capture(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        assert srv.request is not None
        seen.append(srv.request)
        await echo_handler_after_accept(srv)

    async def echo_handler_after_accept(srv: ServerWS) -> None:
        async for ev in srv.events():
            if isinstance(ev, CloseConnection):
                await srv.send(ev.response())
                return

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, capture, 0, host="::1"))
        port = listeners[0].socket.getsockname()[1]
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"ws://[::1]:{port}/x", connector=NetConnector(), connect_timeout=5
            )
            await ws.aclose(timeout=2)
        nursery.cancel_scope.cancel()
    assert seen[0].host == f"[::1]:{port}"
    assert ws.close_info == CloseInfo(1000, "", local=True)
