"""Fixtures of the deployment tests: the collector (reused) and the container image."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from collector._collector import in_ci
from collector.conftest import collector_binary
from genesys_pulse import __version__

__all__ = ["IMAGE", "RUN_LIMITS", "collector_binary", "podman"]

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "deploy" / "container" / "_build"
IMAGE = f"localhost/genesys-pulse:{__version__}"

RUN_LIMITS = (
    # the CI container has hybrid cgroups, which crun refuses (runc with the
    # cgroupfs manager is set in the podman command), and raising resource
    # limits is not permitted there: stay at or below its own
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
)


def runroot() -> str:
    """The short runroot deploy/container/build-image.sh uses for this build directory."""
    import hashlib

    key = hashlib.sha256(str(BUILD.resolve()).encode()).hexdigest()[:12]
    return f"/tmp/genesys-pulse-podman-{key}"


@pytest.fixture(scope="session")
def podman() -> list[str]:
    """podman on the store ``make image`` built into; skip locally / fail in CI without the image."""
    tool = shutil.which("podman")
    cmd = [
        tool or "podman",
        "--root",
        str(BUILD / "storage"),
        "--runroot",
        runroot(),
        "--storage-driver",
        "vfs",
        "--runtime",
        "runc",
        "--cgroup-manager",
        "cgroupfs",
    ]
    if tool is not None and shutil.which("runc") is not None:
        exists = subprocess.run([*cmd, "image", "exists", IMAGE], timeout=60, check=False)
        if exists.returncode == 0:
            return cmd
    reason = f"image {IMAGE} not built: run `make image` (podman, runc, debootstrap; minutes)"
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)
