"""The audit journal under a timeout storm: probe send-time error and CPU, with and without it.

A silent server (``bench/_echo_server.py --silent``) accepts every WebSocket
and answers nothing, so every probe of every target times out and every
timeout is an audit record. Three arms in the same run, each in its own
process against the same server:

* ``no journal``: the monitor alone (no telemetry sink);
* ``journal (syncer)``: the audit journal as shipped, ``fsync="always"``, the
  ``fsync`` done by the journal's syncer thread;
* ``journal (inline fsync)``: the previous design, ``fsync`` on the event loop
  after every record (kept here as the baseline).

Figures per arm over ``--duration`` seconds after ``--warmup``: CPU per probe
cycle (process CPU time / slots, all threads), send-time error p50/p99/max
(``Sample.sent_mono - Sample.scheduled_mono``), timed-out samples, how many of
them were taken while the monitor's own loop was stalled (those are flagged
``local_stall`` and, by design, are not reported as timeout events, so a
journal that stalls the loop also thins the audit trail), and the journal
records written over the whole run. The journal lives in ``--dir`` (default: a temporary
directory on the same disk as the checkout; point it at the disk you deploy on).

    .venv/bin/python bench/journal_cost.py            # 200 targets x 1/s, 20 s
    .venv/bin/python bench/journal_cost.py --quick    # CI smoke
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _arms import run_arm
from _common import machine, save, start_echo_server, table

ARMS = (("no journal", None), ("journal (syncer)", "always"), ("journal (inline fsync)", "inline"))


def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    server, port = start_echo_server("--silent")
    base = Path(a.dir) if a.dir else Path(__file__).resolve().parent / "results"
    base.mkdir(parents=True, exist_ok=True)
    try:
        for name, mode in ARMS:
            with tempfile.TemporaryDirectory(dir=base) as tmp:
                args = [
                    "pulse",
                    "--url",
                    f"ws://127.0.0.1:{port}/",
                    "--targets",
                    str(a.targets),
                    "--interval",
                    str(a.interval),
                    "--timeout",
                    str(a.interval / 2),
                    "--warmup",
                    str(a.warmup),
                    "--duration",
                    str(a.duration),
                ]
                if mode is not None:
                    args += ["--journal", str(Path(tmp) / "journal.jsonl"), "--journal-mode", mode]
                r = run_arm(args, timeout=a.duration + a.warmup + 300)
            slots = max(1, r["slots"])
            rows.append(
                {
                    "arm": name,
                    "targets": a.targets,
                    "interval_s": a.interval,
                    "cycles": r["slots"],
                    "cpu_per_cycle_s": r["cpu_s"] / slots,
                    "cpu_share": r["cpu_s"] / r["wall_s"],
                    "send_err_p50_s": r["send_err_p50_s"],
                    "send_err_p99_s": r["send_err_p99_s"],
                    "send_err_max_s": r["send_err_max_s"],
                    "timeouts": r["timeouts"],
                    "stalled": r["stalled"],
                    "journal_records": r.get("journal_records", 0),
                }
            )
    finally:
        server.kill()
        server.wait(5)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--dir", default=None, help="where the journals are written")
    ap.add_argument("--quick", action="store_true", help="tiny run (CI smoke)")
    a = ap.parse_args()
    if a.quick:
        a.targets, a.warmup, a.duration = 5, 1.0, 2.0
    rows = run(a)
    print(f"# Audit journal under a timeout storm ({machine()})\n")
    print(
        table(
            [
                "arm",
                "targets x rate",
                "cycles",
                "CPU µs/cycle",
                "CPU share",
                "send err p50 ms",
                "send err p99 ms",
                "send err max ms",
                "timeouts",
                "of them in a local stall",
                "journal records",
            ],
            [
                [
                    r["arm"],
                    f"{r['targets']} x 1/{r['interval_s']:g}s",
                    r["cycles"],
                    f"{r['cpu_per_cycle_s'] * 1e6:.0f}",
                    f"{r['cpu_share'] * 100:.1f} %",
                    f"{r['send_err_p50_s'] * 1000:.3f}",
                    f"{r['send_err_p99_s'] * 1000:.3f}",
                    f"{r['send_err_max_s'] * 1000:.3f}",
                    r["timeouts"],
                    r["stalled"],
                    r["journal_records"],
                ]
                for r in rows
            ],
        )
    )
    path = save("journal_cost_quick" if a.quick else "journal_cost", {"rows": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
