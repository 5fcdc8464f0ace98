"""OpenTelemetry overhead: the same monitor run with the SDK + OTLP exporters vs no-op providers.

Arms, each in a process of its own, one after the other against the same echo
server (its own process), same targets and rate:

* ``otel-noop``: :class:`~genesys_pulse.telemetry.OTelSink` on the API's no-op
  meter/tracer/logger providers (the sink's own mapping work, nothing recorded);
* ``otel-otlp``: the CLI's SDK set-up (``telemetry.sdk_setup.configure_from_env``)
  with OTLP/HTTP protobuf exporters for metrics (every 5 s), spans and logs
  (batch processors), exporting to a local HTTP receiver in this process that
  accepts and drops every request (counted).

Reported per arm: CPU per probe cycle and CPU share over the steady-state
window, RSS, control RTT p99 and send-time error p99; the overhead is the
difference.

    .venv/bin/python bench/otel_overhead.py              # 1000 targets x 1/s
    .venv/bin/python bench/otel_overhead.py --quick      # CI smoke
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _arms import run_arm
from _common import machine, save, start_echo_server, table


class _Drop(BaseHTTPRequestHandler):
    """Accepts any OTLP/HTTP export and drops it."""

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


def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    echo, port = start_echo_server()
    rows = []
    try:
        for sink in a.arms:
            load = os.getloadavg()[0]
            _Drop.counts.clear()
            r = run_arm(
                [
                    "pulse",
                    "--url",
                    f"ws://127.0.0.1:{port}/",
                    "--targets",
                    str(a.targets),
                    "--interval",
                    str(a.interval),
                    "--warmup",
                    str(a.warmup),
                    "--duration",
                    str(a.duration),
                    "--sink",
                    sink,
                    "--otlp-endpoint",
                    endpoint,
                ],
                timeout=a.duration + 300,
            )
            rows.append(
                {
                    "sink": sink,
                    "targets": a.targets,
                    "interval_s": a.interval,
                    "cycles": r["slots"],
                    "cpu_per_cycle_s": r["cpu_s"] / max(1, r["slots"]),
                    "cpu_share": r["cpu_s"] / r["wall_s"],
                    "rss_mib": r["rss_mib"],
                    "control_rtt_p99_s": r["control_rtt_p99_s"],
                    "send_err_p99_s": r["send_err_p99_s"],
                    "timeouts": r["timeouts"],
                    "exports": dict(_Drop.counts),
                    "load1": round(load, 2),
                }
            )
    finally:
        echo.kill()
        echo.wait(5)
        server.shutdown()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--arms", nargs="+", default=["otel-noop", "otel-otlp"])
    a = ap.parse_args()
    if a.quick:
        a.targets, a.interval, a.duration, a.warmup = 3, 0.2, 1.0, 0.3
    t0 = time.time()
    rows = run(a)
    base = rows[0]["cpu_per_cycle_s"]
    print(f"\nOpenTelemetry overhead; machine: {machine()}\n")
    print(
        table(
            [
                "providers",
                "targets x interval",
                "µs/cycle",
                "overhead µs/cycle",
                "CPU %",
                "RSS MiB",
                "ctrl RTT p99 ms",
                "send err p99 ms",
                "timeouts",
                "OTLP requests",
                "load",
            ],
            (
                [
                    r["sink"],
                    f"{r['targets']} x {r['interval_s']:g} s",
                    f"{r['cpu_per_cycle_s'] * 1e6:.0f}",
                    f"{(r['cpu_per_cycle_s'] - base) * 1e6:+.0f}",
                    f"{r['cpu_share'] * 100:.1f}",
                    f"{r['rss_mib']:.0f}",
                    f"{r['control_rtt_p99_s'] * 1000:.2f}",
                    f"{r['send_err_p99_s'] * 1000:.2f}",
                    r["timeouts"],
                    sum(r["exports"].values()),
                    r["load1"],
                ]
                for r in rows
            ),
        )
    )
    path = save(
        "otel_overhead" + ("_quick" if a.quick else ""),
        {"args": vars(a), "elapsed_s": time.time() - t0, "rows": rows},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
