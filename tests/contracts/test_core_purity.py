"""The core does no I/O: a walk over its code for what import-linter cannot see.

``lint-imports`` (``make lint``) keeps ``os``, ``pathlib``, ``io``, ``time``,
sockets and trio out of ``genesys_pulse.core``; but a module it allows can
still touch the world - ``open()`` is a builtin, ``tomllib.load`` reads a
file object, ``sys.stdin`` needs only ``sys``, a ``Path`` handed in can be
read, ``datetime.now()`` reads the clock, ``__import__("os")`` hides an
import. This test parses every module of the core and fails on each such
use, naming the file and line. The synthetic snippets below show that every
rule fires (a check that cannot fail is no check) and that the pure forms
(``tomllib.loads``, ``json.loads``, ``env.get(...)`` on a mapping) pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "genesys_pulse" / "core"

BUILTINS: dict[str, str] = {
    "open": "opens a file",
    "input": "reads stdin",
    "print": "writes stdout",
    "breakpoint": "stops the process",
    "__import__": "imports dynamically (hidden from import-linter)",
    "exec": "runs code from text",
    "eval": "runs code from text",
}
"""Builtins a pure module never calls."""

METHODS: dict[str, str] = {
    # files through a path or a file object
    "read_text": "reads a file",
    "read_bytes": "reads a file",
    "write_text": "writes a file",
    "write_bytes": "writes a file",
    "open": "opens a file",
    "stat": "stats a file",
    "lstat": "stats a file",
    "fstat": "stats a file",
    "exists": "looks at the file system",
    "is_file": "looks at the file system",
    "is_dir": "looks at the file system",
    "iterdir": "lists a directory",
    "unlink": "deletes a file",
    "mkdir": "creates a directory",
    "fileno": "uses a file descriptor",
    # the environment and the process
    "getenv": "reads the environment",
    "putenv": "writes the environment",
    "import_module": "imports dynamically (hidden from import-linter)",
    # the clock
    "now": "reads the clock",
    "utcnow": "reads the clock",
    "today": "reads the clock",
}
"""Methods called on anything (``x.read_text()``): the core has no business with any of them."""

ATTRIBUTES: dict[str, str] = {
    "environ": "reads the environment",
    "environb": "reads the environment",
    "stdin": "reads stdin",
    "stdout": "writes stdout",
    "stderr": "writes stderr",
    "argv": "reads the command line",
}
"""Attributes read on anything (``os.environ``, ``sys.stdin``), called or not."""

FILE_FORMS: dict[tuple[str, str], str] = {
    ("tomllib", "load"): "reads a TOML file (use tomllib.loads on text)",
    ("json", "load"): "reads a JSON file (use json.loads on text)",
    ("json", "dump"): "writes a JSON file (use json.dumps)",
    ("pickle", "load"): "reads a pickle file",
    ("pickle", "dump"): "writes a pickle file",
    ("marshal", "load"): "reads a file",
}
"""``module.function`` forms that take a file object."""


def violations(source: str, filename: str = "<snippet>") -> list[str]:
    """Each I/O use in *source*, as ``file:line: what (why)``."""
    found: list[str] = []

    def hit(node: ast.AST, what: str, why: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what} {why}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in BUILTINS:
                hit(node, f"{f.id}()", BUILTINS[f.id])
            elif isinstance(f, ast.Attribute):
                if isinstance(f.value, ast.Name) and (f.value.id, f.attr) in FILE_FORMS:
                    hit(node, f"{f.value.id}.{f.attr}()", FILE_FORMS[f.value.id, f.attr])
                elif f.attr in METHODS:
                    hit(node, f".{f.attr}()", METHODS[f.attr])
            elif isinstance(f, ast.Name) and f.id in ("getattr", "setattr", "hasattr"):
                for arg in node.args[1:2]:
                    name = arg.value if isinstance(arg, ast.Constant) else None
                    if isinstance(name, str) and (name in ATTRIBUTES or name in METHODS):
                        hit(node, f"{f.id}(..., {name!r})", "reaches I/O by name")
        if isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES:
            hit(node, f".{node.attr}", ATTRIBUTES[node.attr])
    return found


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_walk_sees_the_whole_core() -> None:
    names = {p.name for p in core_modules()}
    assert {"__init__.py", "config.py", "_config_parse.py", "_duration.py"} <= names
    assert len(names) >= 20


def test_the_core_does_no_io() -> None:
    found = [
        v
        for path in core_modules()
        for v in violations(path.read_text(encoding="utf-8"), str(path.relative_to(CORE.parent)))
    ]
    assert not found, "I/O in the pure core:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        "f = open('pulse.toml')",
        "import io\nio.open('pulse.toml')",
        "text = path.read_text()",
        "data = Path(name).read_bytes()",
        "Path(name).write_text('x')",
        "with path.open('rb') as f: pass",
        "mode = os.stat(name).st_mode",
        "st = os.fstat(f.fileno())",
        "home = os.environ['HOME']",
        "env = os.environ",
        "v = os.getenv('GENESYS_PULSE_URL')",
        "data = tomllib.load(f)",
        "data = json.load(f)",
        "json.dump(data, f)",
        "line = sys.stdin.readline()",
        "sys.stderr.write('x')",
        "args = sys.argv[1:]",
        "print('hello')",
        "name = input()",
        "t = datetime.now()",
        "t = datetime.datetime.utcnow()",
        "d = date.today()",
        "m = __import__('os')",
        "m = importlib.import_module('os')",
        "e = getattr(os, 'environ')",
        "ok = path.exists()",
    ],
)
def test_each_rule_fires_on_a_synthetic_snippet(snippet: str) -> None:
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "data = tomllib.loads(text)",
        "obj = json.loads(text)",
        "s = json.dumps(obj)",
        "client_id = env.get('GENESYS_CLOUD_CLIENT_ID')",
        "environment = table['environment']",
        "x = parse_duration('250ms')",
        "parts = urlsplit(url)",
        "n = len(text.encode('utf-8'))",
    ],
)
def test_pure_forms_pass(snippet: str) -> None:
    assert violations(snippet) == []


def test_a_planted_read_in_a_real_core_module_is_found() -> None:
    source = (CORE / "_jitter.py").read_text(encoding="utf-8")
    assert violations(source) == []
    planted = source + "\n\ndef _leak() -> str:\n    return open('pulse.toml').read()\n"
    (found,) = violations(planted, "_jitter.py")
    assert "open() opens a file" in found
