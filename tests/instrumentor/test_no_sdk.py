"""The plugin without the SDK: what a host gets from a plain install of the package (no extra).

These tests run in the project's test environment and in the ``bare`` nox
session (the package installed alone, no extras, no distro: exactly the
install the issue describes). Where the SDK *is* installed, "absent" is
made real for the child process by a meta-path finder that refuses the
SDK's modules, as an environment without them would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from ._support import emulator_process, instrumented_host

SDK_MODULES = ("opentelemetry.sdk", "opentelemetry.exporter", "grpc", "google.protobuf")

BLOCK_SDK = f"""
import importlib.abc, sys
class _NoSdk(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith({SDK_MODULES!r}):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NoSdk())
"""

LIBRARY_RUN = """
import json, os, sys, time
import genesys_pulse, genesys_pulse.core, genesys_pulse.transport, genesys_pulse.genesys
import genesys_pulse.monitor, genesys_pulse.telemetry, genesys_pulse.emulator, genesys_pulse.cli
from genesys_pulse.instrumentor import GenesysPulseInstrumentor
inst = GenesysPulseInstrumentor()
inst.instrument()
journal = os.environ["GENESYS_PULSE_JOURNAL_PATH"]
deadline = time.monotonic() + 30
seen = ""
while time.monotonic() < deadline and "connection.established" not in seen:
    time.sleep(0.1)
    seen = open(journal).read() if os.path.exists(journal) else ""
inst.uninstrument()
print(json.dumps({
    "connected": "connection.established" in seen,
    "loaded": sorted(m for m in sys.modules if m.startswith(SDK_MODULES)),
}))
""".replace("SDK_MODULES", repr(SDK_MODULES))


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
    env.update(extra)
    return env


def test_library_and_instrumentor_never_import_the_sdk(tmp_path: Path) -> None:
    """Import every library package and run the instrumentor against the emulator:
    not one SDK, exporter, gRPC or protobuf module is loaded."""
    with emulator_process() as emu:
        env = _clean_env(**emu.env(GENESYS_PULSE_JOURNAL_PATH=str(tmp_path / "j.jsonl")))
        res = subprocess.run(
            [sys.executable, "-c", LIBRARY_RUN],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
        )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    assert out["connected"], res.stderr  # the monitor really ran
    assert out["loaded"] == []


def _cli(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    sdk_installed = importlib.util.find_spec("opentelemetry.sdk") is not None
    prelude = BLOCK_SDK if sdk_installed else ""
    main = "from genesys_pulse.cli import main; raise SystemExit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", prelude + "\nimport sys\n" + main, *code.split()],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )


def test_cli_without_sdk_says_in_one_line_what_to_install() -> None:
    env = _clean_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    res = _cli("run --emulator --duration 1s --output jsonl", env)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""  # nothing started
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "pip install 'genesys-pulse[cli]'" in lines[0]


def test_cli_without_sdk_runs_with_json_lines_only() -> None:
    res = _cli("run --emulator --duration 2s --output jsonl", _clean_env())
    assert res.returncode == 0, res.stderr
    kinds = {json.loads(line)["type"] for line in res.stdout.splitlines() if line.strip()}
    assert {"sample", "summary"} <= kinds


def test_no_sdk_providers_one_warning_says_where_telemetry_goes() -> None:
    """Under ``opentelemetry-instrument`` with no configurator (no distro), the host
    starts, the monitor runs, and one WARNING says telemetry goes nowhere."""
    no_configurator = {"OTEL_PYTHON_DISTRO": "none", "OTEL_PYTHON_CONFIGURATOR": "none"}
    with emulator_process() as emu:
        with instrumented_host({**emu.env(), **no_configurator}) as host:
            assert host.get("/") == b"hello\n"
            assert "genesys-pulse-monitor" in host.threads()
        assert host.proc.returncode == 0
    warnings = [line for line in host.stderr.decode().splitlines() if "genesys-pulse" in line]
    assert len(warnings) == 1, host.stderr.decode()
    assert "goes nowhere" in warnings[0]
    assert "pip install opentelemetry-distro" in warnings[0]
    assert "OTEL_SDK_DISABLED=true" in warnings[0]


def test_otel_sdk_disabled_makes_the_plugin_inert() -> None:
    with emulator_process() as emu:
        with instrumented_host({**emu.env(), "OTEL_SDK_DISABLED": "true"}) as host:
            assert host.get("/") == b"hello\n"
            assert "genesys-pulse-monitor" not in host.threads()
        assert host.proc.returncode == 0
    assert emu.tokens == []  # it never even logged in
    assert b"Traceback" not in host.stderr
