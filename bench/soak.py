"""Real-time soak: the monitor in this process, the emulator in a subprocess.

Prints one line per report period (default a minute) with this process's RSS,
open file descriptors, trio task count, probes sent, timeouts, the largest gap
between two consecutive probes of one target and kind, the largest send
lateness (sent - scheduled), connections lost; then a final table.

Usage::

    .venv/bin/python bench/soak.py --duration 10m --targets 5
    .venv/bin/python bench/soak.py --duration 2h --targets 20 --interval 1 --scenario flaky

The emulator runs as ``genesys-pulse emulator`` (loopback, its own process), so
the figures are the monitor's alone. Exit status 1 if a probe slot went missing,
or if RSS grew by more than ``--max-rss-growth`` MiB after the first report.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import trio

from genesys_pulse.core.config import parse_config, parse_duration, with_credentials
from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.monitor import run_monitor


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def task_count() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    return walk(root) if root is not None else 0


@dataclass
class Period:
    probes: int = 0
    timeouts: int = 0
    max_gap: float = 0.0
    max_late: float = 0.0
    lost: int = 0
    rtts: list[float] = field(default_factory=list)


@dataclass
class SoakSink:
    """Per-period figures and whole-run slot bookkeeping (bounded memory)."""

    period: Period = field(default_factory=Period)
    last: dict[tuple[str, ProbeKind], tuple[int, float | None]] = field(default_factory=dict)
    missing: int = 0
    total_probes: int = 0
    total_timeouts: int = 0
    total_lost: int = 0
    max_gap: float = 0.0
    max_late: float = 0.0
    all_rtts: list[float] = field(default_factory=list)

    def on_sample(self, s: Sample) -> None:
        if s.probe is ProbeKind.HEARTBEAT:
            return
        p = self.period
        p.probes += 1
        self.total_probes += 1
        key = (s.target, s.probe)
        prev = self.last.get(key)
        self.last[key] = (s.seq, s.sent_mono)
        if prev is not None:
            if s.seq != prev[0] + 1:
                self.missing += s.seq - prev[0] - 1
            if s.sent_mono is not None and prev[1] is not None:
                gap = s.sent_mono - prev[1]
                p.max_gap = max(p.max_gap, gap)
                self.max_gap = max(self.max_gap, gap)
        if s.sent_mono is not None:
            late = s.sent_mono - s.scheduled_mono
            p.max_late = max(p.max_late, late)
            self.max_late = max(self.max_late, late)
        if s.timed_out:
            p.timeouts += 1
            self.total_timeouts += 1
        elif s.rtt_s is not None and len(p.rtts) < 200_000:
            p.rtts.append(s.rtt_s)

    def on_event(self, e: Event) -> None:
        if e.name == "connection.lost":
            self.period.lost += 1
            self.total_lost += 1

    def take(self) -> Period:
        p, self.period = self.period, Period()
        if len(self.all_rtts) < 1_000_000:
            self.all_rtts.extend(p.rtts)
        return p


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def start_emulator(args: argparse.Namespace, secret: str) -> tuple[subprocess.Popen[bytes], dict]:
    exe = Path(sys.executable).parent / "genesys-pulse"
    cmd = [str(exe), "emulator", "--heartbeat-period", str(args.heartbeat), "--seed", "1"]
    if args.scenario:
        cmd += ["--scenario", args.scenario]
    env = dict(os.environ, GENESYS_PULSE_EMULATOR_CLIENT_SECRET=secret)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the emulator did not start")
    return proc, json.loads(line)


async def soak(args: argparse.Namespace, info: dict, secret: str) -> int:
    targets = [
        {
            "id": f"soak-target-{i:03d}",
            "kind": "genesys",
            "login_url": info["login_url"],
            "api_url": info["api_url"],
            "interval": args.interval,
            "timeout": min(args.interval, 1.0),
            "heartbeat_period": args.heartbeat,
        }
        for i in range(args.targets)
    ]
    config = with_credentials(
        parse_config({"targets": targets}, {}),
        info["client_id"],
        secret,
        info["login_url"],
        info["api_url"],
    )
    sink = SoakSink()
    duration = parse_duration(args.duration)
    report = parse_duration(args.report_every)
    rows: list[tuple[float, float, int, int]] = []
    header = (
        f"{'t':>8} {'RSS MiB':>8} {'fds':>5} {'tasks':>6} {'probes':>8} {'timeouts':>8} "
        f"{'max gap s':>9} {'max late ms':>11} {'lost':>5} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header, flush=True)
    t_real0 = time.monotonic()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: run_monitor(
                config, sinks=[sink], rng=random.Random(1), task_status=task_status
            )
        )
        start = trio.current_time()
        k = 1
        while k * report <= duration + 1e-9:
            await trio.sleep_until(start + k * report)
            p = sink.take()
            rss, fds, tasks = rss_mib(), fd_count(), task_count()
            rows.append((k * report, rss, fds, tasks))
            print(
                f"{k * report:>7.0f}s {rss:>8.1f} {fds:>5} {tasks:>6} {p.probes:>8} {p.timeouts:>8} "
                f"{p.max_gap:>9.3f} {p.max_late * 1000:>11.2f} {p.lost:>5} "
                f"{pct(p.rtts, 50) * 1000:>7.2f} {pct(p.rtts, 99) * 1000:>7.2f}",
                flush=True,
            )
            k += 1
        nursery.cancel_scope.cancel()
    real = time.monotonic() - t_real0
    rss = [r[1] for r in rows]
    fds = [r[2] for r in rows]
    tasks = [r[3] for r in rows]
    growth = rss[-1] - rss[0] if rss else 0.0
    print()
    print("| figure | value |")
    print("|---|---|")
    for name, value in [
        ("duration", f"{real:.0f} s real, {args.targets} targets at {args.interval:g} s"),
        ("probes", f"{sink.total_probes}"),
        ("missing slots", f"{sink.missing}"),
        ("timeouts", f"{sink.total_timeouts}"),
        ("connections lost", f"{sink.total_lost}"),
        ("largest probe gap", f"{sink.max_gap:.3f} s (interval {args.interval:g} s)"),
        ("largest send lateness", f"{sink.max_late * 1000:.2f} ms"),
        (
            "RTT p50 / p99",
            f"{pct(sink.all_rtts, 50) * 1000:.2f} / {pct(sink.all_rtts, 99) * 1000:.2f} ms",
        ),
        ("RSS first / last / max", f"{rss[0]:.1f} / {rss[-1]:.1f} / {max(rss):.1f} MiB"),
        ("RSS growth after first report", f"{growth:+.1f} MiB"),
        ("open fds min / max", f"{min(fds)} / {max(fds)}"),
        ("trio tasks min / max", f"{min(tasks)} / {max(tasks)}"),
    ]:
        print(f"| {name} | {value} |")
    ok = sink.missing == 0 and growth <= args.max_rss_growth
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="10m", help="how long, e.g. 10m, 2h (default 10m)")
    parser.add_argument("--targets", type=int, default=5, help="Genesys targets (default 5)")
    parser.add_argument("--interval", type=float, default=1.0, help="probe interval s (default 1)")
    parser.add_argument("--heartbeat", type=float, default=30.0, help="heartbeat period s")
    parser.add_argument("--scenario", default=None, help="emulator scenario (e.g. flaky)")
    parser.add_argument("--report-every", default="1m", help="report period (default 1m)")
    parser.add_argument(
        "--max-rss-growth", type=float, default=20.0, help="MiB allowed after the first report"
    )
    args = parser.parse_args()
    secret = secrets.token_urlsafe(24)
    proc, info = start_emulator(args, secret)
    try:
        return trio.run(soak, args, info, secret)
    except KeyboardInterrupt:
        return 130
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
