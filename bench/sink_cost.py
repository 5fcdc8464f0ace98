"""What ``OTelSink.on_sample`` costs per sample, on no-op and on SDK providers.

A micro-benchmark without sockets or an event loop: a pre-built, realistic
stream of :class:`~genesys_pulse.core.model.Sample` objects (``--targets``
targets, one control and one application sample per probe slot, about
``--timeouts`` of them timed out, IPDV jitter on every answered sample after
an answered one, a send lateness of a few hundred microseconds) is fed into
:class:`~genesys_pulse.telemetry.OTelSink` on

* ``noop``: the API's no-op meter, tracer and logger providers (the sink's own
  mapping work);
* ``sdk``: SDK providers: ``MeterProvider`` with an ``InMemoryMetricReader``,
  ``TracerProvider`` and ``LoggerProvider`` with batch processors whose
  exporters drop everything (the set-up of ``bench/_arms.py --sink otel-memory``).

Each arm runs for the sink of this checkout and, with ``--baseline REV``
(default: the last commit before the sink was split by signal and loop lag
went to one record per slot), for the sink of that git revision, loaded from
``git show`` as a module, so the before and after figures come from the same
run. The ``floor`` row is what the contract cannot avoid on the SDK: one SDK
histogram record per histogram point it requires (loop lag per probe slot;
RTT and IPDV jitter per answered, unstalled probe), made directly on SDK
instruments.

``calls/slot`` counts the synchronous instrument calls (``record``, ``add``,
``set``) each sink makes per probe slot of one target, on a counting meter
provider fed the same stream (what the SDK is asked to do, whatever each call
costs there).

The first slot of every target is fed before timing (it creates the series and
opens the window spans). Then ``--rounds`` rounds of ``--slots`` slots each,
the arms interleaved round by round; each figure is the median round, in CPU
time of the feeding thread (``time.thread_time``, so other processes on a
shared machine do not count). A metric collection runs between rounds (as an
exporter would), outside the timed part; ``collect ms`` is its median, and
``µs/slot + collect`` adds it amortised over the slots of one export interval
(the CLI's 60 s, every target at 1 slot/s): observable instruments move work
from the probing path to the collection.

    .venv/bin/python bench/sink_cost.py               # 1000 targets, 5 x 20 slots
    .venv/bin/python bench/sink_cost.py --quick       # CI smoke
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, save, table

ROOT = Path(__file__).resolve().parents[1]
SINK_PATH = "src/genesys_pulse/telemetry/_otel_sink.py"
#: The sink before it was split by signal and recorded loop lag once per slot
#: (the single-module sink of the previous design).
DEFAULT_BASELINE = "e24170c"
T0 = 1_800_000_000.0
#: Slots fed before timing: the first creates the series and spans, the second
#: the jitter series (the first answered probe of a series has no IPDV).
WARMUP = 2
#: Export interval for the amortised column: the CLI's default (s).
EXPORT_INTERVAL = 60.0


def target_ids(targets: int) -> list[str]:
    return [f"target-{i:05d}" for i in range(targets)]


def target_attrs(targets: int) -> dict[str, dict[str, str]]:
    """What ``otel_sinks_for`` gives Genesys targets: environment and server address."""
    return {
        tid: {"genesys.environment": "mypurecloud.ie", "server.address": "streaming.mypurecloud.ie"}
        for tid in target_ids(targets)
    }


def make_stream(targets: int, slots: int, timeouts: float, seed: int = 7) -> list[list[Any]]:
    """``slots`` lists of samples, 2 per target each (one probe slot per list)."""
    from genesys_pulse.core.model import ProbeKind, Sample

    rng = random.Random(seed)
    ids = target_ids(targets)
    prev: dict[tuple[int, ProbeKind], float | None] = {}
    out = []
    for k in range(slots):
        batch = []
        for i, tid in enumerate(ids):
            due = 1000.0 + k + i / targets
            sent = due + rng.uniform(0.0001, 0.0008)
            at = T0 + due
            for probe, extra in ((ProbeKind.CONTROL, 0.0), (ProbeKind.APPLICATION, 0.0004)):
                if rng.random() < timeouts:
                    rtt = None
                else:
                    rtt = max(0.001, rng.gauss(0.040, 0.004)) + extra
                last = prev.get((i, probe))
                jitter = abs(rtt - last) if rtt is not None and last is not None else None
                prev[(i, probe)] = rtt
                batch.append(
                    Sample(tid, probe, k, due, sent, rtt, rtt is None, at, jitter_s=jitter)
                )
        out.append(batch)
    return out


def load_baseline(rev: str) -> type | None:
    """The ``OTelSink`` class of *rev* (``git show``), or None if it cannot be loaded."""
    try:
        text = subprocess.run(
            ["git", "show", f"{rev}:{SINK_PATH}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        module = types.ModuleType(f"_otel_sink_{rev}")
        module.__file__ = f"<{rev}:{SINK_PATH}>"
        exec(compile(text, module.__file__, "exec"), module.__dict__)
        return module.OTelSink  # type: ignore[no-any-return]
    except Exception as exc:  # not a checkout, unknown revision, incompatible imports
        print(f"baseline {rev} not measured: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def noop_providers() -> tuple[dict[str, Any], Callable[[], None]]:
    from opentelemetry import metrics, trace
    from opentelemetry._logs import NoOpLoggerProvider

    providers = {
        "meter_provider": metrics.NoOpMeterProvider(),
        "tracer_provider": trace.NoOpTracerProvider(),
        "logger_provider": NoOpLoggerProvider(),
    }
    return providers, lambda: None


def sdk_providers() -> tuple[dict[str, Any], Callable[[], None]]:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import (
        BatchLogRecordProcessor,
        LogRecordExporter,
        LogRecordExportResult,
    )
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class DropSpans(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    class DropLogs(LogRecordExporter):
        def export(self, batch: Any) -> LogRecordExportResult:
            return LogRecordExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(DropSpans()))
    lp = LoggerProvider()
    lp.add_log_record_processor(BatchLogRecordProcessor(DropLogs()))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    providers = {"meter_provider": mp, "tracer_provider": tp, "logger_provider": lp}
    return providers, lambda: reader.get_metrics_data() and None


class Floor:
    """Only the SDK histogram records the contract requires, nothing else."""

    def __init__(
        self, meter_provider: Any, target_attrs: dict[str, dict[str, str]], **_: Any
    ) -> None:
        from genesys_pulse.core.model import ProbeKind
        from genesys_pulse.telemetry import _names as N

        meter = meter_provider.get_meter("floor")
        b = list(N.SECONDS_BUCKETS)
        self.rtt = meter.create_histogram(N.M_RTT, unit="s", explicit_bucket_boundaries_advisory=b)
        self.jit = meter.create_histogram(
            N.M_JITTER, unit="s", explicit_bucket_boundaries_advisory=b
        )
        self.lag = meter.create_histogram(
            N.M_LOOP_LAG, unit="s", explicit_bucket_boundaries_advisory=b
        )
        self.attrs: dict[tuple[str, ProbeKind], dict[str, str]] = {}
        self.base: dict[str, dict[str, str]] = {}
        self.target_attrs = target_attrs
        self.errors = 0

    def on_sample(self, s: Any) -> None:
        attrs = self.attrs.get((s.target, s.probe))
        if attrs is None:
            base = self.base.setdefault(
                s.target, {"genesys.monitor.target": s.target, **self.target_attrs[s.target]}
            )
            attrs = self.attrs[(s.target, s.probe)] = {**base, "genesys.ping.type": s.probe.value}
        base = self.base[s.target]
        if s.sent_mono is not None and s.probe.value == "control":  # once per slot
            self.lag.record(max(0.0, s.sent_mono - s.scheduled_mono), base)
        if s.rtt_s is not None and not s.local_stall:
            self.rtt.record(s.rtt_s, attrs)
            if s.jitter_s is not None:
                self.jit.record(s.jitter_s, attrs)


def counting_providers() -> tuple[dict[str, Any], list[int]]:
    """No-op providers whose meter counts every synchronous instrument call."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import NoOpLoggerProvider

    calls = [0]

    class Counting:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def record(self, *args: Any, **kwargs: Any) -> None:
            calls[0] += 1

        add = set = record

    class CountingMeter(metrics.NoOpMeter):
        def create_histogram(self, *args: Any, **kwargs: Any) -> Any:
            return Counting()

        def create_counter(self, *args: Any, **kwargs: Any) -> Any:
            return Counting()

        def create_gauge(self, *args: Any, **kwargs: Any) -> Any:
            return Counting()

    class CountingMeterProvider(metrics.NoOpMeterProvider):
        def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Any:
            return CountingMeter(name)

    providers = {
        "meter_provider": CountingMeterProvider(),
        "tracer_provider": trace.NoOpTracerProvider(),
        "logger_provider": NoOpLoggerProvider(),
    }
    return providers, calls


