"""The health endpoint (``/livez``, ``/readyz``) answered over real loopback HTTP (httpx).

Three kinds of test:

* real ``genesys-pulse run`` processes: a healthy emulator run (live, ready,
  404/405/HEAD, oversized and stalled requests), a target that can never
  log in (the emulator's ``login-fail`` fault) and a WebSocket target on a
  refused port -- both make ``/readyz`` answer 503 naming the target and the
  reason; a port already in use is one clear line;
* in-process: the monitor's trio loop is blocked on purpose (``time.sleep``
  in a task) while a client in a thread asks ``/livez``: the request made
  during the stall gets no answer, and once the loop runs again ``/livez``
  says 503 "stalled" with the measured lag;
* the pure decisions (:mod:`genesys_pulse.core._health`) on hand-made snapshots.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from genesys_pulse.cli import _health
from genesys_pulse.core import HealthSnapshot, TargetHealth, liveness, readiness
from genesys_pulse.core.config import ConfigErrors, parse_config, parse_listen, with_credentials
from genesys_pulse.emulator import open_emulator
from genesys_pulse.monitor import run_monitor

WAIT = 60.0  # upper bound of every poll (a loaded CI machine); never asserted on


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_process(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesys_pulse.cli", "run", "--output", "jsonl", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=full_env,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover - diagnostic path
                proc.kill()
                proc.wait()


def poll(url: str, until: Any, timeout: float = WAIT) -> httpx.Response:
    """GET ``url`` until ``until(response)`` holds (bounded); return that response."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=5.0)
        except httpx.TransportError as exc:
            last = exc
        else:
            last = r
            if until(r):
                return r
        time.sleep(0.2)
    raise AssertionError(f"{url}: condition never held; last answer {last!r}")


def test_live_and_ready_on_an_emulator_run() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with run_process("--emulator", "--health-listen", str(port)) as proc:  # bare port: loopback
        ready = poll(base + "/readyz", lambda r: r.status_code == 200)
        body = ready.json()
        assert body["status"] == "ready"
        assert body["targets"]["emulated-target"]["state"] == "connected"
        assert body["targets"]["emulated-target"]["ready"] is True
        assert ready.headers["content-type"] == "application/json"

        live = httpx.get(base + "/livez", timeout=5.0)
        assert live.status_code == 200, live.text
        assert live.json()["status"] == "alive"

        head = httpx.head(base + "/readyz", timeout=5.0)
        assert head.status_code == 200 and head.content == b""
        assert httpx.get(base + "/livez?verbose=1", timeout=5.0).status_code == 200

        for path in ("/", "/metrics", "/livez/", "/readyzz", "/livez/x", "//livez"):
            assert httpx.get(base + path, timeout=5.0).status_code == 404, path
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            r = httpx.request(method, base + "/livez", timeout=5.0)
            assert r.status_code == 405, method
            assert r.headers["allow"] == "GET, HEAD"

        # a request head beyond the bound is refused, not buffered
        big = httpx.get(base + "/livez", headers={"x-pad": "a" * 20_000}, timeout=5.0)
        assert big.status_code == 431

        # a bare port binds loopback only: the kernel's table of listening sockets says so
        assert listening_addresses(port) == {"127.0.0.1"}
        assert proc.poll() is None


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found: set[str] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, _, hexport = local.partition(":")
                if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                    if len(addr) == 8:
                        found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1]))
                    else:
                        found.add("ipv6:" + addr)
    return found


