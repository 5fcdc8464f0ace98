"""TimedSocketStream: trio's stream conformance suite, and stamps that are never late."""

from __future__ import annotations

import os

import trio
import trio.testing

from genesys_pulse.transport import NetConnector, TimedSocketStream, open_websocket

from ._servers import MemoryConnector, echo_handler, tcp_server


async def _pair() -> tuple[TimedSocketStream, TimedSocketStream]:
    a, b = trio.socket.socketpair()
    return TimedSocketStream(trio.SocketStream(a)), TimedSocketStream(trio.SocketStream(b))


async def _clogged_pair() -> tuple[TimedSocketStream, TimedSocketStream]:
    left, right = await _pair()
    # Fill both send buffers so the next send_all blocks (either direction).
    for stream in (left, right):
        try:
            while True:
                os.write(stream.socket.fileno(), b"x" * 65536)
        except BlockingIOError:
            pass
    return left, right


async def test_conforms_to_trio_half_closeable_stream() -> None:
    await trio.testing.check_half_closeable_stream(_pair, _clogged_pair)


async def test_stamps_bracket_the_io() -> None:
    a, b = await _pair()
    async with a, b:
        before = trio.current_time()
        await a.send_all(b"hello")
        assert before <= a.last_write_at <= trio.current_time()
        before = trio.current_time()
        assert await b.receive_some(10) == b"hello"
        assert before <= b.last_read_at <= trio.current_time()


async def test_reply_is_never_stamped_before_its_request_over_loopback() -> None:
    """Round trips measured on real sockets are never negative (they were, with
    times read when send_all returned, because the reader ran first)."""
    async with tcp_server(echo_handler) as port:
        with trio.fail_after(20):
            ws = await open_websocket(
                f"ws://127.0.0.1:{port}/", connector=NetConnector(), connect_timeout=5
            )
            assert ws.syscall_timestamps
            rtts: list[float] = []
            got = trio.Event()
            arrived = [0.0]

            def on_pong(payload: bytes, t: float) -> None:
                arrived[0] = t
                got.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.run_reader, lambda d, t: None, on_pong)
                for i in range(300):
                    got = trio.Event()
                    sent = await ws.send_ping(b"%d" % i)
                    await got.wait()
                    rtts.append(arrived[0] - sent)
                await ws.aclose(timeout=2)
    assert len(rtts) == 300
    assert min(rtts) > 0


async def test_memory_streams_fall_back_to_return_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, echo_handler), connect_timeout=5
        )
        assert not ws.syscall_timestamps
        assert ws.socket is None
        assert await ws.send_ping(b"1") == trio.current_time()
        await ws.aclose(timeout=1)
