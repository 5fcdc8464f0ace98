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
  that drop (``configure_from_env`` replaced in the child, the CLI unchanged);
* ``off-before``: ``off`` run by the code at ``--baseline`` (the commit before
  "telemetry off is the floor"; ``git archive`` of its ``src/`` into a
  temporary directory, first on the child's ``PYTHONPATH``).

CPU is the child's own, every thread: its steady state read from
``/proc/<pid>/stat`` at ``--warmup`` seconds (imports done, every target
connected) and 1 s before the end, divided by the probe cycles in between
(targets x seconds / interval); and the whole run's (``os.wait4``, start-up
and shutdown included, as the issue's figures were taken).

A second table replays one synthetic stream of samples and window events
through each set-up's telemetry sinks, as the CLI builds them, in this process
(best of the rounds): the telemetry's own cost per cycle without the noise of a
loaded machine.

    .venv/bin/python bench/telemetry_off.py            # 200 targets, 25 s runs, 3 rounds: ~7 min
    .venv/bin/python bench/telemetry_off.py --quick    # smoke: 20 targets, 5 s runs, 1 round
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _arms import extract_baseline  # noqa: E402
from _common import machine, save, start_echo_server, start_otlp_drop_server, table  # noqa: E402

ARMS = ("unset", "off", "off-before", "otlp", "memory")
BASELINE = "e24170c7ce997862ed51e4d5a8937974a3700aa2"
"""The commit before "telemetry off is the floor" (the ``off-before`` arm's code)."""

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


def _config(path: Path, port: int, n: int, interval: float) -> None:
    lines = ['window = "60s"\n']
    for i in range(n):
        lines.append(
            f'[[targets]]\nid = "bench-{i:05d}"\nkind = "websocket"\n'
            f'url = "ws://127.0.0.1:{port}/"\ninterval = "{interval * 1000:g}ms"\n'
            f'timeout = "{interval * 1000 * 0.8:g}ms"\necho_message = "hello"\n'
        )
    path.write_text("\n".join(lines))


def _env(arm: str, endpoint: str, src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(src)
    if arm in ("off", "off-before"):
        env.update(
            OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none"
        )
    elif arm == "otlp":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    elif arm == "memory":
        env["OTEL_TRACES_EXPORTER"] = "otlp"  # switches the CLI's OTel set-up on
    return env


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_cli(
    arm: str, config: Path, a: argparse.Namespace, endpoint: str, src: Path
) -> tuple[float, float]:
    """(CPU seconds of the whole run, CPU seconds from ``--warmup`` to 1 s before the end)."""
    args = ["run", "--config", str(config), "--duration", f"{a.duration:g}s", "--output", "jsonl"]
    if arm == "memory":
        cmd = [sys.executable, "-c", _MEMORY_BOOT, *args]
    else:
        cmd = [sys.executable, "-m", "genesys_pulse.cli", *args]
    with open(os.devnull, "w") as devnull:
        proc = subprocess.Popen(cmd, env=_env(arm, endpoint, src), stdout=devnull)
        started = time.monotonic()
        time.sleep(a.warmup)
        c0 = _proc_cpu(proc.pid)
        time.sleep(a.duration - a.warmup - 1.0)
        c1 = _proc_cpu(proc.pid)
        steady_s = time.monotonic() - started - a.warmup
        deadline = started + a.duration + 120
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
    return usage.ru_utime + usage.ru_stime, (c1 - c0) / steady_s


def run(a: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    server, endpoint = start_otlp_drop_server()
    echo, port = start_echo_server()
    per_arm: dict[str, list[tuple[float, float]]] = {arm: [] for arm in a.arms}
    try:
        replayed = replay(a, endpoint)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bench.toml"
            _config(config, port, a.targets, a.interval)
            src = {arm: HERE.parent / "src" for arm in a.arms}
            if "off-before" in a.arms:
                src["off-before"] = extract_baseline(a.baseline) / "src"
            for rnd in range(a.rounds):
                order = list(a.arms) if rnd % 2 == 0 else list(reversed(a.arms))
                for arm in order:
                    total, share = _run_cli(arm, config, a, endpoint, src[arm])
                    per_arm[arm].append((total, share))
                    print(
                        f"round {rnd + 1} {arm:>10}: {total:.2f} s CPU in {a.duration:g} s, "
                        f"steady {share * 100:.1f} % of a core",
                        file=sys.stderr,
                    )
    finally:
        echo.kill()
        echo.wait(5)
        server.shutdown()
    per_s = a.targets / a.interval  # probe cycles per second
    rows = []
    for arm, runs in per_arm.items():
        steady = [sh / per_s * 1e6 for _, sh in runs]
        rows.append(
            {
                "arm": arm,
                "total_cpu_s": [t for t, _ in runs],
                "steady_us_per_cycle": steady,
                "median_us_per_cycle": statistics.median(steady),
            }
        )
    return rows, replayed


# -- in-process replay: the telemetry sinks alone -----------------------------


def _replay_sinks(arm: str, endpoint: str) -> tuple[list[Any], Any]:
    """The telemetry sinks the CLI builds for *arm* (``off-before``: the previous design)."""
    sys.path.insert(0, str(HERE.parent / "src"))
    from genesys_pulse.cli import _run
    from genesys_pulse.core.config import parse_config
    from genesys_pulse.telemetry import OTelSink

    if arm == "off-before":
        # what the CLI built for OTEL_*_EXPORTER=none before: SDK providers with
        # no processor and no reader, and an OTelSink on them
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider

        sink = OTelSink(
            meter_provider=MeterProvider(metric_readers=[]),
            tracer_provider=TracerProvider(),
            logger_provider=LoggerProvider(),
            window=60.0,
        )
        return [sink], None
    if arm == "memory":
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        reader = InMemoryMetricReader()
        sink = OTelSink(
            meter_provider=MeterProvider(metric_readers=[reader]),
            tracer_provider=TracerProvider(),
            logger_provider=LoggerProvider(),
            window=60.0,
        )
        return [sink], reader
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(_env(arm, endpoint, HERE.parent / "src"))
        config = parse_config({"targets": [{"id": "bench-00000", "url": "ws://127.0.0.1:9/"}]}, {})
        return _run._telemetry_sinks(config)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _stream(targets: int, cycles: int) -> list[Any]:
    """Samples and window events of *targets* x *cycles* 1 s probe cycles (a 60 s window)."""
    from genesys_pulse.core.model import Event, ProbeKind, Sample

    out: list[Any] = []
    names = [f"bench-{i:05d}" for i in range(targets)]
    for k in range(cycles):
        for i, name in enumerate(names):
            rtt = 0.0004 + 0.00001 * ((k * 7 + i) % 13)
            for probe in (ProbeKind.CONTROL, ProbeKind.APPLICATION):
                out.append(
                    Sample(
                        name,
                        probe,
                        k,
                        100.0 + k,
                        100.0 + k + 2e-5,
                        rtt,
                        False,
                        1.8e9 + k,
                        jitter_s=1e-5 if k else None,
                    )
                )
            if k % 60 == 59:
                attrs = {"window_s": 60.0}
                for kind in ("control", "application"):
                    for key, v in (
                        ("count", 60),
                        ("timeouts", 0),
                        ("p50_s", rtt),
                        ("p99_s", rtt),
                        ("stability", 1.0),
                    ):
                        attrs[f"{kind}.{key}"] = v
                out.append(Event(name, "window", 1.8e9 + k, attrs))
    return out


def replay(a: argparse.Namespace, endpoint: str) -> list[dict[str, Any]]:
    """CPU µs per target-cycle of each set-up's telemetry sinks fed the same stream."""
    stream = _stream(a.replay_targets, a.replay_cycles)
    cycles = a.replay_targets * a.replay_cycles
    best: dict[str, float] = {}
    for rnd in range(a.rounds + 1):
        order = list(a.arms) if rnd % 2 == 0 else list(reversed(a.arms))
        for arm in order:
            sinks, keep = _replay_sinks(arm, endpoint)
            t0 = time.process_time()
            for item in stream:
                if hasattr(item, "probe"):
                    for sink in sinks:
                        sink.on_sample(item)
                else:
                    for sink in sinks:
                        sink.on_event(item)
            cpu = time.process_time() - t0
            for sink in sinks:
                sink.close()
            if keep is not None and hasattr(keep, "shutdown"):
                keep.shutdown(1.0)
            if rnd:  # the first round warms imports and caches
                us = cpu / cycles * 1e6
                best[arm] = min(best.get(arm, us), us)
    return [{"arm": arm, "us_per_cycle": best[arm]} for arm in a.arms]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (smoke)")
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--interval", type=float, default=1.0, help="probe interval, seconds")
    ap.add_argument("--duration", type=float, default=25.0, help="seconds of each CLI run")
    ap.add_argument("--warmup", type=float, default=6.0, help="seconds before the steady window")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--baseline", default=BASELINE, help="git revision of the off-before arm")
    ap.add_argument("--replay-targets", type=int, default=200)
    ap.add_argument("--replay-cycles", type=int, default=120)
    a = ap.parse_args()
    if a.quick:
        a.targets, a.duration, a.warmup, a.rounds = 20, 5.0, 2.0, 1
        a.replay_targets, a.replay_cycles = 20, 60
    t0 = time.time()
    rows, replayed = run(a)
    base = next((r for r in rows if r["arm"] == "otlp"), rows[0])["median_us_per_cycle"]
    print(
        f"\nThe CLI (`genesys-pulse run`), {a.targets} plain WebSocket targets x 1/{a.interval:g} s, "
        f"{a.duration:g} s runs, steady-state CPU from {a.warmup:g} s to 1 s before the end "
        f"(/proc), {a.rounds} alternating rounds; load {os.getloadavg()[0]:.2f}; "
        f"machine: {machine()}\n"
    )
    print(
        table(
            [
                "set-up",
                "µs/cycle (median)",
                "per round",
                "vs otlp",
                f"CPU s per {a.duration:g} s run (start-up included)",
            ],
            (
                [
                    r["arm"],
                    f"{r['median_us_per_cycle']:.0f}",
                    " / ".join(f"{x:.0f}" for x in r["steady_us_per_cycle"]),
                    f"{r['median_us_per_cycle'] / base:.2f}x",
                    " / ".join(f"{x:.2f}" for x in r["total_cpu_s"]),
                ]
                for r in rows
            ),
        )
    )
    rbase = next((r for r in replayed if r["arm"] == "otlp"), replayed[0])["us_per_cycle"]
    print(
        f"\nThe telemetry sinks alone, in this process: each set-up's sinks (as the CLI builds "
        f"them) fed the same {a.replay_targets} targets x {a.replay_cycles} cycles of samples "
        "(control + application) and window events; best of the rounds\n"
    )
    print(
        table(
            ["set-up", "µs/cycle", "vs otlp"],
            (
                [r["arm"], f"{r['us_per_cycle']:.2f}", f"{r['us_per_cycle'] / rbase:.2f}x"]
                for r in replayed
            ),
        )
    )
    path = save(
        "telemetry_off" + ("_quick" if a.quick else ""),
        {"args": vars(a), "elapsed_s": time.time() - t0, "rows": rows, "replay": replayed},
    )
    print(f"\nwrote {path} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