def test_silent_client_is_cut_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that connects and sends nothing holds the server for at most the deadline."""
    monkeypatch.setattr(_health, "REQUEST_DEADLINE", 0.5)

    async def main() -> None:
        listeners = await _health.open_health_listeners("127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(_health.serve_health, listeners, lambda: None)
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            with trio.fail_after(WAIT):
                data = await stream.receive_some(100)  # EOF once the server gives up
            assert data == b""
            await stream.aclose()
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_garbage_and_too_many_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not HTTP: 400. Beyond the connection bound: closed at once, while the others are served."""
    monkeypatch.setattr(_health, "MAX_CONNECTIONS", 2)
    # long enough that an early close of the extra connection can only be the bound
    monkeypatch.setattr(_health, "REQUEST_DEADLINE", 30.0)

    async def main() -> None:
        listeners = await _health.open_health_listeners("127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(_health.serve_health, listeners, lambda: None)
            with trio.fail_after(WAIT):
                bad = await trio.open_tcp_stream("127.0.0.1", port)
                await bad.send_all(b"NOT HTTP AT ALL\r\n\r\n")
                answer = b""
                while chunk := await bad.receive_some(4096):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 400 "), answer
                await bad.aclose()

                silent = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(2)]
                # accepted in connection order (the kernel's accept queue), so these two
                # hold both slots before the next one is accepted
                extra = await trio.open_tcp_stream("127.0.0.1", port)
                assert await extra.receive_some(100) == b""  # closed without an answer
                await extra.aclose()
                await silent[0].send_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
                first = await silent[0].receive_some(4096)
                assert first.startswith(b"HTTP/1.1 200 "), first
                for s in silent:
                    await s.aclose()
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_target_that_cannot_log_in_is_not_ready() -> None:
    """Emulator fault: every login fails -> the target never connects -> 503 with the reason."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with run_process(
        "--emulator",
        "--fault",
        "login-fail=503:1000000",
        "--health-listen",
        f"127.0.0.1:{port}",
    ):
        r = poll(
            base + "/readyz",
            lambda r: (
                r.status_code == 503
                and r.json().get("targets", {}).get("emulated-target", {}).get("last_backoff")
            ),
        )
        body = r.json()
        assert body["status"] == "not_ready"
        target = body["targets"]["emulated-target"]
        assert target["ready"] is False and target["ever_connected"] is False
        assert target["reason"].startswith("never connected; last attempt failed")
        assert "emulated-target" in body["reason"]
        # the loop itself is fine
        assert httpx.get(base + "/livez", timeout=5.0).status_code == 200


def test_refused_port_is_not_ready_while_the_other_target_is(tmp_path: Path) -> None:
    """A WebSocket target on a port nobody listens on: 503 naming it; the good target is ready."""
    port = free_port()
    dead = free_port()  # bound and released: connecting is refused
    config = tmp_path / "pulse.toml"
    config.write_text(
        f'health_listen = "127.0.0.1:{port}"\n'
        "[[targets]]\n"
        'id = "emulated-target"\n'
        'kind = "genesys"\n'
        'environment = "mypurecloud.com"\n'
        "[[targets]]\n"
        'id = "refused-target"\n'
        'kind = "websocket"\n'
        f'url = "ws://127.0.0.1:{dead}/"\n'
    )
    base = f"http://127.0.0.1:{port}"
    with run_process("--emulator", "--config", str(config)):
        r = poll(
            base + "/readyz",
            lambda r: (
                r.status_code == 503
                and r.json().get("targets", {}).get("emulated-target", {}).get("state")
                == "connected"
                and "last_backoff" in r.json().get("targets", {}).get("refused-target", {})
            ),
        )
        body = r.json()
        refused = body["targets"]["refused-target"]
        assert refused["ready"] is False
        assert refused["state"] in ("backoff", "connecting")
        assert "connect_failed" in refused["last_backoff"]
        assert "refused-target" in body["reason"] and "emulated-target" not in body["reason"]
        assert body["targets"]["emulated-target"]["ready"] is True


def test_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with run_process("--emulator", "--health-listen", f"127.0.0.1:{port}") as proc:
            _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert f"health_listen 127.0.0.1:{port}: cannot listen" in lines[0]


def test_bad_health_listen_names_the_option() -> None:
    with run_process("--emulator", "--health-listen", "example.com:80") as proc:
        _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 2
    assert "--health-listen" in err.decode() and "HOST:PORT" in err.decode()


async def test_stalled_loop_fails_livez() -> None:
    """Block the monitor's event loop on purpose; /livez cannot answer, then reports the lag."""
    listeners = await _health.open_health_listeners("127.0.0.1", 0)
    port = listeners[0].socket.getsockname()[1]
    url = f"http://127.0.0.1:{port}/livez"
    async with open_emulator() as emulator, trio.open_nursery() as nursery:
        config = with_credentials(
            parse_config(
                {
                    "targets": [
                        {"id": "target-aa", "kind": "genesys", "environment": "mypurecloud.com"}
                    ]
                }
            ),
            emulator.client_id,
            emulator.client_secret,
            emulator.login_url,
            emulator.api_url,
        )
        monitor = await nursery.start(
            lambda task_status: run_monitor(
                config, connector=emulator.connector, task_status=task_status
            )
        )
        await nursery.start(_health.serve_health, listeners, monitor.health_snapshot)

        def get(timeout: float) -> httpx.Response | Exception:
            try:
                return httpx.get(url, timeout=timeout)
            except httpx.TransportError as exc:
                return exc

        healthy = await trio.to_thread.run_sync(get, 10.0)
        assert isinstance(healthy, httpx.Response) and healthy.status_code == 200, healthy

        # a client asks while the loop is blocked: it gets no answer within its timeout
        during: list[httpx.Response | Exception] = []
        started = trio.Event()
        token = trio.lowlevel.current_trio_token()

        def client_during_stall() -> None:
            trio.from_thread.run_sync(started.set, trio_token=token)
            time.sleep(0.3)  # the loop is blocked by now
            during.append(get(0.5))

        async def stall_loop() -> None:
            await started.wait()
            time.sleep(2.5)  # noqa: ASYNC251 - deliberately block the trio loop

        async with trio.open_nursery() as inner:
            inner.start_soon(stall_loop)
            inner.start_soon(trio.to_thread.run_sync, client_during_stall)
        assert isinstance(during[0], httpx.TimeoutException), during

        after = await trio.to_thread.run_sync(get, 10.0)
        assert isinstance(after, httpx.Response), after
        assert after.status_code == 503, after.text
        body = after.json()
        assert body["status"] == "stalled"
        assert body["loop_lag_s"] > body["max_lag_s"]
        assert "event-loop lag" in body["reason"]
        nursery.cancel_scope.cancel()


