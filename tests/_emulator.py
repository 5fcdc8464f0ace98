"""A Genesys Cloud emulator in its own process, for tests that run hosts or the CLI as subprocesses.

One helper for every such test (the instrumentor's host tests, the secret
scan): the parent side is :func:`emulator_process` (a context manager giving
an :class:`EmulatorProc`) and :func:`read_json_line`; the child side is this
file run as a script (below). :func:`cli_emulator` runs the product's own
``genesys-pulse emulator`` instead, for tests of the CLI and the deployments::

    python tests/_emulator.py [--client-id ID] [--client-secret S] [--token-ttl S]
                              [--heartbeat S] [--seed N] [--close-every S] [--chaos-every S]

The child prints one JSON line ``{"base_url", "client_id"}`` once it listens,
with ``"client_secret"`` too when the emulator made the secret up (a secret
passed in is never printed). It then serves until its stdin is closed and
prints ``{"tokens": [...], "channels_created", "evicted"}``: EVERY access token
it ever issued (recorded at issue time, so expired and purged ones are
included, for tests that search output for them), and exits.

While it runs, a line on its stdin is a command: ``stats`` answers
``{"stats": {...}}``; ``outage`` takes Genesys down for good (live sockets
closed with 1011, every REST call and login answered 503, every WebSocket
upgrade hangs) and answers ``{"outage": true}``.

``--close-every S`` closes the live sockets with 1011 every S seconds
(reconnects). ``--chaos-every S`` keeps breaking things every S seconds, in
turn: TCP resets, 1011 closes, every token revoked and channel evicted (REST
401 and re-login), and a 429 on login with the same revocation.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["EmulatorProc", "cli_emulator", "emulator_process", "read_json_line"]


def read_json_line(stream: IO[bytes], timeout: float, key: str) -> tuple[dict[str, Any], bytes]:
    """Read lines from *stream* until a JSON object holding *key*; return it and what came before."""
    deadline = time.monotonic() + timeout
    seen = b""
    fd = stream.fileno()
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and key in obj:
                return obj, seen + buf
            seen += line + b"\n"
    raise TimeoutError(f"no JSON line with {key!r}; got {seen[-2000:]!r}")


@dataclass
class EmulatorProc:
    """A running emulator process: its first line (``info``), and after exit the tokens it issued."""

    info: dict[str, Any]
    proc: subprocess.Popen[bytes]
    tokens: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Login and API base of the emulator (``http://127.0.0.1:<port>``)."""
        return str(self.info["base_url"])

    def command(self, line: str, key: str, timeout: float = 10) -> dict[str, Any]:
        """Send one command line (``stats``, ``outage``) and return its JSON answer's *key*."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        answer, _ = read_json_line(self.proc.stdout, timeout, key)
        value: dict[str, Any] = answer[key] if isinstance(answer[key], dict) else answer
        return value

    def env(self, **extra: str) -> dict[str, str]:
        """``GENESYS_PULSE_*`` variables for one fast-probing target on this emulator."""
        env = {
            "GENESYS_PULSE_KIND": "genesys",
            "GENESYS_PULSE_LOGIN_URL": self.info["base_url"],
            "GENESYS_PULSE_API_URL": self.info["base_url"],
            "GENESYS_PULSE_INTERVAL": "0.2",
            "GENESYS_PULSE_TIMEOUT": "0.2",
            "GENESYS_PULSE_WINDOW": "1",
            "GENESYS_CLOUD_CLIENT_ID": self.info["client_id"],
            "GENESYS_CLOUD_CLIENT_SECRET": self.info["client_secret"],
        }
        env.update(extra)
        return env


@contextmanager
def emulator_process(*args: str, startup: float = 20.0) -> Iterator[EmulatorProc]:
    """Run this file as an emulator process (``args``: its options); on exit collect its tokens.

    The process is killed if it has not exited by then; a missing first line
    within ``startup`` seconds raises ``TimeoutError``.
    """
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        info, _ = read_json_line(proc.stdout, startup, "base_url")
        if "--client-secret" in args:  # not printed by the child: the parent knows it
            info["client_secret"] = args[args.index("--client-secret") + 1]
        emu = EmulatorProc(info, proc)
        yield emu
        proc.stdin.close()
        done, _ = read_json_line(proc.stdout, 20, "tokens")
        emu.tokens = list(done["tokens"])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@contextmanager
def cli_emulator(
    *args: str, env: Mapping[str, str] | None = None, startup: float = 30.0
) -> Iterator[dict[str, Any]]:
    """``genesys-pulse emulator --port 0 ARGS`` as a subprocess; yields its JSON line.

    The line holds ``base_url``, ``login_url``, ``api_url``, ``client_id`` and
    ``client_secret``. ``env`` replaces the environment (default: inherited).
    On exit the emulator gets SIGTERM (and is killed if it has not stopped
    within 20 s); a missing line within ``startup`` seconds raises
    ``TimeoutError`` with the tail of its stderr.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "genesys_pulse.cli", "emulator", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            env=None if env is None else dict(env),
        )
        assert proc.stdout is not None
        try:
            try:
                info, _ = read_json_line(proc.stdout, startup, "client_id")
            except TimeoutError as exc:
                err.seek(0)
                raise TimeoutError(f"{exc}; stderr: {err.read()[-2000:]!r}") from None
            yield info
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover - diagnostic path
                proc.kill()
                proc.wait(10)
            proc.stdout.close()


