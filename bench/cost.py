"""Cost: CPU time per probe cycle, genesys-pulse against the naive trio-websocket loop.

One probe cycle of genesys-pulse is what a target does per slot: a control
ping, an application (echo) message, both answers matched and timed, the
statistics and threshold machines updated, and both samples recorded through
the real :class:`~genesys_pulse.telemetry.OTelSink` on SDK providers (in-memory
metric reader, batch span/log processors with exporters that drop). The naive
loop does one ``await ws.ping()`` per connection per interval and nothing else.

Both run at the same rate and connection count, one after the other in the same
invocation, each in a process of its own against the echo server (a third
process). CPU is the measured process's ``time.process_time()`` (all its
threads, user + system) over a steady-state window that starts ``--warmup``
seconds after every connection is up: the connect ramp is excluded.

    .venv/bin/python bench/cost.py            # 1, 100, 1000 targets
    .venv/bin/python bench/cost.py --quick    # CI smoke
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _arms import run_arm
from _common import machine, save, start_echo_server, table


def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    echo, port = start_echo_server()
    url = f"ws://127.0.0.1:{port}/"
    try:
        for n in a.targets:
            interval = 0.1 if n == 1 else a.interval
            common = [
                "--url",
                url,
                "--targets",
                str(n),
                "--interval",
                str(interval),
                "--warmup",
                str(a.warmup),
                "--duration",
                str(a.duration),
            ]
            load = os.getloadavg()[0]
            pulse = run_arm(["pulse", *common, "--sink", a.sink], timeout=a.duration + 300)
            naive = run_arm(["naive", *common], timeout=a.duration + 300)
            p_cycle = pulse["cpu_s"] / max(1, pulse["slots"])
            n_cycle = naive["cpu_s"] / max(1, naive["probes"])
            rows.append(
                {
                    "targets": n,
                    "interval_s": interval,
                    "pulse_cycles": pulse["slots"],
                    "pulse_cpu_per_cycle_s": p_cycle,
                    "pulse_user_s": pulse["user_s"],
                    "pulse_sys_s": pulse["sys_s"],
                    "pulse_cpu_share": pulse["cpu_s"] / pulse["wall_s"],
                    "pulse_control_p99_s": pulse["control_rtt_p99_s"],
                    "naive_pings": naive["probes"],
                    "naive_cpu_per_ping_s": n_cycle,
                    "naive_user_s": naive["user_s"],
                    "naive_sys_s": naive["sys_s"],
                    "naive_cpu_share": naive["cpu_s"] / max(1e-9, naive["wall_s"]),
                    "naive_p99_s": naive["rtt_p99_s"],
                    "ratio": p_cycle / n_cycle if n_cycle else float("nan"),
                    "load1": round(load, 2),
                    "pulse": pulse,
                    "naive": naive,
                }
            )
    finally:
        echo.kill()
        echo.wait(5)
    return rows


def us(x: float) -> str:
    return f"{x * 1e6:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    ap.add_argument("--targets", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument("--interval", type=float, default=1.0, help="probe interval (1 target: 0.1)")
    ap.add_argument("--duration", type=float, default=15.0, help="measuring window (s)")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--sink", default="otel-memory", choices=["none", "otel-noop", "otel-memory"])
    a = ap.parse_args()
    if a.quick:
        a.targets, a.duration, a.warmup = [1, 3], 1.0, 0.3
    t0 = time.time()
    rows = run(a)
    print(f"\nCPU per probe cycle (µs, user+system, steady state); machine: {machine()}\n")
    print(
        table(
            [
                "targets",
                "interval s",
                "pulse µs/cycle (ctrl+app+stats+OTel)",
                "naive µs/ping",
                "pulse/naive",
                "pulse CPU %",
                "naive CPU %",
                "pulse sys share",
                "naive sys share",
                "load",
            ],
            (
                [
                    r["targets"],
                    r["interval_s"],
                    us(r["pulse_cpu_per_cycle_s"]),
                    us(r["naive_cpu_per_ping_s"]),
                    f"{r['ratio']:.2f}",
                    f"{r['pulse_cpu_share'] * 100:.1f}",
                    f"{r['naive_cpu_share'] * 100:.1f}",
                    _share(r["pulse_sys_s"], r["pulse_user_s"]),
                    _share(r["naive_sys_s"], r["naive_user_s"]),
                    r["load1"],
                ]
                for r in rows
            ),
        )
    )
    path = save(
        "cost" + ("_quick" if a.quick else ""),
        {"args": vars(a), "elapsed_s": time.time() - t0, "rows": rows},
    )
    print(f"\nwrote {path}")


def _share(sys_s: float, user_s: float) -> str:
    total = sys_s + user_s
    return f"{sys_s / total * 100:.0f} %" if total else "—"


if __name__ == "__main__":
    main()
