"""Host fit: genesys-pulse installed into an existing service's virtualenv.

The venv is built by the ``hostfit`` nox session (``make matrix``) from
``host-requirements.txt`` - an older OpenTelemetry stack with a contrib
instrumentation and the distro, and httpx 0.29 - and then receives
``pip install .``. This test checks what the issue found broken: the host's
versions stay as they were, ``pip check`` is clean, and under the host's own
``opentelemetry-instrument`` the plugin exports RTT histograms to a real OTLP
receiver while probing the emulator.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.test._otlp_test_server import OtlpProtoTestServer

from ._support import emulator_process, instrumented_host, otel_env

REQUIREMENTS = Path(__file__).parents[1] / "compat" / "host-requirements.txt"
VENV_ENV = "GENESYS_PULSE_HOSTFIT_VENV"


@pytest.fixture(scope="module")
def venv() -> Path:
    location = os.environ.get(VENV_ENV)
    if not location:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{VENV_ENV} is not set: run `make matrix` (the hostfit nox session)")
        pytest.skip(f"{VENV_ENV} is not set: run `make matrix` to build the host venv")
    return Path(location)


@pytest.fixture
def otlp() -> Iterator[OtlpProtoTestServer]:
    with OtlpProtoTestServer() as server:
        yield server


def _pins() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _installed(venv: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


def test_host_versions_stay_as_they_were(venv: Path) -> None:
    installed = _installed(venv)
    assert "genesys-pulse" in installed  # the project really is installed there
    pins = _pins()
    assert {"opentelemetry-api", "opentelemetry-instrumentation", "httpx"} <= set(pins)
    changed = {name: (pin, installed.get(name)) for name, pin in pins.items()}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    assert changed == {}
    # nothing of the CLI's came along: no SDK exporter for gRPC, no grpcio
    assert "grpcio" not in installed
    assert "opentelemetry-exporter-otlp-proto-grpc" not in installed


def test_pip_check_is_clean(venv: Path) -> None:
    res = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_host_opentelemetry_instrument_exports_rtt(venv: Path, otlp: OtlpProtoTestServer) -> None:
    with emulator_process() as emu:
        env = {**emu.env(), **otel_env(f"http://127.0.0.1:{otlp.port}")}
        with instrumented_host(env, venv=venv) as host:
            assert host.get("/") == b"hello\n"
            assert "genesys-pulse-monitor" in host.threads()
            rtt = otlp.wait_for_metric(name="genesys.websocket.ping.rtt", timeout=30)
        assert host.proc.returncode == 0, host.stderr.decode()[-2000:]
    assert emu.tokens, "the monitor never logged in"
    assert rtt.metric.unit == "s"
    assert rtt.metric.HasField("histogram")
    points = rtt.metric.histogram.data_points
    assert points and sum(p.count for p in points) > 0
    resource = {kv.key: kv.value.string_value for kv in rtt.resource.attributes}
    assert resource["service.name"] == "web-service-example"  # the host's own resource
    sdk_version = resource.get("telemetry.sdk.version")
    assert sdk_version == _pins()["opentelemetry-sdk"]  # exported by the host's own SDK
    assert b"Traceback" not in host.stderr