# -- the child process --------------------------------------------------------------------


async def _main(args: argparse.Namespace) -> None:
    import trio

    from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator

    settings = EmulatorSettings(
        token_ttl=args.token_ttl, heartbeat_period=args.heartbeat, seed=args.seed
    )
    issued: list[str] = []

    def stats(emu: Emulator) -> dict[str, Any]:
        return {
            "channels_created": emu.state.channels_created,
            "evicted": list(emu.state.evicted),
        }

    def command(emu: Emulator, line: str) -> None:
        if line == "stats":
            print(json.dumps({"stats": stats(emu)}), flush=True)
        elif line == "outage":
            emu.faults.fail_api(503, count=1_000_000)
            emu.faults.fail_login(503, count=1_000_000)
            emu.faults.hang_upgrades(count=1_000_000)
            emu.faults.close(1011, "outage")
            print(json.dumps({"outage": True}), flush=True)

    def revoke_everything(emu: Emulator) -> None:
        emu.state.tokens.clear()
        for ch in list(emu.state.channels.values()):
            emu.state.remove_channel(ch, "expired")

    async with open_emulator(
        settings=settings, client_id=args.client_id, client_secret=args.client_secret
    ) as emu:
        original = emu.state.issue_token

        def issue_token(client_id: str, now: float) -> Any:
            token = original(client_id, now)
            issued.append(token.value)
            return token

        emu.state.issue_token = issue_token  # type: ignore[method-assign]
        first: dict[str, Any] = {"base_url": emu.base_url, "client_id": emu.client_id}
        if args.client_secret is None:
            first["client_secret"] = emu.client_secret  # made up here: the parent needs it
        print(json.dumps(first), flush=True)

        async def closer() -> None:
            while True:
                await trio.sleep(args.close_every)
                emu.faults.close(1011, "test restart")

        async def chaos() -> None:
            step = 0
            while True:
                await trio.sleep(args.chaos_every)
                step += 1
                what = step % 4
                if what == 0:
                    emu.faults.reset()  # TCP reset: reconnects
                elif what == 1:
                    emu.faults.close(1011, "test restart")
                elif what == 2:
                    revoke_everything(emu)  # REST 401, re-login
                else:
                    emu.faults.fail_login(429, count=1, retry_after=1)
                    revoke_everything(emu)

        async with trio.open_nursery() as nursery:
            if args.close_every:
                nursery.start_soon(closer)
            if args.chaos_every:
                nursery.start_soon(chaos)
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            buf = b""
            while chunk := await stdin.receive_some(1024):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    command(emu, line.decode().strip())
            nursery.cancel_scope.cancel()
        print(json.dumps({"tokens": issued, **stats(emu)}), flush=True)


if __name__ == "__main__":
    import trio

    p = argparse.ArgumentParser()
    p.add_argument("--client-id", default=None)
    p.add_argument("--client-secret", default=None)
    p.add_argument("--token-ttl", type=int, default=86400)
    p.add_argument("--heartbeat", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--close-every", type=float, default=0.0)
    p.add_argument("--chaos-every", type=float, default=0.0)
    trio.run(_main, p.parse_args())