def test_decisions_on_snapshots() -> None:
    def snap(*targets: TargetHealth, started: bool = True, **kw: Any) -> HealthSnapshot:
        return HealthSnapshot(now=100.0, started=started, targets=targets, **kw)

    ok, body = readiness(snap(started=False))
    assert not ok and body["status"] == "starting"

    connected = TargetHealth("target-aa", "connected", True)
    outage = TargetHealth("target-bb", "backoff", True, "closed", "", 3.0)
    first = TargetHealth("target-cc", "connecting", False)
    failing = TargetHealth("target-dd", "backoff", False, "connect_failed", "ConnectError", 2.0)
    stopped = TargetHealth("target-ee", "auth_refused", True, failure="invalid_client")

    assert readiness(snap(connected, outage))[0]
    for bad, reason in (
        (first, "first connection attempt"),
        (failing, "connect_failed (ConnectError)"),
        (stopped, "invalid_client"),
    ):
        ok, body = readiness(snap(connected, bad, shard=(1, 3)))
        assert not ok
        assert reason in body["targets"][bad.id]["reason"]
        assert bad.id in body["reason"] and body["shard"] == "1/3"
    assert readiness(snap(failing))[1]["targets"]["target-dd"]["retry_in_s"] == 2.0

    assert liveness(snap(lag_now=0.2))[0]
    assert not liveness(snap(max_recent_lag=1.5))[0]
    assert not liveness(snap(lag_now=3.0), max_lag=2.0)[0]


def test_health_listen_key_and_env() -> None:
    base = {"targets": [{"id": "target-aa", "kind": "websocket", "url": "ws://127.0.0.1:1/"}]}
    assert parse_config({**base, "health_listen": "127.0.0.1:9464"}).health_listen == (
        "127.0.0.1",
        9464,
    )
    env = {"GENESYS_PULSE_HEALTH_LISTEN": "[::1]:8080"}
    assert parse_config(base, env).health_listen == ("::1", 8080)
    assert parse_listen("localhost:0") == ("localhost", 0)
    assert parse_listen("9464") == ("127.0.0.1", 9464)
    for bad in ("example.com:80", "127.0.0.1", "::1:80", "127.0.0.1:70000", "[1.2.3.4]:1", 9464):
        with pytest.raises(ConfigErrors) as info:
            parse_config({**base, "health_listen": bad})
        assert info.value.errors[0].field == "health_listen"
