"""Fixtures: a real HTTP proxy for the tests, tinyproxy (Debian package), on loopback.

``make proxy-tools`` installs it (``make test`` runs that target). Without
it the tests skip on a developer machine and fail in CI (``CI=true``).

Each :class:`Tinyproxy` is one ``tinyproxy -d`` process with its own
configuration file, listening on 127.0.0.1 only, and stopped (by its pid)
when the test ends. Its log shows every ``CONNECT`` it received, so a test
can tell that a connection really went through it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

STARTUP_LIMIT = 10.0
"""Seconds for tinyproxy to start listening (bounded wait, no speed assertion)."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _binary() -> str:
    path = shutil.which("tinyproxy") or (
        "/usr/bin/tinyproxy" if os.access("/usr/bin/tinyproxy", os.X_OK) else None
    )
    if path is None:
        reason = "tinyproxy is not installed (run `make proxy-tools`)"
        if _in_ci():
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tinyproxy:
    """A running tinyproxy."""

    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def connects(self, target: str) -> int:
        """How many ``CONNECT target`` requests the proxy received so far."""
        return self.log_text().count(f"CONNECT {target} HTTP/1.1")


def _start(binary: str, directory: Path, lines: list[str]) -> Tinyproxy:
    port = _free_port()
    conf = directory / f"tinyproxy-{port}.conf"
    log = directory / f"tinyproxy-{port}.log"
    conf.write_text(
        "\n".join(
            [
                f"Port {port}",
                "Listen 127.0.0.1",
                "Timeout 30",
                "MaxClients 50",
                "LogLevel Info",
                "Allow 127.0.0.1",
                *lines,
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [binary, "-d", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tinyproxy exited with {proc.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return Tinyproxy(port, log, proc)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    raise RuntimeError(f"tinyproxy did not listen within {STARTUP_LIMIT:g} s")


ProxyFactory = Callable[..., Tinyproxy]


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[ProxyFactory]:
    """Start tinyproxy processes: ``tinyproxy(basic_auth=("u", "p"), connect_ports=[443])``."""
    binary = _binary()
    started: list[Tinyproxy] = []

    def start(
        *, basic_auth: tuple[str, str] | None = None, connect_ports: list[int] | None = None
    ) -> Tinyproxy:
        lines = []
        if basic_auth is not None:
            lines.append(f"BasicAuth {basic_auth[0]} {basic_auth[1]}")
        # no ConnectPort line: CONNECT to any port (the emulator's is random)
        lines += [f"ConnectPort {p}" for p in connect_ports or ()]
        for attempt in range(3):  # the free port may be taken between probe and bind
            try:
                proxy = _start(binary, tmp_path, lines)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.process.terminate()
        try:
            proxy.process.wait(5)
        except subprocess.TimeoutExpired:
            proxy.process.kill()
            proxy.process.wait(5)


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return _free_port()
