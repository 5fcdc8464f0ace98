"""Smaller rooms: a module over about 600 lines says in its docstring why it must be one module.

The rule of the house: past ~600 lines a module is split by concern, or its
docstring carries a sentence with the words "one module" saying why it is not.
The test reads every module of ``src/genesys_pulse`` and names each offender.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "genesys_pulse"
LIMIT = 600


def offenders(root: Path, limit: int = LIMIT) -> list[str]:
    """Modules under *root* longer than *limit* lines whose docstring does not say why."""
    out = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= limit:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "one module" not in " ".join(doc.split()).lower():
            out.append(f"{path.relative_to(root)}: {text.count(chr(10))} lines")
    return out


def test_every_long_module_says_why_it_is_one_module() -> None:
    assert offenders(SRC) == []


@pytest.mark.parametrize(
    ("doc", "bad"),
    [
        ("Long, and that is that.", True),
        (
            "It is one module on purpose: the\n    grammar and its table must change together.",
            False,
        ),
    ],
)
def test_the_rule_fires_on_a_long_module_without_the_sentence(
    tmp_path: Path, doc: str, bad: bool
) -> None:
    body = "\n".join(f"x{i} = {i}" for i in range(LIMIT + 5))
    (tmp_path / "m.py").write_text(f'"""{doc}"""\n{body}\n', encoding="utf-8")
    (tmp_path / "short.py").write_text('"""Short."""\nx = 1\n', encoding="utf-8")
    assert offenders(tmp_path) == (["m.py: 606 lines"] if bad else [])
