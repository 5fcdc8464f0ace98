"""The trio embedding example runs and reports (its emulator is in-process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_trio_embed_example_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "trio_embed.py"), "--duration", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "event: token.issued" in proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("samples: {'control': ") and "worst RTT" in last
    # audit records went to the console log exporter (stderr) with their event_name
    assert '"event_name": "genesys_pulse.monitor.started"' in proc.stderr
    assert '"event_name": "genesys_pulse.monitor.stopped"' in proc.stderr
