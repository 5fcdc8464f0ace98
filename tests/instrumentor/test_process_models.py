"""Issue 15, acceptance 2: exactly one monitor per host, whatever the process model.

Each case runs a real server or program that knows nothing about genesys-pulse
under the host's ``opentelemetry-instrument`` (so the plugin loads in every one
of its processes), against an emulator in its own process and a real OTLP/HTTP
receiver. It counts:

* the probing monitors: the notification channels created in the emulator
  (each monitor creates one when it starts; nothing rotates within a case);
* the exported series identities: distinct (resource, ``genesys.monitor.instance``)
  pairs over every ``genesys.*`` metric point received -- a forked worker that
  re-exported its parent's series would add its own resource (the SDK adds the
  pid after a fork) or report stale values;

then takes Genesys down (sockets closed, REST 503, upgrades hang) and checks that
every ``connection.state`` point exported after that is 0: no process reports
the connection up while it is down. Every case is bounded (about 10-20 s).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from opentelemetry.test._otlp_test_server import OtlpProtoTestServer, RecordedMetric

from ._support import BIN, ROOT, emulator_process, otel_env

APPS = Path(__file__).resolve().parent / "apps"
CONNECTION_STATE = "genesys.websocket.connection.state"
INSTANCE = "genesys.monitor.instance"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _value(v: object) -> object:
    return getattr(v, v.WhichOneof("value"))  # type: ignore[attr-defined]


def _points(m: RecordedMetric) -> list[object]:
    data = getattr(m.metric, m.metric.WhichOneof("data"))
    return list(data.data_points)


def _attrs(kvs: object) -> dict[str, object]:
    return {kv.key: _value(kv.value) for kv in kvs}  # type: ignore[attr-defined]


@dataclass
class Received:
    """Every metric the receiver got, in arrival order."""

    server: OtlpProtoTestServer
    metrics: list[RecordedMetric] = field(default_factory=list)

    def pull(self, seconds: float) -> list[RecordedMetric]:
        """Collect for *seconds*; return what arrived meanwhile."""
        new: list[RecordedMetric] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                new.append(self.server.get_metric(timeout=min(left, 0.5)))
            except TimeoutError:
                continue
        self.metrics += new
        return new

    def wait_for(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m.metric.name == name for m in self.pull(0.5)):
                return
        raise TimeoutError(f"no {name} exported")

    def identities(self) -> set[tuple[object, ...]]:
        out: set[tuple[object, ...]] = set()
        for m in self.metrics:
            if not m.metric.name.startswith("genesys."):
                continue
            resource = tuple(sorted(_attrs(m.resource.attributes).items()))
            for p in _points(m):
                out.add((resource, _attrs(p.attributes).get(INSTANCE)))  # type: ignore[attr-defined]
        return out


@dataclass
class Case:
    argv: Callable[[int], list[str]]
    http: bool
    recycle: bool = False
    more_workers: bool = False
    """Send gunicorn's master SIGTTIN once probing: one more worker, forked from a
    master that has been measuring for a while (what a fork right at start-up,
    before anything was recorded, would not show)."""
    reload: bool = False
    """Touch the Django site's module once probing: the autoreloader restarts its server."""


CASES: dict[str, Case] = {
    "gunicorn-sync": Case(
        lambda port: [
            str(BIN / "gunicorn"), "-w", "3", "-b", f"127.0.0.1:{port}", "--chdir", str(APPS),
            "wsgi:app",
        ],
        http=True,
        more_workers=True,
    ),
    "gunicorn-preload": Case(
        lambda port: [
            str(BIN / "gunicorn"), "-w", "3", "--preload", "-b", f"127.0.0.1:{port}",
            "--chdir", str(APPS), "wsgi:app",
        ],
        http=True,
        more_workers=True,
    ),
    "gunicorn-max-requests": Case(
        lambda port: [
            str(BIN / "gunicorn"), "-w", "2", "--max-requests", "3", "-b", f"127.0.0.1:{port}",
            "--chdir", str(APPS), "wsgi:app",
        ],
        http=True,
        recycle=True,
    ),
    "uvicorn-workers": Case(
        lambda port: [
            str(BIN / "uvicorn"), "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
            "--app-dir", str(APPS), "--log-level", "warning", "asgi:app",
        ],
        http=True,
    ),
    "multiprocessing-fork": Case(
        lambda _: [sys.executable, str(APPS / "mp.py"), "fork", "40"], http=False
    ),
    "multiprocessing-spawn": Case(
        lambda _: [sys.executable, str(APPS / "mp.py"), "spawn", "40"], http=False
    ),
    "multiprocessing-forkserver": Case(
        lambda _: [sys.executable, str(APPS / "mp.py"), "forkserver", "40"], http=False
    ),
    "autoreloader": Case(
        lambda _: [sys.executable, str(APPS / "reloader.py"), "40"], http=False
    ),
    "django-runserver": Case(
        lambda port: [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}"],
        http=True,
        reload=True,
    ),
}  # fmt: skip


