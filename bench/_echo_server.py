"""A lean WebSocket echo server for benchmarks (trio + wsproto).

Answers RFC 6455 pings with pongs, echoes text messages, and answers the
Genesys application ping ``{"message":"ping"}`` with the ``channel.metadata``
pong, so both probe kinds of a plain WebSocket target (and the naive
baselines) can be measured against it. Run it in its own process:

    python bench/_echo_server.py --port 0      # prints {"port": N} and serves
    python bench/_echo_server.py --silent      # accepts, then answers nothing (a timeout storm)
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import sys

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    Request,
    TextMessage,
)

PONG = '{"topicName":"channel.metadata","eventBody":{"message":"pong"}}'


SILENT = False
"""Answer the upgrade and close frames only: every ping and message goes unanswered."""


async def handle(stream: trio.SocketStream) -> None:
    ws = WSConnection(ConnectionType.SERVER)
    text_parts: list[str] = []
    try:
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return
            ws.receive_data(data)
            out = bytearray()
            for event in ws.events():
                if isinstance(event, Request):
                    out += ws.send(AcceptConnection())
                elif SILENT and isinstance(event, Ping | TextMessage):
                    continue
                elif isinstance(event, Ping):
                    out += ws.send(event.response())
                elif isinstance(event, TextMessage):
                    text_parts.append(event.data)
                    if event.message_finished:
                        text = "".join(text_parts)
                        text_parts.clear()
                        reply = PONG if text == '{"message":"ping"}' else text
                        out += ws.send(Message(data=reply))
                elif isinstance(event, CloseConnection):
                    out += ws.send(event.response())
                    await stream.send_all(bytes(out))
                    return
            if out:
                await stream.send_all(bytes(out))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def main(port: int) -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, handle, port, host="127.0.0.1", backlog=4096)
        )
        gc.freeze()
        print(json.dumps({"port": listeners[0].socket.getsockname()[1]}), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--silent", action="store_true", help="answer no ping and no message")
    args = ap.parse_args()
    SILENT = args.silent
    try:
        trio.run(main, args.port)
    except KeyboardInterrupt:
        sys.exit(0)
