"""The run command's outputs: JSON-lines shapes, the live dashboard frame, sparklines."""

from __future__ import annotations

import io
import json

import trio

from genesys_pulse.cli._dashboard import Dashboard, sparkline
from genesys_pulse.cli._output import JsonLines, iso
from genesys_pulse.core.config import parse_config, with_credentials
from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.emulator import EmulatorSettings, open_emulator
from genesys_pulse.monitor import run_monitor


def test_iso_is_utc_with_z() -> None:
    assert iso(0.0) == "1970-01-01T00:00:00.000000Z"
    assert iso(1795836135.5) == "2026-11-28T03:22:15.500000Z"


def test_sparkline_marks_timeouts_and_scales() -> None:
    assert sparkline([0.001, 0.002, None, 0.003]) == "▁▅x█"
    assert sparkline([None, None]) == "xx"
    assert sparkline([0.005] * 3) == "▁▁▁"
    assert len(sparkline([0.001] * 100, width=30)) == 30


async def test_jsonl_lines_have_the_documented_shape() -> None:
    out = io.StringIO()
    sink = JsonLines(out, lambda: None)
    sink.on_sample(Sample("t-0000001", ProbeKind.CONTROL, 3, 1.0, 1.0, 0.0012, False, 0.0, 0.0001))
    sink.on_sample(Sample("t-0000001", ProbeKind.APPLICATION, 3, 1.0, 1.0, None, True, 0.0))
    sink.on_sample(
        Sample("t-0000001", ProbeKind.HEARTBEAT, 1, 1.0, None, None, False, 0.0, gap_s=30.01)
    )
    sink.on_event(Event("t-0000001", "rotation", 0.0, {"reason": "socket_closing"}))
    sink.summary({"targets": {}})
    await sink.writer.flush()
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0] == {
        "type": "sample",
        "target": "t-0000001",
        "probe": "control",
        "rtt_s": 0.0012,
        "timed_out": False,
        "at": "1970-01-01T00:00:00.000000Z",
        "jitter_s": 0.0001,
        "local_stall": False,
        "seq": 3,
        "gap_s": None,
    }
    assert lines[1]["rtt_s"] is None and lines[1]["timed_out"] is True
    assert lines[2]["probe"] == "heartbeat" and lines[2]["gap_s"] == 30.01
    assert lines[3] == {
        "type": "event",
        "target": "t-0000001",
        "name": "rotation",
        "at": "1970-01-01T00:00:00.000000Z",
        "attributes": {"reason": "socket_closing"},
    }
    assert lines[4] == {"type": "summary", "targets": {}}


async def test_dashboard_renders_targets_in_place() -> None:
    """Real clock (the writer uses a worker thread), in-memory emulator connection."""
    out = io.StringIO()
    dash = Dashboard(out, lambda: None)
    async with open_emulator(settings=EmulatorSettings(seed=9, heartbeat_period=2.0)) as emu:
        base = parse_config(
            {
                "targets": [
                    {"id": "dash-target", "environment": "mypurecloud.com", "heartbeat_period": 2}
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
    assert frame.startswith("\x1b[H") and frame.endswith("\x1b[J")
    text = frame.replace("\x1b[K", "")
    assert "dash-target" in text and "connected" in text
    for kind in ("control", "application", "heartbeat"):
        assert kind in text
    assert "channel.created" in text
    assert dash.frames >= 4  # at least one frame a second (every 0.5 s)
    assert out.getvalue().endswith("\x1b[?25h")  # cursor restored
