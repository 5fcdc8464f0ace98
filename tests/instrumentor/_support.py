"""Subprocess helpers: a host under ``opentelemetry-instrument``; the emulator process is
the shared one (``tests/_emulator.py``), re-exported here."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _emulator import EmulatorProc, emulator_process, read_json_line

__all__ = [
    "APP",
    "BIN",
    "ROOT",
    "EmulatorProc",
    "Host",
    "emulator_process",
    "instrumented_host",
    "otel_env",
    "read_json_line",
]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
APP = ROOT / "examples" / "web_service" / "app.py"


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
