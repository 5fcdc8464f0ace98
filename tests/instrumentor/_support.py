"""Subprocess helpers: an emulator process, a host under ``opentelemetry-instrument``."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP = ROOT / "examples" / "web_service" / "app.py"


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
    info: dict[str, Any]
    proc: subprocess.Popen[bytes]
    tokens: list[str] = field(default_factory=list)

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
def emulator_process(*args: str) -> Iterator[EmulatorProc]:
    """Run ``_emulator_proc.py``; on exit collect the tokens it issued."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_emulator_proc.py")), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        info, _ = read_json_line(proc.stdout, 20, "base_url")
        emu = EmulatorProc(info, proc)
        yield emu
        proc.stdin.close()
        done, _ = read_json_line(proc.stdout, 10, "tokens")
        emu.tokens = list(done["tokens"])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def otel_env(endpoint: str, **extra: str) -> dict[str, str]:
    """OTel variables for fast export over http/protobuf to *endpoint*."""
    env = {
        "OTEL_SERVICE_NAME": "web-service-example",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
    }
    env.update(extra)
    return env


@dataclass
class Host:
    proc: subprocess.Popen[bytes]
    port: int
    stdout: bytes = b""
    stderr: bytes = b""

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            body: bytes = r.read()
            return body

    def threads(self) -> list[str]:
        names: list[str] = json.loads(self.get("/threads"))
        return names


@contextmanager
def instrumented_host(
    env: Mapping[str, str], *, instrument: bool = True, venv: Path | None = None
) -> Iterator[Host]:
    """Run the example web service (under ``opentelemetry-instrument``); SIGTERM it on exit.

    ``venv``: run it with that virtualenv's interpreter and ``opentelemetry-instrument``
    (a host's own environment) instead of the test's.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
    base.update(env)
    base["PYTHONUNBUFFERED"] = "1"
    bin_dir = BIN if venv is None else venv / "bin"
    python = sys.executable if venv is None else str(bin_dir / "python")
    cmd = [python, str(APP), "--port", "0"]
    if instrument:
        cmd = [str(bin_dir / "opentelemetry-instrument"), *cmd]
    proc = subprocess.Popen(
        cmd, env=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT)
    )
    assert proc.stdout is not None and proc.stderr is not None
    host: Host | None = None
    try:
        info, early = read_json_line(proc.stdout, 30, "port")
        host = Host(proc, int(info["port"]), stdout=early)
        yield host
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=5)
        if host is not None:
            host.stdout += out
            host.stderr = err
