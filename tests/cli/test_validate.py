"""``genesys-pulse validate``: exit codes, output, and no secret or traceback ever shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genesys_pulse.cli import main

SECRET = "VALIDATE-secret-c0ffee42"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "configs").glob("*.toml"))

VALID = """
window = "30s"
[[targets]]
id = "prod-us-east"
environment = "mypurecloud.com"
topics = ["v2.users.abc.presence"]
"""

INVALID = """
window = "30s"
[[targets]]
id = "bad"
environment = "mypurecloud.com"
interval = "50ms"
intervall = "1s"
[[targets]]
id = "echo-test-1"
url = "ws://example.org/ws"
"""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("GENESYS_PULSE_", "GENESYS_CLOUD_")):
            monkeypatch.delenv(name)
    return monkeypatch


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "pulse.toml") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    p.chmod(mode)
    return str(p)


def test_valid_prints_normalised_redacted_json(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("GENESYS_CLOUD_CLIENT_ID", "client-abc")
    clean_env.setenv("GENESYS_CLOUD_CLIENT_SECRET", SECRET)
    rc = main(["validate", "--config", write(tmp_path, VALID)])
    out, err = capsys.readouterr()
    assert rc == 0
    assert err == ""
    data = json.loads(out)
    assert out.startswith('{\n  "targets"')  # indent 2
    assert data["window"] == 30.0
    (t,) = data["targets"]
    assert t["interval"] == 1.0 and t["timeout"] == 1.0
    assert t["genesys"]["login_url"] == "https://login.mypurecloud.com"
    assert t["genesys"]["client_id"] == "client-abc"
    assert t["genesys"]["client_secret"] == "***"
    assert SECRET not in out + err


def test_missing_credentials_is_a_note_unless_required(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID)
    assert main(["validate", "--config", path]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["targets"][0]["genesys"]["client_secret"] is None
    assert "GENESYS_CLOUD_CLIENT_ID, GENESYS_CLOUD_CLIENT_SECRET" in err
    assert "--emulator" in err
    assert main(["validate", "--config", path, "--require-credentials"]) == 2


def test_invalid_lists_every_problem_without_traceback(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["validate", "--config", write(tmp_path, INVALID)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == "invalid configuration: 4 problems"
    assert lines[1:] == [
        "  targets[0].intervall: is not a known key; did you mean 'interval'?",
        "  targets[0].id: 'bad' must be 8-36 letters, digits, '_' or '-' "
        "(ids become metric attributes and journal keys)",
        "  targets[0].interval: '50ms' is below the 100 ms minimum "
        "(probing faster than that congests the gateway)",
        "  targets[1].url: 'ws://example.org/ws' uses unencrypted ws:// on a non-loopback host; "
        "use wss:// (ws:// is allowed only for localhost/127.0.0.1/::1)",
    ]


def test_literal_secret_in_file_is_refused_and_never_echoed(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = VALID + f'client_secret = "{SECRET}"\n'
    rc = main(["validate", "--config", write(tmp_path, text)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "targets[0].client_secret: must not be in the file" in err
    assert "set GENESYS_CLOUD_CLIENT_SECRET" in err
    assert SECRET not in out + err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('window = "30s"\n[[targets]\nid = "x"\n', "is not valid TOML"),
        (b"\xff\xfe window = 1", "is not UTF-8"),
        ("# " + "x" * (1024 * 1024 + 10), "larger than 1 MiB"),
    ],
)
def test_unparseable_files(
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    fragment: str,
) -> None:
    p = tmp_path / "bad.toml"
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    assert main(["validate", "--config", str(p)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and fragment in err and "Traceback" not in err
    assert f"file: '{p}'" in err


def test_toml_error_names_the_line(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, 'window = "30s"\n\n[[targets]\nid = "x"\n')
    assert main(["validate", "--config", path]) == 2
    assert "line 3" in capsys.readouterr().err


def test_unreadable_paths(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot be read (No such file or directory)" in capsys.readouterr().err
    assert main(["validate", "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err or "not a regular file" in err
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert main(["validate", "--config", str(fifo)]) == 2  # refused, without blocking
    assert "is not a regular file" in capsys.readouterr().err
    assert main(["validate", "--config", "nul\0byte.toml"]) == 2
    assert "not a usable file name" in capsys.readouterr().err
    if os.geteuid() != 0:  # root reads anything
        assert main(["validate", "--config", write(tmp_path, VALID, mode=0o000)]) == 2
        assert "Permission denied" in capsys.readouterr().err


def test_world_readable_file_with_client_id_warns(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("GENESYS_CLOUD_CLIENT_SECRET", SECRET)
    text = VALID + 'client_id = "client-abc"\n'
    assert main(["validate", "--config", write(tmp_path, text, mode=0o644)]) == 0
    err = capsys.readouterr().err
    assert "readable by group/others (mode 644)" in err and "chmod 600" in err
    assert main(["validate", "--config", write(tmp_path, text, mode=0o600, name="b.toml")]) == 0
    assert capsys.readouterr().err == ""
    # no client_id in the file: nothing to protect, no warning
    clean_env.setenv("GENESYS_CLOUD_CLIENT_ID", "client-abc")
    assert main(["validate", "--config", write(tmp_path, VALID, mode=0o644, name="c.toml")]) == 0
    assert capsys.readouterr().err == ""


def test_config_from_environment_variables(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("GENESYS_PULSE_CONFIG", write(tmp_path, VALID))
    clean_env.setenv("GENESYS_PULSE_INTERVAL", "250ms")
    assert main(["validate"]) == 0
    t = json.loads(capsys.readouterr().out)["targets"][0]
    assert (t["id"], t["interval"]) == ("prod-us-east", 0.25)

    clean_env.delenv("GENESYS_PULSE_CONFIG")
    clean_env.setenv("GENESYS_PULSE_ENVIRONMENT", "usw2.pure.cloud")
    assert main(["validate"]) == 0
    t = json.loads(capsys.readouterr().out)["targets"][0]
    assert (t["id"], t["genesys"]["api_url"]) == (
        "genesys-usw2-pure-cloud",
        "https://api.usw2.pure.cloud",
    )

    clean_env.delenv("GENESYS_PULSE_ENVIRONMENT")
    clean_env.delenv("GENESYS_PULSE_INTERVAL")
    assert main(["validate"]) == 2
    assert "needs at least one target" in capsys.readouterr().err


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_valid(
    path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["targets"]
    assert "warning" not in err


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"genesys-minimal.toml", "websocket-echo.toml", "multi-region.toml"} <= names


def test_subprocess_exit_codes_and_streams(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GENESYS_PULSE_", "GENESYS_CLOUD_"))
    }
    env["GENESYS_CLOUD_CLIENT_ID"] = "client-abc"
    env["GENESYS_CLOUD_CLIENT_SECRET"] = SECRET
    cmd = [sys.executable, "-m", "genesys_pulse.cli", "validate", "--config"]
    ok = subprocess.run(
        [*cmd, write(tmp_path, VALID)], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["targets"][0]["genesys"]["client_secret"] == "***"
    bad = subprocess.run(
        [*cmd, write(tmp_path, INVALID + f'client_secret = "{SECRET}"\n', name="bad.toml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "targets[1].client_secret: must not be in the file" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert SECRET not in ok.stdout + ok.stderr + bad.stdout + bad.stderr
