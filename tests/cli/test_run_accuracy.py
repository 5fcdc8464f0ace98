"""Acceptance 1: ``genesys-pulse run --emulator --duration 20s --output jsonl`` on real
loopback prints samples of all three probe kinds and a summary, and reports the
injected application-pong delay (40 ms +- 5 ms) accurately.

``main()`` runs in a worker thread (its own trio loop); the test spies on the
emulator the command starts to read what it really injected, ping by ping.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest
import trio

from genesys_pulse.cli import main as cli_main


def _run_inprocess(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli_main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


async def test_emulator_run_jsonl_reports_three_probe_kinds_and_40ms(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance 1, real loopback, 20 s: samples of all three kinds and a summary; the
    application RTT median is within 1 ms of the injected median plus the loopback baseline."""
    import genesys_pulse.emulator as emulator_pkg

    started: list[Any] = []
    real_open = emulator_pkg.open_emulator

    def spying_open(**kw: Any) -> Any:
        cm = real_open(**kw)

        class Spy:
            async def __aenter__(self) -> Any:
                emu = await cm.__aenter__()
                started.append(emu)
                return emu

            async def __aexit__(self, *exc: Any) -> Any:
                # keep the records: copy them before the emulator goes away
                started.append(list(started[0].faults.pong_records))
                return await cm.__aexit__(*exc)

        return Spy()

    monkeypatch.setattr(emulator_pkg, "open_emulator", spying_open)
    argv = [
        "run",
        "--emulator",
        "--duration",
        "20s",
        "--output",
        "jsonl",
        "--emulator-setting",
        "heartbeat_period=2",
        "--fault",
        "app-pong-delay=normal:40ms:5ms",
    ]
    rc, out, err = await trio.to_thread.run_sync(_run_inprocess, argv, capsys)
    assert rc == 0, err
    lines = _lines(out)
    samples = [x for x in lines if x["type"] == "sample"]
    kinds = {x["probe"] for x in samples}
    assert kinds == {"control", "application", "heartbeat"}
    for x in samples:
        assert set(x) >= {
            "type",
            "target",
            "probe",
            "rtt_s",
            "timed_out",
            "at",
            "jitter_s",
            "local_stall",
        }
        assert x["at"].endswith("Z")
    summary = lines[-1]
    assert summary["type"] == "summary"
    per = summary["targets"]["emulated-target"]
    for kind in ("control", "application"):
        for key in (
            "count",
            "timeouts",
            "rtt_p50_s",
            "rtt_p95_s",
            "rtt_p99_s",
            "rtt_max_s",
            "jitter",
            "stability",
        ):
            assert key in per[kind]
    records = [r for r in started[1] if r.kind == "app" and r.sent_at is not None]
    injected = statistics.median(r.sent_at - r.received_at for r in records)
    control = statistics.median(
        x["rtt_s"] for x in samples if x["probe"] == "control" and x["rtt_s"] is not None
    )
    app = statistics.median(
        x["rtt_s"] for x in samples if x["probe"] == "application" and x["rtt_s"] is not None
    )
    error = app - (injected + control)
    print(
        f"\napp median {app * 1e3:.3f} ms, injected median {injected * 1e3:.3f} ms, "
        f"loopback control median {control * 1e3:.3f} ms, error {error * 1e3:+.3f} ms"
    )
    assert abs(error) < 0.001
    assert 0.030 < app < 0.050
