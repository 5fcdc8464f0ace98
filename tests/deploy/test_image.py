"""The container image built by ``make image`` (deploy/container/build-image.sh, podman).

The layout the Helm chart expects: the executable at
``/opt/genesys-pulse/bin/genesys-pulse`` (the chart's ``image.command``), a
non-root user (10001, the chart's ``runAsUser``), and a monitor that runs
with a read-only root filesystem and only ``/tmp`` writable -- here with the
image's own embedded emulator, on the host's loopback network.

Missing image: skip locally (``make image`` was not run), fail in CI.
"""

from __future__ import annotations

import json
import subprocess

from genesys_pulse import __version__

from .conftest import IMAGE, RUN_LIMITS

CHART_COMMAND = "/opt/genesys-pulse/bin/genesys-pulse"


def podman_run(
    podman: list[str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *podman,
            "run",
            "--rm",
            "--network",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp",
            *RUN_LIMITS,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_image_layout_matches_the_chart(podman: list[str]) -> None:
    inspect = subprocess.run(
        [*podman, "image", "inspect", IMAGE], capture_output=True, text=True, timeout=60, check=True
    )
    config = json.loads(inspect.stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == [CHART_COMMAND]
    done = podman_run(podman, "--entrypoint", CHART_COMMAND, IMAGE, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"genesys-pulse {__version__}"
    whoami = podman_run(podman, "--entrypoint", "/usr/bin/id", IMAGE, "-u")
    assert whoami.stdout.strip() == "10001", whoami.stderr


def test_image_runs_the_monitor_read_only(podman: list[str]) -> None:
    done = podman_run(
        podman, IMAGE, "run", "--emulator", "--duration", "4s", "--output", "jsonl", timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert lines[-1]["type"] == "summary"
    assert any(rec.get("type") == "sample" and not rec["timed_out"] for rec in lines)


def test_image_carries_the_sdk_for_otlp_export(podman: list[str]) -> None:
    """The image is `genesys-pulse run`, which exports OTLP: the [cli] extra must be in it."""
    done = podman_run(
        podman,
        "--entrypoint",
        "/opt/genesys-pulse/bin/python",
        IMAGE,
        "-c",
        "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http; print('sdk ok')",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "sdk ok"
