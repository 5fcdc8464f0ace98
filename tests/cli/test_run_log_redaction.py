"""`genesys-pulse run --log-level DEBUG` logs a lot - and never a secret or a token."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from _emulator import cli_emulator

SECRET = "s3cr3t-Very-Distinctive-Value-4711"


def test_debug_logs_mask_client_secret_and_tokens(tmp_path: Path) -> None:
    env = {**os.environ, "GENESYS_PULSE_EMULATOR_CLIENT_SECRET": SECRET}
    with cli_emulator("--token-ttl", "300", env=env) as info:
        assert info["client_secret"] == SECRET
        cfg = tmp_path / "pulse.toml"
        cfg.write_text(
            "[[targets]]\n"
            'id = "redaction-check"\n'
            f'login_url = "{info["login_url"]}"\n'
            f'api_url = "{info["api_url"]}"\n'
        )
        cfg.chmod(0o600)
        run_env = {
            **os.environ,
            "GENESYS_CLOUD_CLIENT_ID": info["client_id"],
            "GENESYS_CLOUD_CLIENT_SECRET": SECRET,
        }
        run_env.pop("GENESYS_PULSE_CONFIG", None)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "genesys_pulse.cli",
                "run",
                "--config",
                str(cfg),
                "--duration",
                "3s",
                "--output",
                "jsonl",
                "--log-level",
                "DEBUG",
            ],
            capture_output=True,
            text=True,
            env=run_env,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    # The debug logs really were on (httpcore/httpx talk at DEBUG) ...
    assert "DEBUG" in done.stderr
    assert any(json.loads(line)["type"] == "sample" for line in done.stdout.splitlines())
    everything = done.stdout + done.stderr
    # ... and neither the secret nor any bearer/basic credential made it out.
    assert SECRET not in everything
    assert not re.search(r"(?i)\b(bearer|basic)\s+(?!\*\*\*)[A-Za-z0-9+/=_.-]{8,}", everything)
    assert not re.search(r'"access_token"\s*:\s*"(?!\*\*\*)', everything)
