"""A Genesys Cloud emulator in its own process, for tests that run hosts as subprocesses.

Prints one JSON line ``{"base_url", "client_id", "client_secret"}`` once it
listens; runs until its stdin is closed, then prints ``{"tokens": [...]}``
(every access token it issued, so tests can search for them) and exits.
``--close-every S`` closes the live sockets with 1011 every S seconds
(reconnects); ``--token-ttl S`` makes tokens short-lived (refreshes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import trio

from genesys_pulse.emulator import Emulator, open_emulator
from genesys_pulse.emulator._settings import EmulatorSettings


async def main(args: argparse.Namespace) -> None:
    settings = EmulatorSettings(token_ttl=args.token_ttl, heartbeat_period=args.heartbeat)
    async with open_emulator(
        settings=settings, client_id=args.client_id, client_secret=args.client_secret
    ) as emu:
        print(
            json.dumps(
                {
                    "base_url": emu.base_url,
                    "client_id": emu.client_id,
                    "client_secret": emu.client_secret,
                }
            ),
            flush=True,
        )
        async with trio.open_nursery() as nursery:
            if args.close_every:

                async def closer() -> None:
                    while True:
                        await trio.sleep(args.close_every)
                        emu.faults.close(1011, "test restart")

                nursery.start_soon(closer)
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            buf = b""
            while chunk := await stdin.receive_some(1024):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    command(emu, line.decode().strip())
            nursery.cancel_scope.cancel()
        print(
            json.dumps({"tokens": list(emu.state.tokens), **stats(emu)}),
            flush=True,
        )


def stats(emu: Emulator) -> dict[str, Any]:
    return {"channels_created": emu.state.channels_created, "evicted": list(emu.state.evicted)}


def command(emu: Emulator, line: str) -> None:
    """``stats``: print ``{"stats": {...}}``; ``outage``: Genesys goes down and stays down
    (live sockets closed with 1011, every REST call 503, every WebSocket upgrade hangs)."""
    if line == "stats":
        print(json.dumps({"stats": stats(emu)}), flush=True)
    elif line == "outage":
        emu.faults.fail_api(503, count=1_000_000)
        emu.faults.fail_login(503, count=1_000_000)
        emu.faults.hang_upgrades(count=1_000_000)
        emu.faults.close(1011, "outage")
        print(json.dumps({"outage": True}), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--client-id", default=None)
    p.add_argument("--client-secret", default=None)
    p.add_argument("--close-every", type=float, default=0.0)
    p.add_argument("--token-ttl", type=int, default=86400)
    p.add_argument("--heartbeat", type=float, default=30.0)
    trio.run(main, p.parse_args())
