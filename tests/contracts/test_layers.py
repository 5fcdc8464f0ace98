"""The layer contracts (``[tool.importlinter]`` in pyproject.toml) hold, and can fail.

``make lint`` runs ``lint-imports`` on the real tree; these tests run it on a
copy of the package with one forbidden import planted, to show each contract
really catches what it names (a check that cannot fail is no check).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(tree / "src")},
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "genesys_pulse",
        tmp_path / "src" / "genesys_pulse",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / "src" / "genesys_pulse" / module
    path.write_text(path.read_text() + f"\n{line}  # planted by the test\n")


def test_the_real_tree_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/_jitter.py", "import trio", "The core is pure"),
        ("core/_pong.py", "import socket", "The core is pure"),
        ("transport/_timed.py", "import genesys_pulse.monitor", "Layers"),
        ("emulator/_events.py", "import genesys_pulse.core", "The emulator is independent"),
        ("monitor/_stats.py", "import genesys_pulse.core._pong", "The core is used through"),
        ("core/_config_parse.py", "import os", "The core is pure"),
        ("core/_duration.py", "import time", "The core is pure"),
        ("core/_window.py", "import pathlib", "The core is pure"),
        ("core/config.py", "import genesys_pulse.config_sources", "The core is pure"),
        ("monitor/_stats.py", "import genesys_pulse.config_sources", "Only the entry points"),
        ("config_sources.py", "import genesys_pulse.monitor", "Layers"),
        ("config_sources.py", "import genesys_pulse.core._config_parse", "The core is used"),
        # the emulator's one exception is that one import, not a licence for others
        ("emulator/_scenarios.py", "from genesys_pulse.core import parse_duration", "The emulator"),
        ("emulator/_faults.py", "import genesys_pulse.core.config", "The emulator"),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tree: Path, module: str, line: str, contract: str
) -> None:
    plant(tree, module, line)
    result = lint(tree)
    assert result.returncode != 0
    # "NAME BROKEN", or "NAME BROKEN (1 ignored import)" for a contract with an exception
    broken = [ln for ln in result.stdout.splitlines() if re.search(r" BROKEN( \(.*\))?$", ln)]
    assert any(ln.startswith(contract) for ln in broken), result.stdout


def test_the_face_contract_lists_every_private_core_module() -> None:
    """A private module added to the core must join the 'used through its face' contract."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (face,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["name"].startswith("The core is used through its face")
    ]
    private = {
        f"genesys_pulse.core.{p.stem}"
        for p in (ROOT / "src" / "genesys_pulse" / "core").glob("_*.py")
        if p.stem != "__init__"
    }
    assert set(face["forbidden_modules"]) == private
