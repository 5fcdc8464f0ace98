"""Cost: CPU time per probe cycle -- this design, the previous design and the naive loop.

One probe cycle of genesys-pulse is what a target does per slot: a control
ping, an application (echo) message, both answers matched and timed, the
statistics and threshold machines updated, and both samples recorded through
the telemetry. Arms, each in a process of its own, one after the other in the
same invocation against the same echo server (a third process), at the same
rate and connection count:

* ``pulse``: this checkout (one driver task for every target's slots);
* ``baseline``: the previous design, the commit given by ``--baseline``
  (default e24170c: a task and a cancel scope per target and slot), its own
  ``bench/_arms.py`` on its own ``src`` (``git archive COMMIT src bench``);
* ``naive``: the trio-websocket loop people write first, doing what a probe
  cycle does -- one control ping **and** one application echo per cycle;
* ``naive ctrl``: the same loop with the control ping only (the figure earlier
  versions of this benchmark compared against).

Each pulse/baseline pair runs with two telemetry set-ups:

* ``noop+jsonl``: :class:`~genesys_pulse.telemetry.OTelSink` on the API's no-op
  providers and the CLI's JSONL output written to ``/dev/null``;
* ``sdk+otlp``: the CLI's SDK set-up (``sdk_setup.configure_from_env``) with
  OTLP/HTTP exporters to a local receiver that drops every export.

CPU is the measured process's ``time.process_time()`` (all its threads, user +
system) over a steady-state window that starts ``--warmup`` seconds after
every connection is up: the connect ramp is excluded. Ratios are taken between
arms of the same invocation only.

    .venv/bin/python bench/cost.py                 # 1, 200, 1000 targets (~10 min)
    .venv/bin/python bench/cost.py --quick         # CI smoke (~1 min)
    .venv/bin/python bench/cost.py --baseline none # without the previous design
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
from _common import machine, save, start_echo_server, start_otlp_drop_server, table

TELEMETRY = {
    "noop+jsonl": ["--sink", "otel-noop", "--jsonl", os.devnull],
    "sdk+otlp": ["--sink", "otel-otlp"],
}


def _per_cycle(r: dict[str, Any], key: str = "slots") -> float:
    return float(r["cpu_s"]) / max(1, int(r[key]))


def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    baseline = None if a.baseline == "none" else extract_baseline(a.baseline)
    otlp, endpoint = start_otlp_drop_server()
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
                "--otlp-endpoint",
                endpoint,
            ]
            limit = a.duration + a.warmup + 300
            load = os.getloadavg()[0]
            naive = run_arm(["naive", *common, "--app"], timeout=limit)
            naive_ctrl = run_arm(["naive", *common], timeout=limit)
            n_cycle = _per_cycle(naive, "probes")
            n_ping = _per_cycle(naive_ctrl, "probes")
            for tel in a.telemetry:
                pulse = run_arm(["pulse", *common, *TELEMETRY[tel]], timeout=limit)
                base = (
                    run_arm(["pulse", *common, *TELEMETRY[tel]], timeout=limit, baseline=baseline)
                    if baseline is not None
                    else None
                )
                p_cycle = _per_cycle(pulse)
                b_cycle = _per_cycle(base) if base is not None else float("nan")
                rows.append(
                    {
                        "targets": n,
                        "interval_s": interval,
                        "telemetry": tel,
                        "pulse_cycles": pulse["slots"],
                        "pulse_cpu_per_cycle_s": p_cycle,
                        "baseline_cpu_per_cycle_s": b_cycle,
                        "naive_cpu_per_cycle_s": n_cycle,
                        "naive_ctrl_cpu_per_ping_s": n_ping,
                        "ratio_naive": p_cycle / n_cycle if n_cycle else float("nan"),
                        "ratio_naive_ctrl": p_cycle / n_ping if n_ping else float("nan"),
                        "baseline_ratio_naive": b_cycle / n_cycle if n_cycle else float("nan"),
                        "ratio_baseline": p_cycle / b_cycle if b_cycle else float("nan"),
                        "pulse_cpu_share": pulse["cpu_s"] / pulse["wall_s"],
                        "baseline_cpu_share": (
                            base["cpu_s"] / base["wall_s"] if base is not None else float("nan")
                        ),
                        "naive_cpu_share": naive["cpu_s"] / max(1e-9, naive["wall_s"]),
                        "pulse_control_p99_s": pulse["control_rtt_p99_s"],
                        "pulse_timeouts": pulse["timeouts"],
                        "naive_timeouts": naive["timeouts"],
                        "load1": round(load, 2),
                        "pulse": pulse,
                        "baseline": base,
                        "naive": naive,
                        "naive_ctrl": naive_ctrl,
                    }
                )
    finally:
        echo.kill()
        echo.wait(5)
        otlp.shutdown()
    return rows


def us(x: float) -> str:
    return "—" if x != x else f"{x * 1e6:.0f}"


def ratio(x: float) -> str:
    return "—" if x != x else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    ap.add_argument("--targets", type=int, nargs="+", default=[1, 200, 1000])
    ap.add_argument("--interval", type=float, default=1.0, help="probe interval (1 target: 0.1)")
    ap.add_argument("--duration", type=float, default=15.0, help="measuring window (s)")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--telemetry", nargs="+", default=list(TELEMETRY), choices=list(TELEMETRY))
    ap.add_argument(
        "--baseline",
        default="e24170c",
        help="the previous design's commit, measured in the same run ('none': skip)",
    )
    a = ap.parse_args()
    if a.quick:
        a.targets, a.duration, a.warmup = [1, 3], 1.0, 0.3
    t0 = time.time()
    rows = run(a)
    print(
        "\nCPU per probe cycle (µs, user+system, steady state; a cycle = control ping + "
        f"application echo); baseline {a.baseline}; machine: {machine()}\n"
    )
    print(
        table(
            [
                "targets",
                "telemetry",
                "pulse µs/cycle",
                "baseline µs/cycle",
                "naive µs/cycle (ctrl+echo)",
                "naive µs/ping (ctrl only)",
                "pulse/naive",
                "baseline/naive",
                "pulse/baseline",
                "pulse CPU %",
                "load",
            ],
            (
                [
                    r["targets"],
                    r["telemetry"],
                    us(r["pulse_cpu_per_cycle_s"]),
                    us(r["baseline_cpu_per_cycle_s"]),
                    us(r["naive_cpu_per_cycle_s"]),
                    us(r["naive_ctrl_cpu_per_ping_s"]),
                    ratio(r["ratio_naive"]),
                    ratio(r["baseline_ratio_naive"]),
                    ratio(r["ratio_baseline"]),
                    f"{r['pulse_cpu_share'] * 100:.1f}",
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


if __name__ == "__main__":
    main()
