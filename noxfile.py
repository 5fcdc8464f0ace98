"""The compatibility matrix and the host-fit check, in real virtualenvs.

``make matrix`` runs every session (it is part of ``make test``); venvs are
reused between runs (``reuse_existing_virtualenvs``) so a second run only
re-checks what is installed.

* ``oldest`` - Python 3.11 with the oldest supported OpenTelemetry, httpx,
  httpcore, h11, trio and wsproto (``tests/compat/oldest.txt``);
* ``newest`` - Python 3.13 with the newest releases of everything;
* ``bare`` - ``pip install .`` alone (no extras, no SDK, no distro): the
  plugin, ``opentelemetry-instrument`` without a configurator, and the CLI
  without the SDK;
* ``hostfit`` - a service's venv (``tests/compat/host-requirements.txt``)
  into which the project is installed; ``tests/instrumentor/test_host_fit.py`` then checks that
  its versions stayed, ``pip check`` is clean, and that under its own
  ``opentelemetry-instrument`` the plugin exports RTT histograms.

Each compat session runs a focused subset (core, telemetry, instrumentor,
the httpx transport): what depends on the versions that vary.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["oldest", "newest", "bare", "hostfit"]

ROOT = Path(__file__).resolve().parent
TEST_TOOLS = ["pytest>=8", "pytest-trio>=0.8", "hypothesis>=6.100"]
FOCUSED = [
    "tests/core",
    "tests/telemetry",
    "tests/instrumentor/test_instrumentor.py",
    "tests/instrumentor/test_no_sdk.py",
    "tests/transport/test_httpx_transport.py",
    "tests/transport/test_failure_causes.py",
]


def interpreter(version: str) -> str:
    """``pythonX.Y`` on PATH if it runs, else pyenv's (the image has 3.11-3.13 there)."""
    found = shutil.which(f"python{version}")
    if found and "/shims/" not in found:
        return found
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    return candidates[-1] if candidates else f"python{version}"


def _pytest(session: nox.Session, *args: str) -> None:
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *args)


@nox.session(python=interpreter("3.11"), name="oldest")
def oldest(session: nox.Session) -> None:
    """The oldest supported versions on the oldest supported Python."""
    constraints = str(ROOT / "tests/compat/oldest.txt")
    session.install("-c", constraints, "-e", ".[grpc]", *TEST_TOOLS, "opentelemetry-test-utils")
    session.run("python", "-m", "pip", "check")
    # opentelemetry-test-utils 0.59b0 has no OTLP test server: that test runs in `newest`
    _pytest(session, *FOCUSED, "--ignore=tests/telemetry/test_otlp_export.py")


@nox.session(python=interpreter("3.13"), name="newest")
def newest(session: nox.Session) -> None:
    """The newest releases of every dependency on the newest Python of the image."""
    session.install("--upgrade", "--upgrade-strategy", "eager", "-e", ".[grpc]", *TEST_TOOLS)
    session.install("--upgrade", "opentelemetry-test-utils", "opentelemetry-distro")
    session.run("python", "-m", "pip", "check")
    session.run("python", "-m", "pip", "list", "--format", "freeze", silent=False)
    _pytest(session, *FOCUSED, "tests/instrumentor/test_auto_instrumentation.py")


@nox.session(python=interpreter("3.12"), name="bare")
def bare(session: nox.Session) -> None:
    """``pip install .`` with nothing else: no SDK may come with it."""
    session.install(".", "pytest>=8", "pytest-trio>=0.8")
    session.run("python", "-m", "pip", "check")
    session.run(
        "python",
        "-c",
        "import importlib.util as u, sys; "
        "found = [m for m in ('opentelemetry.sdk', 'opentelemetry.exporter', 'grpc') "
        "if u.find_spec(m)]; "
        "print('SDK modules installed by a plain install:', found); sys.exit(bool(found))",
    )
    _pytest(session, "tests/instrumentor/test_no_sdk.py")


@nox.session(python=interpreter("3.12"), name="hostfit")
def hostfit(session: nox.Session) -> None:
    """A service's venv on an older OTel stack and httpx 0.29 receives the project."""
    session.install("-r", str(ROOT / "tests/compat/host-requirements.txt"))
    session.install(".")  # as a service would: no extras, the resolver decides
    # The checks run from the project's test environment (emulator, OTLP receiver);
    # the service's interpreter is handed over.
    session.run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/instrumentor/test_host_fit.py",
        external=True,
        env={"GENESYS_PULSE_HOSTFIT_VENV": str(session.virtualenv.location)},
    )
