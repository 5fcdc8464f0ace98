"""Baselines measured in the same run as genesys-pulse: the floor and the naive loop.

* ``raw_tcp_floor``: a 6-byte TCP echo round trip on loopback, the physical floor.
* ``naive_trio_websocket``: the loop people write first with trio-websocket
  (``await ws.ping()`` timed around, ``await trio.sleep(interval)``, a reader
  draining messages), run at the same rate and connection count as the
  monitor, so CPU per probe and RTT can be compared side by side.
"""

from __future__ import annotations

import functools
import itertools
import time

import trio
from trio_websocket import open_websocket_url


async def raw_tcp_floor(count: int = 500) -> list[float]:
    """RTTs of a 6-byte echo over loopback TCP (server in this process)."""

    async def echo(stream: trio.SocketStream) -> None:
        try:
            async for chunk in stream:
                await stream.send_all(chunk)
        except trio.BrokenResourceError:
            pass

    rtts: list[float] = []
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, echo, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        import socket

        stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            t0 = time.perf_counter()
            await stream.send_all(b"ping!\n")
            got = 0
            while got < 6:
                got += len(await stream.receive_some(64))
            rtts.append(time.perf_counter() - t0)
            await trio.sleep(0.002)
        await stream.aclose()
        nursery.cancel_scope.cancel()
    return rtts


async def naive_trio_websocket(
    url: str, *, targets: int, interval: float, duration: float
) -> dict[str, object]:
    """Run ``targets`` naive trio-websocket ping loops for ``duration`` seconds."""
    rtts: list[float] = []
    timeouts = 0
    probes = 0
    counter = itertools.count()

    async def one(delay: float) -> None:
        nonlocal timeouts, probes
        await trio.sleep(delay)
        async with open_websocket_url(url) as ws:

            async def drain() -> None:
                while True:
                    await ws.get_message()

            async with trio.open_nursery() as n:
                n.start_soon(drain)
                while True:
                    t0 = trio.current_time()
                    probes += 1
                    with trio.move_on_after(interval) as cs:
                        await ws.ping(str(next(counter)).encode())
                    if cs.cancelled_caught:
                        timeouts += 1
                    else:
                        rtts.append(trio.current_time() - t0)
                    await trio.sleep(interval)

    cpu0 = time.process_time()
    with trio.move_on_after(duration + 5):
        async with trio.open_nursery() as nursery:
            for i in range(targets):
                nursery.start_soon(one, min(5.0, targets / 500.0) * i / max(1, targets))
            await trio.sleep(duration + min(5.0, targets / 500.0))
            nursery.cancel_scope.cancel()
    cpu = time.process_time() - cpu0
    return {"rtts": rtts, "timeouts": timeouts, "probes": probes, "cpu_s": cpu}
