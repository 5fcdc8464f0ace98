"""``WebSocketConnection.send_nowait`` and its writer: writes that never wait.

Over a plain loopback socket with room in the send buffer, the frames go out
in the call itself (one non-blocking write, stamped); when the peer stops
reading, what does not fit is queued and the writer task sends it, in order,
once the peer reads again; an in-memory stream always goes through the writer.
"""

from __future__ import annotations

import itertools
import socket

import trio
import trio.testing
from wsproto.events import Ping, TextMessage

from genesys_pulse.transport import NetConnector, open_websocket
from genesys_pulse.transport._frames import OP_PING, OP_TEXT, encode_frame

from ._servers import MemoryConnector, ServerWS, echo_handler, tcp_server

GUARD = 20.0


async def test_fast_path_writes_in_the_call_and_the_pong_comes_back() -> None:
    async with tcp_server(echo_handler) as port:
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"ws://127.0.0.1:{port}/", connector=NetConnector(), connect_timeout=5
            )
            pongs: list[tuple[bytes, float]] = []
            texts: list[tuple[str | bytes, float]] = []
            done = trio.Event()

            def on_message(data: str | bytes, t: float) -> None:
                texts.append((data, t))
                done.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.run_reader, on_message, lambda p, t: pongs.append((p, t)))
                written: list[float] = []
                before = trio.current_time()
                data = encode_frame(OP_PING, b"gp1") + encode_frame(OP_TEXT, b"hello")
                t = ws.send_nowait(data, written.append)
                # written synchronously: a time, no callback, nothing queued
                assert t is not None and t >= before
                assert written == [] and not ws.writes_queued
                await done.wait()
                assert pongs[0][0] == b"gp1" and pongs[0][1] >= t
                assert texts[0][0] == "hello"
                await ws.aclose(timeout=2)


async def test_full_send_buffer_queues_for_the_writer_in_order() -> None:
    got: list[str] = []
    release = trio.Event()
    all_in = trio.Event()
    count = 40
    payload = "x" * 60_000

    async def slow_reader(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        await release.wait()  # stop reading until the client's buffers are full
        parts: list[str] = []
        async for ev in srv.events():
            if isinstance(ev, TextMessage):
                parts.append(ev.data)
                if ev.message_finished:
                    text = "".join(parts)
                    parts.clear()
                    assert len(text) == len(payload)  # whole: no frame cut or interleaved
                    got.append(text[:8])
                    if len(got) == count:
                        all_in.set()

    async with tcp_server(slow_reader) as port:
        with trio.fail_after(GUARD):
            ws = await open_websocket(
                f"ws://127.0.0.1:{port}/", connector=NetConnector(), connect_timeout=5
            )
            sock = ws.socket
            assert sock is not None
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            written: list[tuple[int, float]] = []
            immediate = 0
            for i in range(count):
                text = f"{i:08d}" + payload[8:]
                t = ws.send_nowait(
                    encode_frame(OP_TEXT, text.encode()),
                    lambda t, i=i: written.append((i, t)),  # type: ignore[misc]
                )
                immediate += t is not None
            # the peer does not read: most frames could not go out at once
            assert ws.writes_queued
            assert immediate < count
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.run_writer)
                release.set()
                await all_in.wait()
                # every frame arrived whole and in order; each queued one was reported
                assert got == [f"{i:08d}" for i in range(count)]
                assert [i for i, _ in written] == list(range(immediate, count))
                assert all(b >= a for (_, a), (_, b) in itertools.pairwise(written))
                assert not ws.writes_queued
                await ws.aclose(timeout=2)
                nursery.cancel_scope.cancel()


async def test_in_memory_stream_always_uses_the_writer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pinged = trio.Event()

    async def server(stream: trio.abc.Stream) -> None:
        srv = ServerWS(stream)
        await srv.accept()
        async for ev in srv.events():
            if isinstance(ev, Ping):
                pinged.set()

    async with trio.open_nursery() as nursery:
        ws = await open_websocket(
            "wss://h/", connector=MemoryConnector(nursery, server), connect_timeout=5
        )
        written: list[float] = []
        assert ws.send_nowait(encode_frame(OP_PING, b"p"), written.append) is None
        assert ws.writes_queued and written == []
        nursery.start_soon(ws.run_writer)
        with trio.fail_after(5):
            await pinged.wait()
        assert len(written) == 1 and not ws.writes_queued
        await ws.aclose(timeout=1)
        nursery.cancel_scope.cancel()
