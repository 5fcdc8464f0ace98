"""Hostile configuration files: each is one clear error (exit 2), never a traceback.

The shapes come from an independent review: a 5,001-digit integer, arrays
nested 2,000 deep, values with a trailing newline slipping past ``^...$``
patterns, a 300,000-character unknown key, a byte-order mark. Then a fuzz of
the loader that mixes these shapes into otherwise valid files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_pulse.cli import main
from genesys_pulse.config_sources import load_config
from genesys_pulse.core.config import (
    MAX_SHOWN_KEY,
    ConfigErrors,
    loads_config,
    parse_config,
)

VALID = """
[[targets]]
id = "hardened-target"
url = "wss://echo.example/ws"
control_pings = true
"""

HUGE_INT = "window = " + "9" * 5001 + "\n" + VALID
DEEP_ARRAY = "window = " + "[" * 2000 + "]" * 2000 + "\n" + VALID
DEEP_TABLE = "window = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n" + VALID
LONG_KEY = "k" * 300_000 + " = 1\n" + VALID
BOM = "\ufeff" + VALID

LINE_LIMIT = 300
"""No error line is longer than this (the inputs above are up to 300,000 characters)."""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("GENESYS_PULSE_", "GENESYS_CLOUD_")) or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


def _one_error(text: str) -> ConfigErrors:
    with pytest.raises(ConfigErrors) as info:
        loads_config(text, {})
    assert len(info.value.errors) == 1, str(info.value)
    line = str(info.value)
    assert "\n" not in line and len(line) <= LINE_LIMIT, line[:400]
    return info.value


def test_huge_integer_is_one_error() -> None:
    err = _one_error(HUGE_INT)
    assert err.field == "file"
    assert "a number has too many digits" in str(err)


@pytest.mark.parametrize("text", [DEEP_ARRAY, DEEP_TABLE], ids=["arrays", "inline-tables"])
def test_deep_nesting_is_one_error(text: str) -> None:
    err = _one_error(text)
    assert err.field == "file"
    assert "nested too deeply" in str(err)


def test_long_unknown_key_is_not_echoed_in_full() -> None:
    err = _one_error(LONG_KEY)
    assert "is not a known key" in str(err)
    assert "(300000 characters)" in str(err)
    assert "k" * (MAX_SHOWN_KEY + 1) not in str(err)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    assert loads_config(BOM, {}).targets[0].id == "hardened-target"
    path = tmp_path / "bom.toml"
    path.write_bytes(BOM.encode("utf-8"))
    assert load_config(path, {}).targets[0].id == "hardened-target"


@pytest.mark.parametrize(
    ("field", "target"),
    [
        ("targets[0].id", {"id": "abcdefgh\n", "url": "wss://echo.example/ws"}),
        (
            "targets[0].topics[0]",
            {
                "id": "genesys-1",
                "environment": "mypurecloud.com",
                "topics": ["v2.users.abc.presence\n"],
            },
        ),
        (
            "targets[0].client_id_env",
            {"id": "genesys-1", "environment": "mypurecloud.com", "client_id_env": "MY_ID\n"},
        ),
        (
            "targets[0].client_secret_env",
            {"id": "genesys-1", "environment": "mypurecloud.com", "client_secret_env": "SEC\n"},
        ),
    ],
)
def test_trailing_newline_does_not_pass_a_whole_value_pattern(
    field: str, target: dict[str, object]
) -> None:
    with pytest.raises(ConfigErrors) as info:
        parse_config({"targets": [target]}, {})
    assert [e.field for e in info.value.errors] == [field]


@pytest.mark.parametrize(
    "text", [HUGE_INT, DEEP_ARRAY, LONG_KEY, 'targets = [{id = "abcdefgh\\n", url = "wss://e.x/"}]']
)
def test_cli_exits_2_with_one_problem_line(
    text: str,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    rc = main(["validate", "--config", str(path)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].endswith("invalid configuration: 1 problem"), lines[0]
    assert len(lines) == 2 and len(lines[1]) <= LINE_LIMIT, lines[1:][:2]


def test_cli_accepts_a_bom(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(BOM.encode("utf-8"))
    path.chmod(0o600)
    assert main(["validate", "--config", str(path)]) == 0


# ---------------------------------------------------------------- fuzz

_SHAPES = st.sampled_from(
    [
        lambda n: "9" * (4300 + n),  # past CPython's int/str digit limit
        lambda n: "[" * (900 + n) + "]" * (900 + n),  # past the recursion limit
        lambda n: "{a = " * (900 + n) + "1" + "}" * (900 + n),
        lambda n: '"' + "x" * (1000 * n) + '"',
        lambda n: '"abcdefgh\\n"',
        lambda n: '"' + "\\u0000" * n + '"',
    ]
)
_KEYS = st.sampled_from(["window", "journal_path", "shard", "proxy", "id", "topics", "k" * 5000])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    shape=_SHAPES,
    n=st.integers(1, 1200),
    key=_KEYS,
    where=st.sampled_from(["top", "target"]),
    bom=st.booleans(),
)
def test_fuzz_loader_with_hostile_shapes(
    shape: object, n: int, key: str, where: str, bom: bool
) -> None:
    value = shape(n)  # type: ignore[operator]
    line = f"{key} = {value}\n"
    text = (line + VALID) if where == "top" else (VALID + line)
    if bom:
        text = "\ufeff" + text
    try:
        loads_config(text, {})
    except ConfigErrors as exc:
        for e in exc.errors:
            assert "\n" not in str(e) and len(str(e)) <= LINE_LIMIT, str(e)[:400]