def calls_per_slot(cls: Any, stream: list[list[Any]], attrs: dict[str, dict[str, str]]) -> float:
    """Synchronous instrument calls per probe slot of one target, after the warm-up."""
    providers, calls = counting_providers()
    if cls is Floor:
        sink = cls(**providers, target_attrs=attrs)
    else:
        sink = cls(**providers, target_attrs=attrs, window=60.0)
    for batch in stream[:WARMUP]:
        feed(sink.on_sample, batch)
    calls[0] = 0
    slots = 0
    for batch in stream[WARMUP:]:
        feed(sink.on_sample, batch)
        slots += len(batch) // 2
    return calls[0] / max(1, slots)


def feed(on_sample: Callable[[Any], None], batch: Sequence[Any]) -> float:
    """Thread CPU seconds to hand every sample of *batch* to *on_sample*."""
    t = time.thread_time_ns()
    for s in batch:
        on_sample(s)
    return (time.thread_time_ns() - t) / 1e9


def run(a: argparse.Namespace) -> list[dict[str, Any]]:
    from genesys_pulse.telemetry import OTelSink

    impls: list[tuple[str, Any]] = [("current", OTelSink)]
    if a.baseline and a.baseline != "none":
        old = load_baseline(a.baseline)
        if old is not None:
            impls.insert(0, (f"before ({a.baseline})", old))
    impls.append(("floor", Floor))
    stream = make_stream(a.targets, WARMUP + a.rounds * a.slots, a.timeouts)
    attrs = target_attrs(a.targets)
    calls = {name: calls_per_slot(cls, stream, attrs) for name, cls in impls}
    arms = []
    for name, cls in impls:
        for prov_name, factory in (("noop", noop_providers), ("sdk", sdk_providers)):
            if cls is Floor and prov_name == "noop":
                continue
            providers, collect = factory()
            sink = (
                cls(**providers, target_attrs=attrs)
                if cls is Floor
                else cls(**providers, target_attrs=attrs, window=60.0)
            )
            for batch in stream[:WARMUP]:  # series and window spans created
                feed(sink.on_sample, batch)
            collect()
            arms.append(
                {"impl": name, "providers": prov_name, "sink": sink, "collect": collect, "t": []}
            )
            arms[-1]["collect_s"] = []
    for r in range(a.rounds):
        for arm in arms:
            elapsed = 0.0
            gc.collect()
            for k in range(WARMUP + r * a.slots, WARMUP + (r + 1) * a.slots):
                elapsed += feed(arm["sink"].on_sample, stream[k])
            arm["t"].append(elapsed)
            t = time.thread_time_ns()
            arm["collect"]()
            arm["collect_s"].append((time.thread_time_ns() - t) / 1e9)
    per_round = a.targets * a.slots * 2
    rows = []
    for arm in arms:
        per_sample = statistics.median(arm["t"]) / per_round
        collect_s = statistics.median(arm["collect_s"])
        # one collection per export interval, over the slots of that interval
        # (every target at 1 slot/s)
        amortised = collect_s / (a.targets * EXPORT_INTERVAL)
        rows.append(
            {
                "impl": arm["impl"],
                "providers": arm["providers"],
                "samples_per_round": per_round,
                "rounds_s": arm["t"],
                "us_per_sample": per_sample * 1e6,
                "us_per_slot": per_sample * 2e6,
                "collect_ms": collect_s * 1e3,
                "us_per_slot_with_collect": (per_sample * 2 + amortised) * 1e6,
                "calls_per_slot": calls[arm["impl"]],
                "errors": arm["sink"].errors,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="tiny counts (CI smoke)")
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--slots", type=int, default=20, help="probe slots per target per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timeouts", type=float, default=0.01, help="share of timed-out samples")
    ap.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        help="git revision whose sink is measured too ('none' to skip)",
    )
    a = ap.parse_args()
    if a.quick:
        a.targets, a.slots, a.rounds = 20, 3, 2
    t0 = time.time()
    rows = run(a)
    print(f"\nOTelSink.on_sample cost; machine: {machine()}\n")
    print(
        table(
            [
                "sink",
                "providers",
                "µs/sample",
                "µs/slot",
                "collect ms",
                "µs/slot + collect",
                "calls/slot",
                "errors",
            ],
            (
                [
                    r["impl"],
                    r["providers"],
                    f"{r['us_per_sample']:.2f}",
                    f"{r['us_per_slot']:.2f}",
                    f"{r['collect_ms']:.1f}",
                    f"{r['us_per_slot_with_collect']:.2f}",
                    f"{r['calls_per_slot']:.2f}",
                    r["errors"],
                ]
                for r in rows
            ),
        )
    )
    print(
        f"\n{a.targets} targets, {a.rounds} rounds x {a.slots} slots x 2 samples, "
        f"{a.timeouts:.0%} timeouts; median round, thread CPU time. 'collect': one metric "
        f"collection of every series; '+ collect': amortised at one per {EXPORT_INTERVAL:g} s "
        "with every target at 1 slot/s"
    )
    path = save(
        "sink_cost" + ("_quick" if a.quick else ""),
        {"args": vars(a), "elapsed_s": time.time() - t0, "rows": rows},
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
