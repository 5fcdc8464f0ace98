"""A Genesys Cloud emulator process for the secret scan, with known credentials.

Prints one JSON line ``{"base_url", "client_id"}`` once it listens (the
secret is passed in, never printed); keeps breaking things until its stdin
is closed -- socket resets, 1011 closes, revoked tokens (REST 401 and
re-login), 429 on login, evicted channels -- then prints
``{"tokens": [...]}``: EVERY access token it ever issued (recorded at issue
time, so expired and purged ones are included) and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import trio

from genesys_pulse.emulator import EmulatorSettings, open_emulator


async def main(args: argparse.Namespace) -> None:
    settings = EmulatorSettings(token_ttl=args.token_ttl, heartbeat_period=1.0, seed=3)
    issued: list[str] = []
    async with open_emulator(
        settings=settings, client_id=args.client_id, client_secret=args.client_secret
    ) as emu:
        original = emu.state.issue_token

        def issue_token(client_id: str, now: float) -> Any:
            token = original(client_id, now)
            issued.append(token.value)
            return token

        emu.state.issue_token = issue_token  # type: ignore[method-assign]
        print(json.dumps({"base_url": emu.base_url, "client_id": emu.client_id}), flush=True)

        async def chaos() -> None:
            step = 0
            while True:
                await trio.sleep(args.every)
                step += 1
                what = step % 4
                if what == 0:
                    emu.faults.reset()  # TCP reset: reconnects
                elif what == 1:
                    emu.faults.close(1011, "test restart")
                elif what == 2:
                    # every token revoked and every channel gone: REST 401, re-login
                    emu.state.tokens.clear()
                    for ch in list(emu.state.channels.values()):
                        emu.state.remove_channel(ch, "expired")
                else:
                    emu.faults.fail_login(429, count=1, retry_after=1)
                    emu.state.tokens.clear()
                    for ch in list(emu.state.channels.values()):
                        emu.state.remove_channel(ch, "expired")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(chaos)
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            while await stdin.receive_some(1024):
                pass
            nursery.cancel_scope.cancel()
    print(json.dumps({"tokens": issued}), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--token-ttl", type=int, default=3)
    p.add_argument("--every", type=float, default=1.0)
    trio.run(main, p.parse_args())
