"""``genesys-pulse run``: exit codes, messages, JSON lines, signals.

Subprocess tests run the installed entry point exactly as a user would; the
in-process tests call ``main()`` in a worker thread (its own trio loop) so a
test can also inspect the emulator the command started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from genesys_pulse.cli import main as cli_main
from genesys_pulse.emulator import EmulatorSettings, open_emulator

EXE = [sys.executable, "-m", "genesys_pulse.cli"]
CLEAN_ENV = {
    k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_CLOUD_", "GENESYS_PULSE_"))
}


def _run(args: list[str], timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EXE, *args], capture_output=True, text=True, timeout=timeout, env=CLEAN_ENV, **kw
    )


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_without_credentials_says_how_to_give_them(tmp_path: Path) -> None:
    cfg = tmp_path / "pulse.toml"
    cfg.write_text('[[targets]]\nid = "prod-queue-01"\nenvironment = "mypurecloud.com"\n')
    cfg.chmod(0o600)
    res = _run(["run", "--config", str(cfg), "--duration", "1s", "--output", "jsonl"])
    assert res.returncode == 2
    assert "GENESYS_CLOUD_CLIENT_ID" in res.stderr
    assert "GENESYS_CLOUD_CLIENT_SECRET" in res.stderr
    assert "--emulator" in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


def test_invalid_config_names_field_and_rule(tmp_path: Path) -> None:
    cfg = tmp_path / "pulse.toml"
    cfg.write_text(
        '[[targets]]\nid = "prod-queue-01"\nenvironment = "mypurecloud.com"\ninterval = "50ms"\n'
    )
    res = _run(["run", "--config", str(cfg), "--emulator", "--duration", "1s"])
    assert res.returncode == 2
    assert "targets[0].interval" in res.stderr
    assert "Traceback" not in res.stderr
    bad = _run(["run", "--emulator", "--duration", "soon"])
    assert bad.returncode == 2 and "--duration" in bad.stderr and "Traceback" not in bad.stderr
    shard = _run(["run", "--emulator", "--shard", "3/2"])
    assert shard.returncode == 2 and "--shard" in shard.stderr
    for args, field in (
        (["--scenario", "no-such-scenario"], "--scenario"),
        (["--fault", "app-pong-delay=bogus"], "--fault"),
        (["--emulator-setting", "no_such_setting=1"], "--emulator-setting"),
    ):
        res = _run(["run", "--emulator", "--duration", "1s", *args])
        assert res.returncode == 2 and field in res.stderr and "Traceback" not in res.stderr


def _run_inprocess(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli_main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


async def test_invalid_client_exits_3_with_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_emulator(settings=EmulatorSettings(seed=1)) as emu:
        cfg = tmp_path / "pulse.toml"
        cfg.write_text(
            "[[targets]]\n"
            'id = "prod-queue-01"\n'
            f'login_url = "{emu.login_url}"\n'
            f'api_url = "{emu.api_url}"\n'
        )
        cfg.chmod(0o600)
        monkeypatch.setenv("GENESYS_CLOUD_CLIENT_ID", emu.client_id)
        monkeypatch.setenv("GENESYS_CLOUD_CLIENT_SECRET", "wrong-secret-value")
        argv = ["run", "--config", str(cfg), "--duration", "20s", "--output", "jsonl"]
        t0 = time.perf_counter()
        rc, out, err = await trio.to_thread.run_sync(_run_inprocess, argv, capsys)
        elapsed = time.perf_counter() - t0
    assert rc == 3
    messages = [line for line in err.splitlines() if line.strip()]
    assert len(messages) == 1, messages
    assert "authentication refused" in messages[0] and "invalid_client" in messages[0]
    assert "wrong-secret-value" not in err + out
    assert elapsed < 15  # it stopped at once, not at --duration
    assert _lines(out)[-1]["type"] == "summary"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_with_summary(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [*EXE, "run", "--emulator", "--output", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CLEAN_ENV,
    )
    try:
        assert proc.stdout is not None
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 4 and time.monotonic() < deadline:  # bounded
            line = proc.stdout.readline()
            if not line:
                break
            seen += '"type":"sample"' in line
        assert seen >= 4
        t0 = time.monotonic()
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=20)
        stopped = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"\n{sig.name}: exited {proc.returncode} after {stopped:.3f} s")
    assert proc.returncode == 0, err
    last = _lines(rest)[-1]
    assert last["type"] == "summary"
    assert "Traceback" not in err
    assert stopped < 5  # generous: the target is 1 s, the machine is shared


def test_closed_pipe_ends_loudly() -> None:
    """A closed stdout (``| head``) ends the run with a non-zero exit and one line on stderr."""
    cmd = " ".join([*EXE, "run", "--emulator", "--duration", "20s", "--output", "jsonl"])
    res = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cmd} | head -n 3; echo rc=${{PIPESTATUS[0]}} >&2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN_ENV,
    )
    assert len(res.stdout.splitlines()) == 3
    assert "Traceback" not in res.stderr
    assert "BrokenPipe" not in res.stderr
    lines = res.stderr.splitlines()
    assert lines[-1] == "rc=1", res.stderr
    ours = [line for line in lines if line.startswith("genesys-pulse")]
    assert ours == ["genesys-pulse run: stdout was closed by its reader; stopped monitoring"], lines


def test_journal_path_gets_the_audit_records(tmp_path: Path) -> None:
    journal = tmp_path / "audit.jsonl"
    cfg = tmp_path / "pulse.toml"
    cfg.write_text(
        f'journal_path = "{journal}"\n[[targets]]\nid = "journal-test-01"\nenvironment = "mypurecloud.com"\n'
    )
    cfg.chmod(0o600)
    res = _run(["run", "--config", str(cfg), "--emulator", "--duration", "2s", "--output", "jsonl"])
    assert res.returncode == 0, res.stderr
    kinds = [json.loads(line)["kind"] for line in journal.read_text().splitlines()]
    assert "monitor.started" in kinds and "monitor.stopped" in kinds
    assert "token.issued" in kinds


def test_nothing_configured_says_how_to_start(tmp_path: Path) -> None:
    res = _run(["run", "--duration", "1s"], cwd=tmp_path)
    assert res.returncode == 2
    assert "GENESYS_CLOUD_CLIENT_ID" in res.stderr and "--emulator" in res.stderr
    assert "Traceback" not in res.stderr
