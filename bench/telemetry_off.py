"""Telemetry switched off must cost least: the CLI's telemetry set-ups side by side.

Runs the real command, ``genesys-pulse run --config FILE --duration D --output
jsonl`` (stdout to /dev/null), on N plain WebSocket targets (control ping plus
an echo message) against the benchmarks' echo server (its own process), once
per arm and round, the arms alternating within every round so that a change
of machine load hits all of them alike:

* ``unset``: no ``OTEL_*`` variable (no OpenTelemetry sink at all);
* ``off``: ``OTEL_TRACES_EXPORTER=none OTEL_METRICS_EXPORTER=none
  OTEL_LOGS_EXPORTER=none`` (the set-up of the "telemetry off costs more"
  report);
* ``otlp``: ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a local HTTP receiver in
  this process that accepts and drops every OTLP request (the CLI's default
  OTLP/HTTP set-up otherwise: 60 s metric export interval, batch processors);
* ``memory``: the SDK with an in-memory metric reader and span/log processors
  that drop (``configure_from_env`` replaced in the child, the CLI unchanged).

CPU is the child's own (``os.wait4`` user + system, every thread). Each arm is
run twice per round, ``--short`` and ``--long`` seconds; the difference is the
*marginal* CPU of ``long - short`` seconds of monitoring, free of start-up
(imports, connecting) and shutdown, divided by the probe cycles in it
(targets x seconds / interval).

    .venv/bin/python bench/telemetry_off.py                     # 200 targets, 5 s / 25 s, 2 rounds
    .venv/bin/python bench/telemetry_off.py --quick             # smoke: 20 targets, 2 s / 4 s
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine, save, start_echo_server, table  # noqa: E402

ARMS = ("unset", "off", "otlp", "memory")

_MEMORY_BOOT = """
import sys
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
import genesys_pulse.telemetry.sdk_setup as setup

def in_memory(env, **kw):
    # SDK providers as the CLI builds them, but in memory: a metric reader
    # collected never (the SDK still aggregates every point) and span/log
    # processors that drop what ends.
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk._logs import LogRecordProcessor

    class Drop(SpanProcessor, LogRecordProcessor):
        def on_emit(self, record): pass
        def emit(self, record): pass
        def shutdown(self): pass
        def force_flush(self, timeout_millis=30000): return True

    tp = TracerProvider()
    tp.add_span_processor(Drop())
    lp = LoggerProvider()
    lp.add_log_record_processor(Drop())
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    return setup.Providers(tp, mp, lp, {"traces": ("memory",), "metrics": ("memory",),
                                        "logs": ("memory",)}, [reader])

setup.configure_from_env = in_memory
from genesys_pulse.cli import main
sys.exit(main(sys.argv[1:]))
"""


class _Drop(BaseHTTPRequestHandler):
    """Accepts any OTLP/HTTP export and drops it (counted)."""

    counts: dict[str, int] = {}

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        _Drop.counts[self.path] = _Drop.counts.get(self.path, 0) + 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _config(path: Path, port: int, n: int, interval: float) -> None:
    lines = ['window = "60s"\n']
    for i in range(n):
        lines.append(
            f'[[targets]]\nid = "bench-{i:05d}"\nkind = "websocket"\n'
            f'url = "ws://127.0.0.1:{port}/"\ninterval = "{interval * 1000:g}ms"\n'
            f'timeout = "{interval * 1000 * 0.8:g}ms"\necho_message = "hello"\n'
        )
    path.write_text("\n".join(lines))


def _env(arm: str, endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(HERE.parent / "src")
    if arm == "off":
        env.update(
            OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none"
        )
    elif arm == "otlp":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    elif arm == "memory":
        env["OTEL_TRACES_EXPORTER"] = "otlp"  # switches the CLI's OTel set-up on
    return env


def _run_cli(arm: str, config: Path, seconds: float, endpoint: str) -> float:
    """CPU seconds (user + system) of one CLI run of *seconds*."""
    args = ["run", "--config", str(config), "--duration", f"{seconds:g}s", "--output", "jsonl"]
    if arm == "memory":
        cmd = [sys.executable, "-c", _MEMORY_BOOT, *args]
    else:
        cmd = [sys.executable, "-m", "genesys_pulse.cli", *args]
    with open(os.devnull, "w") as devnull:
        proc = subprocess.Popen(cmd, env=_env(arm, endpoint), stdout=devnull)
        deadline = time.monotonic() + seconds + 120
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"arm {arm} did not stop")
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"arm {arm} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    echo, port = start_echo_server()
    per_arm: dict[str, list[tuple[float, float]]] = {arm: [] for arm in a.arms}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bench.toml"
            _config(config, port, a.targets, a.interval)
            for rnd in range(a.rounds):
                order = list(a.arms) if rnd % 2 == 0 else list(reversed(a.arms))
                for arm in order:
                    short = _run_cli(arm, config, a.short, endpoint)
                    long = _run_cli(arm, config, a.long, endpoint)
                    per_arm[arm].append((short, long))
                    print(
                        f"round {rnd + 1} {arm:>7}: {short:.2f} s CPU in {a.short:g} s, "
                        f"{long:.2f} s in {a.long:g} s",
                        file=sys.stderr,
                    )
    finally:
        echo.kill()
        echo.wait(5)
        server.shutdown()
    cycles = a.targets * (a.long - a.short) / a.interval
    rows = []
    for arm, runs in per_arm.items():
        marginal = [lg - sh for sh, lg in runs]
        rows.append(
            {
                "arm": arm,
                "long_cpu_s": [lg for _, lg in runs],
                "marginal_cpu_s": marginal,
                "us_per_cycle": [m / cycles * 1e6 for m in marginal],
                "median_us_per_cycle": statistics.median(marginal) / cycles * 1e6,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (smoke)")
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--interval", type=float, default=1.0, help="probe interval, seconds")
    ap.add_argument("--short", type=float, default=5.0, help="seconds of the short run")
    ap.add_argument("--long", type=float, default=25.0, help="seconds of the long run")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    a = ap.parse_args()
    if a.quick:
        a.targets, a.short, a.long, a.rounds = 20, 2.0, 4.0, 1
    t0 = time.time()
    rows = run(a)
    base = next((r for r in rows if r["arm"] == "otlp"), rows[0])["median_us_per_cycle"]
    print(
        f"\nCLI telemetry set-ups, {a.targets} targets x 1/{a.interval:g} s, marginal CPU of "
        f"{a.long - a.short:g} s (runs of {a.long:g} s minus {a.short:g} s), "
        f"{a.rounds} alternating rounds; load {os.getloadavg()[0]:.2f}; machine: {machine()}\n"
    )
    print(
        table(
            ["set-up", "µs/cycle (median)", "per round", "vs otlp", f"CPU s in {a.long:g} s runs"],
            (
                [
                    r["arm"],
                    f"{r['median_us_per_cycle']:.0f}",
                    " / ".join(f"{x:.0f}" for x in r["us_per_cycle"]),
                    f"{r['median_us_per_cycle'] / base:.2f}x",
                    " / ".join(f"{x:.2f}" for x in r["long_cpu_s"]),
                ]
                for r in rows
            ),
        )
    )
    path = save(
        "telemetry_off" + ("_quick" if a.quick else ""),
        {"args": vars(a), "elapsed_s": time.time() - t0, "rows": rows},
    )
    print(f"\nwrote {path} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
