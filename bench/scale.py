"""Scale: many targets in one process against an echo server in another process.

Default configurations: 1,000 targets at 1 probe/s and 10,000 targets at one
probe per 5 s (control ping + echo message per slot, OTelSink on SDK providers
with a dropping exporter unless ``--sink`` says otherwise). Three arms per
configuration, one after the other in the same invocation, against the same
echo server: ``pulse`` (this checkout: one driver for every target),
``baseline`` (the previous design, ``--baseline COMMIT``, default e24170c, its
own ``bench/_arms.py`` on its own ``src``) and ``naive`` (the trio-websocket
loop, one control ping and one application echo per cycle; it has no send
schedule, so no send-time error). After every target is connected and
``--warmup`` seconds, over ``--duration`` seconds:

* CPU share: process CPU time (user + system, all threads) / wall time;
* RSS at the end of the window;
* send-time error: ``Sample.sent_mono - Sample.scheduled_mono`` of the control
  ping (the first write of each slot), p50/p99/max;
* RTT error p99: control RTT p99 minus the floor (p50 RTT of a raw-socket
  WebSocket ping to the same server, measured in the same run);
* false timeouts: timed-out samples (the server answers every probe, so each
  one is false), and how many targets reconnected during the window.

    .venv/bin/python bench/scale.py                      # 1000 x 1/s and 10000 x 1/5s
    .venv/bin/python bench/scale.py --configs 10000x5    # the issue's target only
    .venv/bin/python bench/scale.py --quick              # CI smoke
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _arms import extract_baseline, run_arm
from _common import machine, save, start_echo_server, table


def _row(
    arm: str, n: int, interval: float, r: dict[str, Any], floor: float, load: float
) -> dict[str, Any]:
    if arm == "naive":
        cycles = int(r["probes"])
        return {
            "arm": arm,
            "targets": n,
            "interval_s": interval,
            "connected": r["connected"],
            "cycles": cycles,
            "cpu_share": r["cpu_s"] / max(1e-9, r["wall_s"]),
            "cpu_per_cycle_s": r["cpu_s"] / max(1, cycles),
            "rss_mib": r["rss_mib"],
            "send_err_p50_s": float("nan"),
            "send_err_p99_s": float("nan"),
            "send_err_max_s": float("nan"),
            "rtt_err_p99_s": r["rtt_p99_s"] - floor,
            "app_rtt_err_p99_s": r["app_rtt_p99_s"] - floor,
            "false_timeouts": r["timeouts"],
            "reconnected_targets": float("nan"),
            "load1": round(load, 2),
            "raw": r,
        }
    return {
        "arm": arm,
        "targets": n,
        "interval_s": interval,
        "connected": r["connected"],
        "connect_s": r["connect_s"],
        "cycles": r["slots"],
        "cpu_share": r["cpu_s"] / r["wall_s"],
        "cpu_per_cycle_s": r["cpu_s"] / max(1, r["slots"]),
        "rss_mib": r["rss_mib"],
        "send_err_p50_s": r["send_err_p50_s"],
        "send_err_p99_s": r["send_err_p99_s"],
        "send_err_max_s": r["send_err_max_s"],
        "floor_p50_s": floor,
        "control_rtt_p50_s": r["control_rtt_p50_s"],
        "control_rtt_p99_s": r["control_rtt_p99_s"],
        "rtt_err_p99_s": r["control_rtt_p99_s"] - floor,
        "app_rtt_err_p99_s": r["application_rtt_p99_s"] - floor,
        "false_timeouts": r["timeouts"],
        "reconnected_targets": r["reconnected_targets"],
        "gc_collections": r["gc_collections"],
        "load1": round(load, 2),
        "raw": r,
    }


def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    baseline = None if a.baseline == "none" else extract_baseline(a.baseline)
    echo, port = start_echo_server()
    try:
        floor = run_arm(
            ["raw", "--port", str(port), "--count", str(a.floor_count), "--interval", "0.01"],
            timeout=120,
        )
        for spec in a.configs:
            n_s, _, iv_s = spec.partition("x")
            n, interval = int(n_s), float(iv_s)
            load = os.getloadavg()[0]
            args = [
                "pulse",
                "--url",
                f"ws://127.0.0.1:{port}/",
                "--targets",
                str(n),
                "--interval",
                str(interval),
                "--warmup",
                str(a.warmup),
                "--duration",
                str(a.duration),
                "--sink",
                a.sink,
                "--connect-limit",
                "240",
            ]
            limit = a.duration + a.warmup + 400
            f50 = floor["rtt_p50_s"]
            prof = ["--profile", f"{a.profile}.{n}x{interval:g}.prof"] if a.profile else []
            r = run_arm([*args, *prof], timeout=limit)
            rows.append(_row("pulse", n, interval, r, f50, load))
            if baseline is not None:
                load = os.getloadavg()[0]
                r = run_arm(args, timeout=limit, baseline=baseline)
                rows.append(_row(f"baseline {a.baseline}", n, interval, r, f50, load))
            if not a.no_naive:
                load = os.getloadavg()[0]
                naive = ["naive", "--app", *args[1 : args.index("--sink")]]
                naive += ["--connect-limit", "240"]
                r = run_arm(naive, timeout=limit)
                rows.append(_row("naive", n, interval, r, f50, load))
    finally:
        echo.kill()
        echo.wait(5)
    return rows


def ms(x: float) -> str:
    return "—" if x != x else f"{x * 1000:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    ap.add_argument(
        "--configs",
        nargs="+",
        default=["1000x1", "10000x5"],
        help="TARGETSxINTERVAL, e.g. 1000x1",
    )
    ap.add_argument("--duration", type=float, default=30.0, help="measuring window (s)")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--floor-count", type=int, default=300)
    ap.add_argument("--sink", default="otel-memory", choices=["none", "otel-noop", "otel-memory"])
    ap.add_argument("--profile", default=None, help="cProfile the window to PREFIX.*.prof")
    ap.add_argument(
        "--baseline",
        default="e24170c",
        help="the previous design's commit, measured in the same run ('none': skip)",
    )
    ap.add_argument("--no-naive", action="store_true", help="skip the naive trio-websocket arm")
    a = ap.parse_args()
    if a.quick:
        a.configs, a.duration, a.warmup, a.floor_count = ["5x0.2"], 1.0, 0.3, 20
    t0 = time.time()
    rows = run(a)
    print(f"\nScale (sink: {a.sink}); machine: {machine()}\n")
    print(
        table(
            [
                "targets x interval",
                "arm",
                "CPU % of one core",
                "µs/cycle",
                "RSS MiB",
                "send err p50 ms",
                "send err p99 ms",
                "send err max ms",
                "RTT err p99 ms (ctrl)",
                "RTT err p99 ms (app)",
                "false timeouts",
                "reconnects",
                "load",
            ],
            (
                [
                    f"{r['targets']} x {r['interval_s']:g} s",
                    r["arm"],
                    f"{r['cpu_share'] * 100:.1f}",
                    f"{r['cpu_per_cycle_s'] * 1e6:.0f}",
                    f"{r['rss_mib']:.0f}",
                    ms(r["send_err_p50_s"]),
                    ms(r["send_err_p99_s"]),
                    ms(r["send_err_max_s"]),
                    ms(r["rtt_err_p99_s"]),
                    ms(r["app_rtt_err_p99_s"]),
                    r["false_timeouts"],
                    "—"
                    if r["reconnected_targets"] != r["reconnected_targets"]
                    else r["reconnected_targets"],
                    r["load1"],
                ]
                for r in rows
            ),
        )
    )
    path = save(
        "scale" + ("_quick" if a.quick else ""),
        {"args": vars(a), "elapsed_s": time.time() - t0, "rows": rows},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
