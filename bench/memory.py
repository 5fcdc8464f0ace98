"""Memory (and record-path CPU) of the per-target statistics, before vs after, in one run.

Builds ``--targets`` targets' worth of the per-target statistics the way
``src/genesys_pulse/monitor/_target.py`` builds them (``_KindState`` and
``TargetProbe.__init__``: one control, one application and one heartbeat
``KindStats`` per target, with 4 + 4 + 1 threshold machines, default
thresholds), feeds each a steady-state stream and measures:

* **bytes per target** (tracemalloc, everything still allocated once the
  targets are built and fed, divided by the count), and gc-tracked objects per
  target (``gc.get_objects()``);
* a **breakdown by structure**: the marginal deep size (``sys.getsizeof`` over
  every object reachable from the structure and not from another target or a
  module, so shared configuration counts nothing) of one target;
* **CPU per sample** of the record path (``timeit``, best of several rounds):
  ``KindStats.record`` alone, and with the threshold machines as ``_target``
  feeds them.

The stream per probe kind: ``--samples`` slots (>= 300 so every ring fills),
RTTs log-uniform over 0.2-50 ms (a wide spread: the histograms span the most
buckets), 1 % timeouts; heartbeat gaps of 30 s +- 50 ms, one per 30 slots.
After the stream each kind gives one window summary and the run summary (as a
window event does) and then records a few more slots, as in steady state.

The *before* figures come from the code at ``--baseline`` (the commit before
the statistics were made lean): ``git archive`` of its ``src/genesys_pulse``
into a temporary directory, imported by a subprocess; *after* is the working
tree. Each arm runs in a process of its own.

    .venv/bin/python bench/memory.py            # 1,000 targets, ~1 min
    .venv/bin/python bench/memory.py --quick    # CI smoke
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import subprocess
import sys
import tempfile
import timeit
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "8ae2ef36411bdc40082924d7d675b78b8bee19c3"
"""The commit the lean statistics started from."""
WINDOW_BASELINE = "e24170c7ce997862ed51e4d5a8937974a3700aa2"
"""The commit before window summaries without allocation bursts."""

_LOG_LO = math.log(0.2e-3)
_LOG_HI = math.log(50e-3)


# -- the measured process ------------------------------------------------------


class _KindState:
    """``monitor._target._KindState``'s shape (its slots)."""

    __slots__ = ("consecutive", "kind", "machines", "min_stability_slots", "stats")

    def __init__(self, **kw: Any) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


def _kind_state(kind: Any, cfg: Any) -> _KindState:
    """What ``monitor._target._KindState.__init__`` allocates (stats + machines)."""
    from genesys_pulse.core._thresholds import Direction, ThresholdMachine
    from genesys_pulse.core.model import ProbeKind
    from genesys_pulse.monitor._stats import KindStats

    th = cfg["thresholds"]
    hy = th.hysteresis
    critical = th.rtt_control.critical if kind is ProbeKind.CONTROL else th.rtt_application.critical
    period = cfg["heartbeat_period"] if kind is ProbeKind.HEARTBEAT else None
    stats = KindStats(cfg["stability_window"], critical, period)
    crit = th.stability.critical
    need = math.ceil(1.0 / (1.0 - crit)) if crit < 1.0 else cfg["stability_window"]
    machines: dict[str, Any] = {}
    if kind is ProbeKind.HEARTBEAT:
        machines["heartbeat_silence"] = ThresholdMachine.from_levels(
            "heartbeat_silence", th.heartbeat_silence, hy
        )
    else:
        rtt = th.rtt_control if kind is ProbeKind.CONTROL else th.rtt_application
        machines["rtt"] = ThresholdMachine.from_levels("rtt", rtt, hy)
        machines["jitter"] = ThresholdMachine.from_levels("jitter", th.jitter, hy)
        machines["stability"] = ThresholdMachine.from_levels(
            "stability", th.stability, hy, direction=Direction.LOWER_IS_WORSE
        )
        machines["consecutive_timeouts"] = ThresholdMachine.from_levels(
            "consecutive_timeouts", th.consecutive_timeouts, hy
        )
    return _KindState(
        kind=kind,
        stats=stats,
        machines=machines,
        min_stability_slots=min(cfg["stability_window"], need),
        consecutive=0,
    )


