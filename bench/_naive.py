"""Baselines measured in the same run as genesys-pulse: the floor and the naive loop.

* ``raw_tcp_floor``: a 6-byte TCP echo round trip on loopback, the physical floor.
* ``naive_trio_websocket``: the loop people write first with trio-websocket
  (``await ws.ping()`` timed around, ``await trio.sleep(interval)``, a reader
  draining messages), run at the same rate and connection count as the
  monitor, so CPU per probe and RTT can be compared side by side. With
  ``app=True`` each cycle also sends the Genesys application ping
  (``{"message":"ping"}``) and awaits its answer, as a genesys-pulse slot does
  (one control ping and one application echo): that is the comparable cycle.
"""

from __future__ import annotations

import functools
import itertools
import os
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
    url: str,
    *,
    targets: int,
    interval: float,
    duration: float,
    warmup: float = 2.0,
    connect_limit: float = 120.0,
    app: bool = False,
) -> dict[str, object]:
    """Run ``targets`` naive trio-websocket ping loops; measure a steady-state window.

    Connections start spread over ``min(5, targets / 500)`` seconds. Once all
    are connected (or ``connect_limit`` passed) and ``warmup`` seconds more,
    process CPU time, pings and RTTs are counted for ``duration`` seconds.
    Returns ``rtts``/``timeouts``/``probes``/``cpu_s``/``wall_s`` of that
    window and ``connected`` (with ``app``, ``app_rtts`` too).
    """
    rtts: list[float] = []
    app_rtts: list[float] = []
    timeouts = 0
    probes = 0
    connected = 0
    recording = False
    all_connected = trio.Event()
    counter = itertools.count()

    async def one(delay: float) -> None:
        nonlocal timeouts, probes, connected
        await trio.sleep(delay)
        async with open_websocket_url(url) as ws:
            connected += 1
            if connected == targets:
                all_connected.set()

            async def drain() -> None:
                while True:
                    await ws.get_message()

            async with trio.open_nursery() as n:
                if not app:
                    n.start_soon(drain)  # with app the loop itself reads the answers
                while True:
                    t0 = trio.current_time()
                    t1 = t2 = None
                    with trio.move_on_after(interval) as cs:
                        await ws.ping(str(next(counter)).encode())
                        t1 = trio.current_time()
                        if app:
                            await ws.send_message('{"message":"ping"}')
                            await ws.get_message()
                            t2 = trio.current_time()
                    if recording:
                        probes += 1
                        if cs.cancelled_caught:
                            timeouts += 1
                        if t1 is not None:
                            rtts.append(t1 - t0)
                        if t1 is not None and t2 is not None:
                            app_rtts.append(t2 - t1)
                    await trio.sleep(interval)

    ramp = min(5.0, targets / 500.0)
    cpu = wall = user = system = 0.0
    with trio.move_on_after(connect_limit + warmup + duration + 10):
        async with trio.open_nursery() as nursery:
            for i in range(targets):
                nursery.start_soon(one, ramp * i / max(1, targets))
            with trio.move_on_after(connect_limit):
                await all_connected.wait()
            await trio.sleep(warmup)
            cpu0, t0, times0 = time.process_time(), time.perf_counter(), os.times()
            recording = True
            await trio.sleep(duration)
            recording = False
            cpu, wall, times1 = time.process_time() - cpu0, time.perf_counter() - t0, os.times()
            user, system = times1.user - times0.user, times1.system - times0.system
            nursery.cancel_scope.cancel()
    return {
        "rtts": rtts,
        "app_rtts": app_rtts,
        "timeouts": timeouts,
        "probes": probes,
        "cpu_s": cpu,
        "wall_s": wall,
        "user_s": user,
        "sys_s": system,
        "connected": connected,
    }
