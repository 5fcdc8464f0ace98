"""The systemd unit (``systemd-analyze verify``) and the notify protocol of a real process.

``systemd-analyze verify`` refuses a unit whose ``ExecStart`` binary does not
exist, and the shipped unit names the install location
(``/opt/genesys-pulse/bin/genesys-pulse``). The test verifies a copy whose
only change is ``ExecStart`` pointing at this virtualenv's real
``genesys-pulse`` (asserted: nothing else differs), and treats any warning
(an unknown key, a bad value) as a failure, since verify itself exits 0 on
those.

The notify tests start ``genesys-pulse run --emulator`` with
``NOTIFY_SOCKET`` set to a datagram socket the test owns -- a filesystem path
and an abstract name -- and read what systemd would read.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import trio

from genesys_pulse.cli._sdnotify import Notifier, watchdog_interval

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "genesys-pulse.service"
INSTALLED = "/opt/genesys-pulse/bin/genesys-pulse"
WAIT = 60.0


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (make deploy-tools installs it)")
        pytest.skip("systemd-analyze not installed (run `make deploy-tools`)")
    return found


def _venv_binary() -> str:
    exe = Path(sys.executable).parent / "genesys-pulse"
    assert exe.is_file() and os.access(exe, os.X_OK), exe
    return str(exe)


def _copy_for_verify(tmp_path: Path, text: str) -> Path:
    unit = tmp_path / "genesys-pulse.service"
    unit.write_text(text.replace(INSTALLED, _venv_binary()))
    original = [ln for ln in text.splitlines() if INSTALLED not in ln]
    copied = [ln for ln in unit.read_text().splitlines() if _venv_binary() not in ln]
    assert original == copied  # only ExecStart changed
    return unit


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = _systemd_analyze()
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED} run" in text
    unit = _copy_for_verify(tmp_path, text)
    done = subprocess.run(
        [tool, "verify", str(unit)], capture_output=True, text=True, timeout=WAIT, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" and done.stdout.strip() == "", done.stderr + done.stdout
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "EnvironmentFile=/etc/genesys-pulse/credentials.env",
    ):
        assert line in text, line


def test_verify_catches_a_bad_key(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is reported (on stderr, exit status 0)."""
    tool = _systemd_analyze()
    unit = _copy_for_verify(tmp_path, UNIT.read_text().replace("WatchdogSec=", "WatchdogSecs="))
    done = subprocess.run(
        [tool, "verify", str(unit)], capture_output=True, text=True, timeout=WAIT, cwd=tmp_path
    )
    assert "WatchdogSecs" in done.stderr


def test_unit_exposure_is_low(tmp_path: Path) -> None:
    """``systemd-analyze security`` scores the hardening (0 = best, 10 = none); require <= 2."""
    tool = _systemd_analyze()
    unit = _copy_for_verify(tmp_path, UNIT.read_text())
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr


def _listen(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(1.0)
    return sock


def _receive(sock: socket.socket, until: str, seen: list[str], deadline: float) -> None:
    """Collect datagrams into ``seen`` until one containing ``until`` arrives (bounded)."""
    while time.monotonic() < deadline:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        seen.append(data.decode())
        if until in seen[-1]:
            return
    raise AssertionError(f"no {until!r} before the deadline; received {seen!r}")


def _run(env_extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
    env.pop("NOTIFY_SOCKET", None)
    env.update(env_extra)
    return subprocess.Popen(
        [sys.executable, "-m", "genesys_pulse.cli", "run", "--emulator", "--output", "jsonl"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_notify_protocol_of_a_real_run(tmp_path: Path, kind: str) -> None:
    if kind == "path":
        address = str(tmp_path / "notify.sock")
        env_value = address
    else:
        name = f"genesys-pulse-test-{uuid.uuid4().hex}"
        address = "\0" + name
        env_value = "@" + name
    sock = _listen(address)
    proc = _run({"NOTIFY_SOCKET": env_value, "WATCHDOG_USEC": "400000"})  # pings every 0.2 s
    seen: list[str] = []
    try:
        deadline = time.monotonic() + WAIT
        _receive(sock, "READY=1", seen, deadline)
        ready_at = len(seen)
        while sum("WATCHDOG=1" in m for m in seen[ready_at:]) < 3:
            _receive(sock, "WATCHDOG=1", seen, deadline)
        proc.send_signal(signal.SIGTERM)
        _receive(sock, "STOPPING=1", seen, deadline)
        _, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    assert proc.returncode == 0, err
    ready = next(m for m in seen if "READY=1" in m)
    assert ready.splitlines() == ["READY=1", "STATUS=monitoring 1 target(s)"]
    assert seen.index(ready) < seen.index(next(m for m in seen if "STOPPING=1" in m))
    assert all(m in ("WATCHDOG=1", ready) or "STOPPING=1" in m for m in seen), seen


def test_watchdog_pid_of_another_process_sends_no_pings(tmp_path: Path) -> None:
    """``WATCHDOG_PID`` names someone else: READY and STOPPING, but no WATCHDOG=1."""
    address = str(tmp_path / "notify.sock")
    sock = _listen(address)
    proc = _run(
        {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + WAIT
        _receive(sock, "READY=1", seen, deadline)
        time.sleep(1.0)  # five would-be ping periods
        proc.send_signal(signal.SIGTERM)
        _receive(sock, "STOPPING=1", seen, deadline)
        proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    assert proc.returncode == 0
    assert not any("WATCHDOG" in m for m in seen), seen


def test_watchdog_pings_stop_while_the_loop_is_blocked(tmp_path: Path) -> None:
    """The pings come from the event loop: a blocked loop sends none (so systemd kills it)."""
    address = str(tmp_path / "notify.sock")
    sock = _listen(address)
    sock.setblocking(False)
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address})
    assert notifier is not None

    def drain() -> int:
        n = 0
        while True:
            try:
                sock.recv(64)
            except BlockingIOError:
                return n
            n += 1

    async def main() -> tuple[int, int]:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(notifier.run_watchdog, 0.05)
            await trio.sleep(0.5)
            before = drain()
            time.sleep(1.0)  # noqa: ASYNC251 - block the loop on purpose
            during = drain()
            nursery.cancel_scope.cancel()
        return before, during

    before, during = trio.run(main)
    notifier.close()
    sock.close()
    assert before >= 2
    assert during == 0


def test_notify_socket_parsing() -> None:
    assert Notifier.from_env({}) is None
    assert Notifier.from_env({"NOTIFY_SOCKET": "relative/path"}) is None
    abstract = Notifier.from_env({"NOTIFY_SOCKET": "@name"})
    assert abstract is not None and abstract.address == "\0name"
    abstract.close()
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "2"}, pid=2) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    # sending to a socket nobody listens on is logged, never raised
    lost = Notifier("/nonexistent/notify.sock")
    assert lost.send("READY=1") is False
    lost.close()
