"""``genesys-pulse emulator`` as a subprocess: the JSON line, serving, clean stop."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

STARTUP_LIMIT = 30.0


def _start(*extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "genesys_pulse.cli", "emulator", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _first_line(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            assert line, (
                f"emulator exited: {proc.wait(5)} {proc.stderr.read() if proc.stderr else ''}"
            )
            data: dict[str, str] = json.loads(line)
            return data
        if proc.poll() is not None:
            break
    proc.kill()
    _, err = proc.communicate(timeout=10)
    pytest.fail(f"no JSON line from the emulator (rc={proc.returncode}): {err[-2000:]}")


@pytest.fixture
def running() -> Iterator[subprocess.Popen[str]]:
    proc = _start("--token-ttl", "600", "--heartbeat-period", "5", "--seed", "3")
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_prints_json_line_serves_and_stops_cleanly(
    running: subprocess.Popen[str], signum: int
) -> None:
    info = _first_line(running)
    assert set(info) == {"login_url", "api_url", "client_id", "client_secret", "base_url"}
    assert info["base_url"].startswith("http://127.0.0.1:")
    assert info["login_url"] == info["api_url"] == info["base_url"]

    with httpx.Client(base_url=info["base_url"], timeout=10) as http:
        token = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(info["client_id"], info["client_secret"]),
        )
        assert token.status_code == 200
        assert token.json()["expires_in"] == 600  # --token-ttl applied
        channel = http.post(
            "/api/v2/notifications/channels",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert channel.status_code == 200
        assert channel.json()["connectUri"].startswith("ws://127.0.0.1:")

    running.send_signal(signum)
    out, err = running.communicate(timeout=15)
    assert running.returncode == 0, err
    assert out == ""  # nothing after the one JSON line (already read)
    assert info["client_secret"] not in err


def test_fault_option_is_applied() -> None:
    proc = _start("--fault", "login-fail=503:1")
    try:
        info = _first_line(proc)
        with httpx.Client(base_url=info["base_url"], timeout=10) as http:
            form = {"grant_type": "client_credentials"}
            auth = (info["client_id"], info["client_secret"])
            assert http.post("/oauth/token", data=form, auth=auth).status_code == 503
            assert http.post("/oauth/token", data=form, auth=auth).status_code == 200
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_secret_from_environment() -> None:
    proc = _start(
        "--client-id", "my-client", env={"GENESYS_PULSE_EMULATOR_CLIENT_SECRET": "s3cr3t"}
    )
    try:
        info = _first_line(proc)
        assert info["client_id"] == "my-client"
        assert info["client_secret"] == "s3cr3t"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


@pytest.mark.parametrize(
    "args",
    [
        ["--fault", "no-such-fault"],
        ["--fault", "stall"],
        ["--heartbeat-period", "-1"],
        ["--port", "70000"],
    ],
)
def test_bad_options_exit_2(args: list[str]) -> None:
    proc = _start(*args)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""
    assert err.strip()


def test_scenario_option() -> None:
    proc = _start("--scenario", "calm")
    try:
        info = _first_line(proc)
        assert info["base_url"].startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_unknown_scenario_exits_2() -> None:
    proc = _start("--scenario", "no-such-scenario")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""
    assert "no-such-scenario" in err
