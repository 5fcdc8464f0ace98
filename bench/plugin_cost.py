"""What the genesys-pulse plugin costs inside an idle host, at default settings.

Runs the example web service (``examples/web_service/app.py``, idle: no
requests) twice under ``opentelemetry-instrument`` with identical OTel
settings (OTLP/HTTP to a local receiver, default export intervals), once with
the plugin disabled (``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=genesys_pulse``)
and once monitoring one Genesys target on the emulator (separate process, not
counted) at the default settings (1 s probes, both probe kinds, 60 s window).

For each run: the start-up cost (CPU seconds and RSS once the host is up and
the monitor has connected), then the steady-state CPU share over the
measurement period (utime+stime from /proc divided by wall time) and the RSS
at its end. Prints a table and writes ``bench/results/plugin_cost.json``::

    .venv/bin/python bench/plugin_cost.py --duration 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import current_rss_mib, machine, save, table

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "examples" / "web_service" / "app.py"
EMULATOR = ROOT / "tests" / "_emulator.py"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of *pid* in seconds: the sum of its live threads' on-CPU time
    from ``/proc/PID/task/*/schedstat`` (nanoseconds), else utime + stime from
    ``/proc/PID/stat`` (clock ticks, 10 ms resolution)."""
    total_ns = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total_ns += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        if total_ns:
            return total_ns / 1e9
    except OSError:
        pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def read_json_line(proc: subprocess.Popen[str], key: str, timeout: float = 30) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and key in obj:
            return obj
    raise RuntimeError(f"no {key!r} line from {proc.args}")


def run_host(env: dict[str, str], warmup: float, duration: float) -> dict[str, float]:
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "opentelemetry-instrument"),
            sys.executable,
            str(APP),
            "--port",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=str(ROOT),
    )
    try:
        read_json_line(proc, "port")
        time.sleep(warmup)  # start-up, login, channel, first probes
        cpu0, rss0, t0 = cpu_seconds(proc.pid), current_rss_mib(proc.pid), time.monotonic()
        time.sleep(duration)
        cpu1, rss1, t1 = cpu_seconds(proc.pid), current_rss_mib(proc.pid), time.monotonic()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return {
        "startup_cpu_s": cpu0,
        "startup_rss_mib": rss0,
        "cpu_share_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0),
        "cpu_s": cpu1 - cpu0,
        "rss_end_mib": rss1,
        "wall_s": t1 - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    args = parser.parse_args()

    from opentelemetry.test._otlp_test_server import OtlpProtoTestServer

    emu = subprocess.Popen(
        [sys.executable, str(EMULATOR)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        info = read_json_line(emu, "base_url")
        with OtlpProtoTestServer() as otlp:
            base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENESYS_"))}
            base.update(
                {
                    "OTEL_SERVICE_NAME": "idle-host",
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp.port}",
                    "OTEL_TRACES_EXPORTER": "otlp",
                    "OTEL_METRICS_EXPORTER": "otlp",
                    "OTEL_LOGS_EXPORTER": "otlp",
                    "GENESYS_PULSE_KIND": "genesys",
                    "GENESYS_PULSE_LOGIN_URL": info["base_url"],
                    "GENESYS_PULSE_API_URL": info["base_url"],
                    "GENESYS_CLOUD_CLIENT_ID": info["client_id"],
                    "GENESYS_CLOUD_CLIENT_SECRET": info["client_secret"],
                }
            )
            without = run_host(
                {**base, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "genesys_pulse"},
                args.warmup,
                args.duration,
            )
            with_plugin = run_host(base, args.warmup, args.duration)
    finally:
        if emu.stdin is not None:
            emu.stdin.close()
        try:
            emu.wait(10)
        except subprocess.TimeoutExpired:
            emu.kill()

    rows = []
    for key, label, fmt in (
        ("cpu_share_pct", "steady CPU share (% of one core)", "{:.3f}"),
        ("cpu_s", "CPU seconds over the period", "{:.3f}"),
        ("rss_end_mib", "RSS at end (MiB)", "{:.1f}"),
        ("startup_cpu_s", "start-up CPU seconds", "{:.2f}"),
        ("startup_rss_mib", "RSS after start-up (MiB)", "{:.1f}"),
    ):
        delta = with_plugin[key] - without[key]
        rows.append(
            [label, fmt.format(without[key]), fmt.format(with_plugin[key]), fmt.format(delta)]
        )
    print(
        f"genesys-pulse plugin cost in an idle host ({args.duration:.0f} s measured, {machine()})"
    )
    print("defaults: 1 s probes, control + application pings, 60 s window, OTLP/HTTP export\n")
    print(table(["", "host without plugin", "host with plugin", "added"], rows))
    path = save(
        "plugin_cost",
        {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "without_plugin": without,
            "with_plugin": with_plugin,
            "added": {k: with_plugin[k] - without[k] for k in without},
        },
    )
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
