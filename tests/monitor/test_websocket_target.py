"""Plain WebSocket targets: control pings plus an echo message as the application probe,
over real loopback against an independent server (the ``websockets`` library)."""

from __future__ import annotations

import trio
from websockets.trio.server import ServerConnection, serve

from genesys_pulse.core.config import parse_config
from genesys_pulse.core.model import ProbeKind
from genesys_pulse.monitor import run_monitor

from .conftest import Collector


async def test_echo_target_probes_and_reconnects() -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            # first connection: answer two echoes, then drop
            for _ in range(2):
                msg = await ws.recv()
                await ws.send("pong:" + str(msg))
            await ws.close(1011, "bye")
            return
        async for msg in ws:
            await ws.send("pong:" + str(msg))

    col = Collector()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: serve(
                handler,
                0,
                host="127.0.0.1",
                compression=None,
                ping_interval=None,
                task_status=task_status,
            )
        )
        port = server.listeners[0].socket.getsockname()[1]
        config = parse_config(
            {
                "targets": [
                    {
                        "id": "echo-target",
                        "kind": "websocket",
                        "url": f"ws://127.0.0.1:{port}/",
                        "interval": 0.2,
                        "timeout": 0.2,
                        "echo_message": "hello",
                        "expected_reply": "pong:hello",
                    }
                ]
            },
            {},
        )
        async with trio.open_nursery() as inner:
            mon = await inner.start(
                lambda task_status: run_monitor(config, sinks=[col], task_status=task_status)
            )
            for _ in range(100):  # bounded: at most 10 s
                if col.named("connection.restored") and len(col.of(ProbeKind.APPLICATION)) >= 15:
                    break
                await trio.sleep(0.1)
            inner.cancel_scope.cancel()
        await server.aclose()
        nursery.cancel_scope.cancel()
    assert mon.targets["echo-target"].kinds == [ProbeKind.CONTROL, ProbeKind.APPLICATION]
    app = col.of(ProbeKind.APPLICATION)
    answered = [s for s in app if not s.timed_out]
    assert len(answered) >= 10
    assert all(s.rtt_s is not None and 0 <= s.rtt_s < 0.2 for s in answered)
    assert col.of(ProbeKind.CONTROL)
    assert not col.of(ProbeKind.HEARTBEAT)
    lost = col.named("connection.lost")
    assert lost and lost[0].attributes["code"] == 1011
    assert connections >= 2
