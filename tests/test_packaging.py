"""The package people can trust: a licence file, honest metadata, honest install docs."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_license_file_is_the_apache_2_text_the_metadata_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    # PEP 639: with a licence expression, no licence classifier
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]
    assert "Programming Language :: Python :: 3 :: Only" in project["classifiers"]


def test_no_document_says_to_install_from_an_index() -> None:
    """The package is not on any index: docs must say to install from a checkout or a wheel."""
    files = subprocess.run(
        ["git", "ls-files", "*.md", "*.py", "*.toml", "*.txt", "*.rst", "Makefile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert files
    pattern = re.compile(r"pip\s+install\s+(-U\s+|--upgrade\s+)?genesys[-_]pulse\b", re.IGNORECASE)
    offenders = [
        f for f in files if f != "tests/test_packaging.py" and pattern.search(_read(ROOT / f))
    ]
    assert offenders == []


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