def _rtt(rng: random.Random) -> float | None:
    if rng.random() < 0.01:
        return None
    return math.exp(rng.uniform(_LOG_LO, _LOG_HI))


def _feed_probe(st: dict[str, Any], rtt: float | None) -> None:
    """One slot of a control/application kind, as ``TargetProbe.record`` feeds it."""
    stats = st.stats
    ipdv = stats.record(rtt, planned=False, local_stall=False)
    st.consecutive = st.consecutive + 1 if rtt is None else 0
    m = st.machines
    m["rtt"].observe(rtt)
    if ipdv is not None:
        m["jitter"].observe(ipdv)
    m["consecutive_timeouts"].observe(float(st.consecutive))
    stability = stats.stability()
    if stability is not None and stats.stability_slots >= st.min_stability_slots:
        m["stability"].observe(stability)


def _feed_gap(st: dict[str, Any], gap: float) -> None:
    st.stats.record_gap(gap, timed_out=False, local_stall=False)
    st.machines["heartbeat_silence"].observe(gap)


def _build(n: int, samples: int) -> list[list[_KindState]]:
    from genesys_pulse.core.config import Thresholds
    from genesys_pulse.core.model import ProbeKind

    cfg = {"thresholds": Thresholds(), "stability_window": 300, "heartbeat_period": 30.0}
    kinds = (ProbeKind.CONTROL, ProbeKind.APPLICATION, ProbeKind.HEARTBEAT)
    targets = []
    for i in range(n):
        rng = random.Random(i)
        states = [_kind_state(k, cfg) for k in kinds]
        control, application, heartbeat = states
        for _ in range(samples):
            _feed_probe(control, _rtt(rng))
            _feed_probe(application, _rtt(rng))
        for _ in range(max(20, samples // 30)):
            _feed_gap(heartbeat, 30.0 + rng.gauss(0.0, 0.05))
        for st in states:  # a window event, then steady state goes on
            st.stats.window_summary()
            st.stats.summary()
        for _ in range(5):
            _feed_probe(control, _rtt(rng))
            _feed_probe(application, _rtt(rng))
        targets.append(states)
    return targets


_ATOMIC = (float, int, str, bytes, bytearray, bool, type(None))


def _deep(obj: Any, seen: set[int]) -> tuple[int, int]:
    """(bytes, gc-tracked objects) reachable from ``obj`` and not yet ``seen``."""
    from array import array

    size = 0
    tracked = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, type) or callable(o):
            continue
        seen.add(id(o))
        size += sys.getsizeof(o)
        tracked += gc.is_tracked(o)
        if isinstance(o, (*_ATOMIC, array)):
            continue
        mod = type(o).__module__ or ""
        if isinstance(o, (list, tuple, dict, set, frozenset, deque, _KindState)) or mod.startswith(
            "genesys_pulse"
        ):
            stack.extend(gc.get_referents(o))
    return size, tracked


def _parts(state: _KindState) -> list[tuple[str, Any]]:
    """(label, object) of one kind's structures, innermost first."""
    kind = state.kind.value
    stats = state.stats
    out: list[tuple[str, Any]] = []
    if isinstance(getattr(type(stats), "probe", None), property):  # created lazily
        probe = getattr(stats, "_probe", None)
    else:
        probe = stats.probe
    if probe is not None:
        jitter = probe.jitter
        out.append((f"{kind}: all-time RTT histogram", probe.all_time))
        out.append((f"{kind}: IPDV histogram", jitter.histogram))
        out.append((f"{kind}: jitter tracker (rest)", jitter))
        out.append((f"{kind}: RTT window", probe.window))
        out.append((f"{kind}: stability window", probe.stability))
        out.append((f"{kind}: timeout counter", probe.timeouts))
        out.append((f"{kind}: ProbeStats (rest)", probe))
    if isinstance(getattr(type(stats), "_gaps", None), property):  # created lazily
        gaps = getattr(stats, "_gaps_h", None)
    else:
        gaps = stats._gaps
    if gaps is not None:
        out.append((f"{kind}: gap histogram", gaps))
    out.append((f"{kind}: KindStats (rest)", stats))
    out.append((f"{kind}: threshold machines ({len(state.machines)})", state.machines))
    return out


def _breakdown(targets: list[list[_KindState]]) -> dict[str, list[int]]:
    seen: set[int] = set()
    for mod in list(sys.modules.values()):
        seen.add(id(mod))
    for st in targets[0]:  # shared objects (configuration, enums, small ints) count once
        _deep(st, seen)
    out: dict[str, list[int]] = {}
    for st in targets[1]:
        for label, obj in _parts(st):
            out[label] = list(_deep(obj, seen))
        label = "_KindState + machines dict (in _target)"
        out.setdefault(label, [0, 0])
        size, tracked = _deep(st, seen)
        out[label][0] += size
        out[label][1] += tracked
    return out


def measure(n: int, samples: int) -> dict[str, Any]:
    import genesys_pulse.monitor  # noqa: F401  (import everything before tracing)

    _build(2, 310)  # warm caches (interned strings, lru caches) outside the trace
    gc.collect()
    objects0 = len(gc.get_objects())
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    targets = _build(n, samples)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    objects1 = len(gc.get_objects())
    holder = sys.getsizeof(targets) + sum(sys.getsizeof(t) for t in targets)
    return {
        "source": str(Path(sys.modules["genesys_pulse"].__file__ or "").parent),
        "targets": n,
        "samples_per_kind": samples,
        "bytes_per_target": (after - before - holder) / n,
        "gc_objects_per_target": (objects1 - objects0) / n - 1,
        "breakdown": _breakdown(targets),
    }


def cpu(rounds: int, number: int) -> dict[str, float]:
    """Best-of-``rounds`` µs per sample of the record path on a full (fed) kind."""
    targets = _build(1, 600)
    control = targets[0][0]
    rng = random.Random(7)
    stream = [_rtt(rng) for _ in range(1000)]
    stats = control.stats

    def stats_only() -> None:
        for r in stream:
            stats.record(r, planned=False, local_stall=False)

    def with_machines() -> None:
        for r in stream:
            _feed_probe(control, r)

    m = control.machines

    def machines_only() -> None:
        for r in stream:
            m["rtt"].observe(r)

    out = {}
    for name, fn in (
        ("KindStats.record", stats_only),
        ("ThresholdMachine.observe", machines_only),
        ("slot (record + 4 machines)", with_machines),
    ):
        best = min(timeit.repeat(fn, number=number, repeat=rounds))
        out[name] = best / (number * len(stream)) * 1e6
    return out


def windows(n: int, samples: int, rounds: int) -> dict[str, Any]:
    """What one round of window summaries over *n* fed targets allocates and collects.

    As ``monitor._target.TargetProbe._emit_window`` does for each target: every
    kind's summary merged into one attribute dict under ``<kind>.<key>``, an
    ``Event`` built and dropped (the sinks are synchronous), after
    ``gc.freeze()`` (as ``run_monitor(freeze_gc=True)``). Measured per summary
    (one target: three kinds): the peak of transient bytes (tracemalloc, one
    target at a time), the collections whole rounds over every target triggered
    with the collector on (``gc.callbacks``), and CPU µs (``process_time`` of the
    fastest round over every target, tracemalloc off).
    """
    import time

    from genesys_pulse.core.model import Event

    targets = _build(n, samples)
    gc.collect()
    gc.freeze()
    has_into = hasattr(targets[0][0].stats, "window_summary_into")
    prefixes = [st.kind.value + "." for st in targets[0]]

    def one(states: list[_KindState]) -> Event:
        attrs: dict[str, Any] = {"window_s": 60.0}
        if has_into:
            for st, prefix in zip(states, prefixes, strict=True):
                st.stats.window_summary_into(attrs, prefix)
        else:
            for st in states:
                kind = st.kind.value
                for key, value in st.stats.window_summary().items():
                    attrs[f"{kind}.{key}"] = value
        return Event("bench-target", "window", 1.8e9, attrs)

    # peak transient bytes of one summary
    tracemalloc.start()
    peaks = []
    for states in targets[: min(n, 200)]:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        one(states)
        peaks.append(tracemalloc.get_traced_memory()[1] - base)
    tracemalloc.stop()
    # collections triggered by whole rounds (collector on, as in the monitor)
    counts = [0, 0, 0]

    def cb(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            counts[info["generation"]] += 1

    gc.callbacks.append(cb)
    best = math.inf
    for _ in range(rounds):
        t0 = time.process_time()
        for states in targets:
            one(states)
        best = min(best, time.process_time() - t0)
    gc.callbacks.remove(cb)
    summaries = rounds * n
    return {
        "source": str(Path(sys.modules["genesys_pulse"].__file__ or "").parent),
        "targets": n,
        "summaries": summaries,
        "into": has_into,
        "peak_transient_bytes_per_summary": max(peaks),
        "collections_per_1000_summaries": [c * 1000 / summaries for c in counts],
        "us_per_summary": best / n * 1e6,
    }


def monitor(n: int, url: str, interval: float, settle: float, top: int, trace: bool) -> Any:
    """Bytes per target of a whole running monitor, no telemetry sink, and who holds them.

    ``run_monitor`` (``freeze_gc=True``, as the CLI) on *n* plain WebSocket
    targets (control ping + echo message) against the benchmarks' echo server.
    Everything is imported and one throw-away target has run first, so the
    process's fixed cost is not counted. Once every target is connected and
    *settle* seconds have passed (every window and ring in steady state):

    * RSS per target: (VmRSS now - VmRSS before ``run_monitor``) / n;
    * with *trace*, tracemalloc (started before ``run_monitor``): traced bytes
      per target and the *top* holders by source line and by file.
    """
    import trio

    from genesys_pulse.core.config import parse_config
    from genesys_pulse.monitor import run_monitor

    def config(count: int) -> Any:
        targets = [
            {
                "id": f"mem-target-{i:05d}",
                "kind": "websocket",
                "url": url,
                "interval": interval,
                "timeout": min(interval, 2.0) * 0.8,
                "echo_message": "hello",
            }
            for i in range(count)
        ]
        return parse_config({"window": 60.0, "targets": targets}, {})

    def rss_kib() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    out: dict[str, Any] = {"targets": n, "interval_s": interval, "traced": trace}

    async def main() -> None:
        async with trio.open_nursery() as nursery:  # warm-up: one target, then gone
            mon = await nursery.start(
                lambda task_status: run_monitor(config(1), task_status=task_status)
            )
            for probe in mon.targets.values():
                await probe.connected.wait()
            await trio.sleep(2 * interval)
            nursery.cancel_scope.cancel()
        gc.collect()
        if trace:
            tracemalloc.start(1)
        rss0 = rss_kib()
        traced0 = tracemalloc.get_traced_memory()[0] if trace else 0
        t0 = trio.current_time()
        async with trio.open_nursery() as nursery:
            mon = await nursery.start(
                lambda task_status: run_monitor(config(n), freeze_gc=True, task_status=task_status)
            )
            with trio.move_on_after(600):
                for probe in mon.targets.values():
                    await probe.connected.wait()
            out["connect_s"] = round(trio.current_time() - t0, 1)
            out["connected"] = sum(p.connected.is_set() for p in mon.targets.values())
            await trio.sleep(settle)
            out["rss_bytes_per_target"] = (rss_kib() - rss0) * 1024 / n
            if trace:
                snap = tracemalloc.take_snapshot()
                out["traced_bytes_per_target"] = (tracemalloc.get_traced_memory()[0] - traced0) / n
                tracemalloc.stop()
                snap = snap.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
                out["top_lines"] = [
                    [str(st.traceback[0]), st.size / n, st.count / n]
                    for st in snap.statistics("lineno")[:top]
                ]
                out["top_files"] = [
                    [st.traceback[0].filename, st.size / n, st.count / n]
                    for st in snap.statistics("filename")[:top]
                ]
            nursery.cancel_scope.cancel()

    trio.run(main)
    return out


# -- the driver ----------------------------------------------------------------


def _extract(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src/genesys_pulse"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _arm(src: Path, args: list[str]) -> Any:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--src", str(src), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=str(ROOT),
    )
    if proc.returncode != 0:
        raise SystemExit(f"measuring {src} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _monitor_main(a: argparse.Namespace, machine: Any, save: Any, table: Any) -> None:
    """Bytes per target of the whole monitor (no telemetry) at each count in ``--monitor``."""
    from _common import start_echo_server

    counts = a.monitor or ([50] if a.quick else [1000, 10000])
    echo, port = start_echo_server()
    url = f"ws://127.0.0.1:{port}/"
    rows = []
    try:
        for n in counts:
            interval = 1.0 if n <= 1000 else 5.0
            common = ["--targets", str(n), "--url", url, "--interval", str(interval)]
            common += ["--settle", str(a.settle)]
            plain = _arm(ROOT / "src", ["--mode", "monitor", *common])
            traced = _arm(ROOT / "src", ["--mode", "monitor", "--trace", *common])
            rows.append({"plain": plain, "traced": traced})
    finally:
        echo.kill()
        echo.wait(5)
    print(
        f"\nWhole monitor, no telemetry sink, RSS and tracemalloc per target after every target "
        f"connected + {a.settle:g} s; machine: {machine()}\n"
    )
    print(
        table(
            [
                "targets x interval",
                "connected",
                "RSS B/target",
                "traced B/target (tracemalloc run)",
            ],
            [
                [
                    f"{r['plain']['targets']} x {r['plain']['interval_s']:g} s",
                    r["plain"]["connected"],
                    round(r["plain"]["rss_bytes_per_target"]),
                    round(r["traced"]["traced_bytes_per_target"]),
                ]
                for r in rows
            ],
        )
    )
    for r in rows:
        t = r["traced"]
        print(
            f"\nLargest holders at {t['targets']} targets (bytes and blocks per target), by line:"
        )
        print(
            table(
                ["where", "B/target", "blocks/target"],
                [[w, round(b), f"{c:.1f}"] for w, b, c in t["top_lines"]],
            )
        )
        print("\nby file:")
        print(
            table(
                ["file", "B/target", "blocks/target"],
                [[w, round(b), f"{c:.1f}"] for w, b, c in t["top_files"]],
            )
        )
    path = save("memory_monitor" + ("_quick" if a.quick else ""), {"rows": rows})
    print(f"\nwrote {path.relative_to(ROOT)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=600, help="slots per probe kind (>= 300)")
    ap.add_argument("--baseline", default=BASELINE, help="git revision of the 'before' code")
    ap.add_argument("--rounds", type=int, default=5, help="timeit rounds (best is kept)")
    ap.add_argument("--src", help=argparse.SUPPRESS)
    ap.add_argument(
        "--mode",
        choices=("memory", "cpu", "window", "monitor"),
        default="memory",
        help=argparse.SUPPRESS,
    )
    ap.add_argument(
        "--monitor",
        nargs="*",
        type=int,
        default=None,
        metavar="N",
        help="only the whole-monitor measure, at these target counts (e.g. 1000 10000)",
    )
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    ap.add_argument("--settle", type=float, default=10.0, help="seconds after all connected")
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--window-baseline",
        default=WINDOW_BASELINE,
        help="git revision of the 'before' window summaries",
    )
    a = ap.parse_args()
    if a.src:  # a measured process
        sys.path.insert(0, a.src)
        if a.mode == "memory":
            print(json.dumps(measure(a.targets, a.samples)))
        elif a.mode == "monitor":
            print(json.dumps(monitor(a.targets, a.url, a.interval, a.settle, 15, a.trace)))
        elif a.mode == "window":
            print(json.dumps(windows(a.targets, a.samples, 2 if a.quick else 10)))
        else:
            print(json.dumps(cpu(a.rounds, 2 if a.quick else 20)))
        return

    from _common import machine, save, table

    if a.monitor is not None:
        _monitor_main(a, machine, save, table)
        return
    if a.quick:
        a.targets, a.samples, a.rounds = 20, 320, 2
    with tempfile.TemporaryDirectory(prefix="pulse-baseline-") as tmp:
        (Path(tmp) / "w").mkdir()
        arms = {"before": _extract(a.baseline, Path(tmp)), "after": ROOT / "src"}
        common = ["--targets", str(a.targets), "--samples", str(a.samples)]
        mem = {name: _arm(src, ["--mode", "memory", *common]) for name, src in arms.items()}
        cpus: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
        for _ in range(1 if a.quick else 3):  # alternate the arms: the machine is shared
            for name, src in arms.items():
                cpus[name].append(
                    _arm(src, ["--mode", "cpu", "--rounds", str(a.rounds)] + ["--quick"] * a.quick)
                )
        warms = {"before": _extract(a.window_baseline, Path(tmp) / "w"), "after": ROOT / "src"}
        wins: dict[str, list[dict[str, Any]]] = {name: [] for name in warms}
        for _ in range(1 if a.quick else 2):  # alternating, as above
            for name, src in warms.items():
                wins[name].append(_arm(src, ["--mode", "window", *common] + ["--quick"] * a.quick))
    cpu_best = {name: {k: min(r[k] for r in runs) for k in runs[0]} for name, runs in cpus.items()}

    b, f = mem["before"], mem["after"]
    labels = list(dict.fromkeys([*b["breakdown"], *f["breakdown"]]))
    rows = []
    for label in labels:
        bb, bo = b["breakdown"].get(label, [0, 0])
        fb, fo = f["breakdown"].get(label, [0, 0])
        rows.append([label, bb, fb, bb - fb, bo, fo])
    sb = sum(r[1] for r in rows)
    sf = sum(r[2] for r in rows)
    rows.append(["sum of the breakdown (deep getsizeof)", sb, sf, sb - sf, "", ""])
    rows.append(
        [
            "total per target (tracemalloc)",
            round(b["bytes_per_target"]),
            round(f["bytes_per_target"]),
            round(b["bytes_per_target"] - f["bytes_per_target"]),
            round(b["gc_objects_per_target"], 1),
            round(f["gc_objects_per_target"], 1),
        ]
    )
    rows = [[r[0], *(c if c != "" else 0 for c in r[1:])] for r in rows]
    print(
        f"\nPer-target statistics memory, {a.targets} targets x {a.samples} slots per kind; "
        f"before = {a.baseline[:10]}, after = working tree; machine: {machine()}\n"
    )
    print(
        table(
            ["structure", "before B", "after B", "saved B", "before gc objs", "after gc objs"],
            rows,
        )
    )
    ratio = f["bytes_per_target"] / b["bytes_per_target"]
    print(
        f"\nafter / before = {ratio:.2f}; at 10,000 targets: "
        f"{b['bytes_per_target'] * 1e4 / 2**20:.0f} MiB -> {f['bytes_per_target'] * 1e4 / 2**20:.0f} MiB"
    )
    print("\nCPU per sample, µs (timeit, best of rounds x runs, full windows): before -> after")
    for k in cpu_best["after"]:
        print(f"  {k:<28} {cpu_best['before'][k]:7.3f} -> {cpu_best['after'][k]:7.3f}")
    print(
        f"\nWindow summaries (one target: control + application + heartbeat, merged into one "
        f"window event), {a.targets} fed targets after gc.freeze(); "
        f"before = {a.window_baseline[:10]}, after = working tree; runs alternating:"
    )
    print(
        table(
            [
                "code",
                "peak transient B / summary",
                "gen0 / gen1 / gen2 collections per 1,000 summaries",
                "µs / summary",
            ],
            [
                [
                    f"{name} (run {i + 1})",
                    r["peak_transient_bytes_per_summary"],
                    " / ".join(f"{c:.1f}" for c in r["collections_per_1000_summaries"]),
                    f"{r['us_per_summary']:.1f}",
                ]
                for i in range(len(wins["after"]))
                for name, r in ((n, wins[n][i]) for n in wins)
            ],
        )
    )
    path = save(
        "memory" + ("_quick" if a.quick else ""),
        {
            "baseline": a.baseline,
            "memory": mem,
            "cpu_us_per_sample": cpu_best,
            "cpu_runs": cpus,
            "window_baseline": a.window_baseline,
            "windows": wins,
        },
    )
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
