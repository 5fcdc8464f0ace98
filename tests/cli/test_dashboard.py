"""The live dashboard at the widths people use, and its final summary."""

from __future__ import annotations

import io
import re

import pytest
import trio

from genesys_pulse.cli._dashboard import (
    Dashboard,
    Row,
    format_value,
    layout,
    render_frame,
    summary_text,
)
from genesys_pulse.core.config import parse_config, with_credentials
from genesys_pulse.core.model import Event
from genesys_pulse.emulator import EmulatorSettings, open_emulator
from genesys_pulse.monitor import run_monitor

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def visible(text: str) -> list[str]:
    return [ANSI.sub("", line) for line in text.split("\n")]


def row(**kw: object) -> Row:
    base: dict[str, object] = dict(
        target="gc-euw1-production-wallboard",
        probe="application",
        p50_s=0.0412,
        p95_s=0.05,
        p99_s=0.31,
        recent=(0.04, None, 0.05),
        jitter_s=0.003,
        timeouts=12345,
        stability=0.975,
        level="critical",
        connection="auth_refused",
        first_of_target=True,
    )
    base.update(kw)
    return Row(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [60, 70, 80, 100, 120, 200])
def test_every_line_fits_and_state_and_connection_stay(width: int) -> None:
    rows = [row(), row(probe="heartbeat", first_of_target=False, level="warning")]
    events = [Event("t", "channel.created", 0.0, {"expires_in_s": 86400.00000000001})]
    lines = [ANSI.sub("", ln) for ln in render_frame(rows, 0, events, 0.0, width, colour=True)]
    assert all(len(ln) <= width for ln in lines), [ln for ln in lines if len(ln) > width]
    header, first, second = lines[1], lines[2], lines[3]
    assert "state" in header and "connection" in header
    assert "critical" in first and "auth_refused" in first
    assert "warning" in second
    assert "expires_in_s=86400 " in lines[-1] + " "  # rounded, no float noise


def test_narrow_layout_drops_columns_in_order() -> None:
    wide, narrow = layout(200, 20), layout(80, 20)
    assert wide.columns == (
        "p50",
        "p95",
        "p99",
        "recent",
        "jit",
        "t/o",
        "stab",
        "state",
        "connection",
    )
    assert "p95" not in narrow.columns and "jit" not in narrow.columns
    assert {"p50", "t/o", "state", "connection"} <= set(narrow.columns)
    assert wide.probe == 11 and narrow.probe == 4


def test_format_value_rounds() -> None:
    assert format_value(86400.00000000001) == "86400"
    assert format_value(0.0123456) == "0.012"
    assert format_value(-0.0001) == "0"
    assert format_value(3) == "3" and format_value("x") == "x"


def test_summary_text_fits_80_columns() -> None:
    summary = {
        "duration_s": 60.0004,
        "targets": {
            "gc-euw1-production-wallboard": {
                "control": {
                    "count": 60,
                    "timeouts": 1,
                    "rtt_p50_s": 0.035,
                    "rtt_p99_s": 0.4,
                    "rtt_max_s": 0.41,
                    "jitter": {"ipdv_mean_s": 0.004},
                    "stability": 0.98,
                },
                "heartbeat": {"count": 12, "timeouts": 0, "gap_p50_s": 5.0, "gap_max_s": 5.2},
                "connection": "connected",
                "levels": {"control.rtt": "warning", "heartbeat.heartbeat_silence": "ok"},
            }
        },
        "failed": {},
    }
    text = summary_text(summary, 80)
    lines = text.split("\n")
    assert all(len(ln) <= 80 for ln in lines)
    assert lines[0] == "genesys-pulse summary: 1 target(s), 60 s"
    ctrl = next(ln for ln in lines if " ctrl " in ln)
    assert "35.0" in ctrl and "400.0" in ctrl and "98.0%" in ctrl and ctrl.endswith("warning")
    hb = next(ln for ln in lines if " hb " in ln)
    assert "5000.0" in hb and hb.endswith("ok")
    assert any("connection at the end: connected" in ln for ln in lines)


async def test_dashboard_at_80_columns_on_a_real_run() -> None:
    """A real monitor against the emulator: the 80-column frame shows state and connection."""
    out = io.StringIO()
    dash = Dashboard(out, lambda: None, width=80)
    async with open_emulator(settings=EmulatorSettings(seed=9, heartbeat_period=1.0)) as emu:
        base = parse_config(
            {
                "targets": [
                    {
                        "id": "gc-euw1-production-wallboard",
                        "environment": "mypurecloud.com",
                        "heartbeat_period": 1,
                    }
                ]
            }
        )
        cfg = with_credentials(base, emu.client_id, emu.client_secret, emu.login_url, emu.api_url)
        async with trio.open_nursery() as nursery:
            dash.monitor = await nursery.start(
                lambda task_status: run_monitor(
                    cfg, sinks=[dash], connector=emu.connector, task_status=task_status
                )
            )
            nursery.start_soon(dash.run)
            await trio.sleep(2.6)
            frame = dash.render(0.0)
            nursery.cancel_scope.cancel()
    lines = visible(frame)
    assert all(len(ln) <= 80 for ln in lines)
    body = [ln for ln in lines if ln.startswith("gc-euw1-produc")]
    assert body and "connected" in body[0]
    assert re.search(r"\b(ok|warning|critical)\b", body[0])
    hb = next(ln for ln in lines if ln.split()[:1] == ["hb"])
    assert re.search(r"\d+\.\d", hb), hb  # heartbeat gaps are shown within the run


def test_cli_dashboard_prints_the_summary_on_exit() -> None:
    """The real CLI in dashboard mode: the last frame, then the plain-text summary, exit 0."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("genesys-pulse")
    proc = subprocess.run(
        [
            str(exe),
            "run",
            "--emulator",
            "--duration",
            "3s",
            "--output",
            "live",
            "--emulator-setting",
            "heartbeat_period=1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "80", "LINES": "30", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    text = ANSI.sub("", proc.stdout)
    tail = text[text.index("genesys-pulse summary:") :].split("\n")
    assert tail[0].startswith("genesys-pulse summary: 1 target(s), ")
    assert any(ln.startswith("emulated-targe") and ln.split()[1] == "ctrl" for ln in tail)
    assert all(len(ln) <= 80 for ln in tail)
    assert proc.stdout.rstrip().endswith("--output jsonl for all.")