@contextmanager
def host(case: Case, env: dict[str, str], out: Path) -> Iterator[tuple[int, int, Path, Path]]:
    """Run *case* under opentelemetry-instrument in its own session; kill the session at the end."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
    base.update(env)
    base["PYTHONUNBUFFERED"] = "1"
    base["DJANGO_SETTINGS_MODULE"] = "djsite"
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APPS), base.get("PYTHONPATH")]))
    stdout, stderr = out / "stdout", out / "stderr"
    with stdout.open("wb") as o, stderr.open("wb") as e:
        proc = subprocess.Popen(
            [str(BIN / "opentelemetry-instrument"), *case.argv(port)],
            env=base,
            stdout=o,
            stderr=e,
            cwd=str(ROOT),
            start_new_session=True,
        )
    try:
        yield proc.pid, port, stdout, stderr  # opentelemetry-instrument execs the command
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the session
        except ProcessLookupError:
            pass
        proc.wait(5)


def wait_ready(case: Case, port: int, stdout: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if case.http:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
        elif any(
            json.loads(line).get("ready")
            for line in stdout.read_text().splitlines()
            if line.startswith("{")
        ):
            return
        time.sleep(0.2)
    raise TimeoutError("the host did not become ready")


def peer_ports(pid: int) -> list[int]:
    """The remote ports of process *pid*'s TCP connections (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[9] in inodes:
                    ports.append(int(cols[2].rsplit(":", 1)[1], 16))
    return ports


def requests_or_none(port: int) -> set[str] | None:
    """The pid that answers one request, or ``None`` while the server restarts."""
    try:
        return requests(port, 1)
    except OSError:
        return None


def requests(port: int, n: int) -> set[str]:
    """n requests; the pids of the workers that answered."""
    pids = set()
    for _ in range(n):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            pids.add(r.read().decode().strip())
    return pids


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_monitor_one_series_and_the_outage_in_every_point(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    with OtlpProtoTestServer() as otlp, emulator_process() as emu:
        received = Received(otlp)
        env = {
            **emu.env(GENESYS_PULSE_LOCK_DIR=str(tmp_path)),
            **otel_env(f"http://127.0.0.1:{otlp.port}", OTEL_SERVICE_NAME=f"procmodel-{name}"),
        }
        with host(case, env, tmp_path) as (pid, port, stdout, stderr):
            wait_ready(case, port, stdout)
            received.wait_for("genesys.websocket.ping.rtt", timeout=30)
            if case.more_workers:
                os.kill(pid, signal.SIGTTIN)
                received.pull(1.5)
            if case.reload:
                served_by = requests(port, 1)
                os.utime(APPS / "djsite.py")
                deadline = time.monotonic() + 20
                while (now := requests_or_none(port)) is None or now == served_by:
                    assert time.monotonic() < deadline, "the server was not reloaded"
                    received.pull(0.5)
            if case.http:
                workers = requests(port, 20)
                if case.recycle:
                    assert len(workers) > 2, workers  # workers were re-forked meanwhile
                # no worker keeps a copy of the monitor's connections (CLOSE-WAIT later)
                emu_port = int(emu.info["base_url"].rsplit(":", 1)[1].strip("/"))
                assert emu_port in peer_ports(pid)  # the probing process is connected
                for worker in workers - {str(pid)}:
                    try:
                        assert emu_port not in peer_ports(int(worker)), worker
                    except FileNotFoundError:
                        pass  # recycled meanwhile (--max-requests)
            received.pull(2.0)  # several exports of every process
            stats = emu.command("stats", "stats")
            probing = stats["channels_created"]
            emu.command("outage", "outage")
            received.pull(3.0)  # the monitor sees the close; state 0 from now on
            after = received.pull(2.5)
        err = stderr.read_text(errors="replace")
    assert probing == 1, f"{probing} monitors probed\n{err[-3000:]}"
    identities = received.identities()
    assert len(identities) == 1, identities
    ((_resource, instance),) = identities
    assert isinstance(instance, str) and instance.rsplit(":", 1)[1].isdigit(), instance
    states = [_value(p) for m in after if m.metric.name == CONNECTION_STATE for p in _points(m)]
    assert states, "no connection.state exported during the outage"
    assert set(states) == {0}, states
    assert "Traceback" not in err, err[-3000:]
    assert "genesys-pulse" not in "\n".join(line for line in err.splitlines() if "ERROR" in line), (
        err[-3000:]
    )


def test_a_standing_by_process_takes_over_when_the_holder_dies(tmp_path: Path) -> None:
    """SIGKILL the probing process (no exit hook runs): the kernel releases its lock and
    one of the standing-by spawned processes takes over -- one new monitor, not several."""
    case = CASES["multiprocessing-spawn"]
    with OtlpProtoTestServer() as otlp, emulator_process() as emu:
        received = Received(otlp)
        env = {
            **emu.env(GENESYS_PULSE_LOCK_DIR=str(tmp_path)),
            **otel_env(f"http://127.0.0.1:{otlp.port}", OTEL_SERVICE_NAME="procmodel-takeover"),
        }
        with host(case, env, tmp_path) as (pid, port, stdout, _stderr):
            wait_ready(case, port, stdout)
            received.wait_for("genesys.websocket.ping.rtt", timeout=30)
            assert emu.command("stats", "stats")["channels_created"] == 1
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while emu.command("stats", "stats")["channels_created"] < 2:
                assert time.monotonic() < deadline, "nobody took over"
                time.sleep(0.3)
            received.pull(0.6)  # what the dead holder had in flight
            received.metrics.clear()
            received.wait_for("genesys.websocket.ping.rtt", timeout=20)
            received.pull(2.0)
            after = {i for _, i in received.identities()}
            assert emu.command("stats", "stats")["channels_created"] == 2  # one successor
    (successor,) = after  # exactly one monitor exports
    assert not str(successor).endswith(f":{pid}")  # ... and it reports as itself
