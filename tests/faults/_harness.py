"""The machinery of the fault matrix: run a monitor on an emulator, inject, measure.

:func:`run_fault` runs one :class:`~faults._matrix.Fault` end to end and
returns a :class:`Result` (detection and recovery times, what was reported,
leaks). It is shared by ``tests/faults/test_matrix.py`` and
``bench/fault_matrix.py`` (which prints the summary table).

Two modes:

* ``memory``: the emulator's in-memory connector; the caller runs under
  :class:`trio.testing.MockClock` (autojump), so every time below is exact;
* ``tcp``: real loopback sockets (optionally through the ``_netem`` fault
  proxy) and the real clock, for faults that live in TCP itself.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import trio
import trio.lowlevel
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from _otel import InMemoryLogRecordExporter, log_event_names_of, pipeline, span_events_of
from genesys_pulse.core.config import MonitorConfig, parse_config, with_credentials
from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator
from genesys_pulse.emulator._netem import FaultProxy, open_fault_proxy
from genesys_pulse.monitor import Monitor, run_monitor
from genesys_pulse.telemetry import AuditJournal, OTelSink, read_journal, target_attrs_for
from genesys_pulse.telemetry._names import SPAN_EVENT_NAMES
from genesys_pulse.transport import ConnectError, NetConnector

Mode = Literal["memory", "tcp"]

# Every span event name the OTel sink derives from a monitor event (the contract).
SPAN_EVENT_OF = dict(SPAN_EVENT_NAMES)
# monitor event name -> audit record kind (journal and OTel log records)
AUDIT_KIND_OF = {"rotation": "channel.rotated"}


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def task_count() -> int:
    """Every task alive in this trio run."""

    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return walk(root)


@dataclass
class Recorder:
    """A monitor sink that keeps every record with the trio time it arrived."""

    samples: list[tuple[float, Sample]] = field(default_factory=list)
    events: list[tuple[float, Event]] = field(default_factory=list)

    def on_sample(self, sample: Sample) -> None:
        self.samples.append((trio.current_time(), sample))

    def on_event(self, event: Event) -> None:
        self.events.append((trio.current_time(), event))

    def named(self, name: str, after: float = -1e18, **attrs: Any) -> list[tuple[float, Event]]:
        return [
            (t, e)
            for t, e in self.events
            if e.name == name
            and t >= after
            and all(e.attributes.get(k) == v for k, v in attrs.items())
        ]

    def probes(
        self, kind: ProbeKind | None = None, target: str | None = None
    ) -> list[tuple[float, Sample]]:
        """Probe-slot samples (late answers are not slots: see :meth:`lates`)."""
        return [
            (t, s)
            for t, s in self.samples
            if s.probe is not ProbeKind.HEARTBEAT
            and not s.late
            and (kind is None or s.probe is kind)
            and (target is None or s.target == target)
        ]

    def lates(
        self, kind: ProbeKind | None = None, target: str | None = None
    ) -> list[tuple[float, Sample]]:
        """Late answers (true RTTs of slots already reported as timeouts)."""
        return [
            (t, s)
            for t, s in self.samples
            if s.late
            and (kind is None or s.probe is kind)
            and (target is None or s.target == target)
        ]


@dataclass
class Telemetry:
    """OTelSink on in-memory SDK providers, plus an audit journal in a temp dir."""

    sink: OTelSink
    journal: AuditJournal
    spans: InMemorySpanExporter
    logs: InMemoryLogRecordExporter
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: MeterProvider
    journal_path: str

    def span_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every span event of every span (open window spans are ended first)."""
        return span_events_of(self.spans)

    def log_event_names(self) -> list[str]:
        return log_event_names_of(self.logs)

    def audit(self) -> list[dict[str, Any]]:
        return read_journal(self.journal_path)


def make_telemetry(config: MonitorConfig, tmpdir: str) -> Telemetry:
    p = pipeline()  # the shared in-memory SDK providers (tests/_otel.py)
    sink = OTelSink(
        meter_provider=p.meter_provider,
        tracer_provider=p.tracer_provider,
        logger_provider=p.logger_provider,
        window=config.window,
        target_attrs=target_attrs_for(config),
        probe_timeouts={
            t.id: {"control": t.timeout, "application": t.timeout, "heartbeat": 90.0}
            for t in config.targets
        },
    )
    path = os.path.join(tmpdir, "journal.jsonl")
    journal = AuditJournal(path, fsync="never")
    return Telemetry(
        sink, journal, p.spans, p.logs, p.tracer_provider, p.logger_provider, p.meter_provider, path
    )


@dataclass
class Ctx:
    """What an injection and a check see."""

    fault: Any
    emu: Emulator
    monitor: Monitor
    rec: Recorder
    tel: Telemetry | None
    proxy: FaultProxy | None
    nursery: trio.Nursery
    t_inject: float = 0.0
    t_clear: float | None = None
    """When the fault was removed (``None``: one-shot fault, recovery counted from detection)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tid(self) -> str:
        return TARGET

    def link(self, tid: str = "") -> Any:
        return self.monitor.targets[tid or TARGET].link

    def channel_id(self, tid: str = "") -> str:
        link = self.link(tid)
        assert link is not None and link.channel_id is not None
        return str(link.channel_id)


TARGET = "target-00"


def target_table(tid: str, **tunables: Any) -> dict[str, Any]:
    return {"id": tid, "kind": "genesys", "environment": "mypurecloud.com", **tunables}


def build_config(
    emu_like: Any, targets: list[dict[str, Any]], *, login_url: str, api_url: str
) -> MonitorConfig:
    base = parse_config({"targets": targets}, {})
    return with_credentials(base, emu_like.client_id, emu_like.client_secret, login_url, api_url)


class RedirectConnector:
    """Real TCP; connections to ``from_port`` on loopback go to ``to_port`` instead
    (so that HTTP and WebSocket traffic to the emulator passes the fault proxy)."""

    def __init__(self, from_port: int, to_port: int) -> None:
        self.from_port = from_port
        self.to_port = to_port
        self.inner = NetConnector()
        self.opened = 0

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        self.opened += 1
        if port == self.from_port:
            port = self.to_port
        return await self.inner.open_stream(host, port, tls=tls, timeout=timeout)


class NoDnsConnector:
    """Wraps a connector; any ``*.invalid`` host fails the way the resolver
    fails (``ConnectError(kind="resolve")`` from ``socket.gaierror(EAI_NONAME)``),
    locally, so no DNS query ever leaves the machine (RFC 6761: ``.invalid``
    never resolves)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.attempts: list[float] = []

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        if host.rstrip(".").lower().endswith(".invalid"):
            self.attempts.append(trio.current_time())
            await trio.lowlevel.checkpoint()
            err = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            raise ConnectError(host, port, "resolve", err) from err
        return await self.inner.open_stream(host, port, tls=tls, timeout=timeout)


def free_port() -> int:
    """A loopback port nobody listens on (bound then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@dataclass
class Result:
    """The outcome of one fault, for assertions and the summary table."""

    name: str
    detected_s: float | None
    bound_s: float | None
    recovered_s: float | None
    recover_bound_s: float | None
    reported: str
    leaks: str
    alive: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def row(self) -> list[str]:
        def f(x: float | None) -> str:
            return "—" if x is None else f"{x:.3f}"

        det = f(self.detected_s)
        rec = f(self.recovered_s)
        bound = f(self.bound_s)
        rbound = f(self.recover_bound_s)
        return [
            self.name,
            det,
            bound,
            rec,
            rbound,
            self.reported,
            self.leaks,
            "pass" if self.ok else "FAIL: " + "; ".join(self.problems),
        ]


HEADERS = [
    "fault",
    "detected (s)",
    "bound (s)",
    "recovered (s)",
    "backoff bound (s)",
    "reported",
    "leaks",
    "result",
]


@asynccontextmanager
async def _environment(fault: Any, stack_tmp: str) -> AsyncIterator[tuple[Emulator, Any, Any]]:
    """Start the emulator (and proxy); yield (emulator, connector, proxy)."""
    settings = EmulatorSettings(**{"seed": 5, "event_rate": 0.0, **fault.settings})
    async with AsyncExitStack() as stack:
        if fault.mode == "memory":
            emu = await stack.enter_async_context(open_emulator(settings=settings))
            connector: Any = emu.connector
            proxy = None
        else:
            emu = await stack.enter_async_context(open_emulator(settings=settings))
            proxy = None
            if fault.proxy:
                proxy = await stack.enter_async_context(open_fault_proxy("127.0.0.1", emu.port))
                connector = RedirectConnector(urlsplit(emu.base_url).port or 0, proxy.port)
            else:
                connector = NetConnector()
        yield emu, connector, proxy


async def run_fault(fault: Any) -> Result:
    """Run ``fault`` once; never raises for a failed check (see ``Result.problems``)."""
    problems: list[str] = []
    fd0 = fd_count()
    tasks0 = task_count()
    rec = Recorder()
    alive = False
    extra: dict[str, Any] = {"exit": []}
    monitor_exit: list[BaseException | str] = extra["exit"]
    ctx: Ctx | None = None
    with tempfile.TemporaryDirectory(prefix="gp-fault-") as tmp:
        async with _environment(fault, tmp) as (emu, connector, proxy):
            if fault.prepare is not None:
                fault.prepare(emu, extra)
            if "refusing" in extra:
                connector = extra["refusing"]
            elif fault.connector is not None:
                connector = fault.connector(connector)
            extra["connector"] = connector
            targets = [target_table(TARGET, **fault.tunables)] + [
                target_table(f"target-{i:02d}", **fault.tunables) for i in range(1, fault.targets)
            ]
            config = build_config(emu, targets, login_url=emu.login_url, api_url=emu.api_url)
            if fault.configure is not None:
                config = fault.configure(config, emu, extra)
            tel = make_telemetry(config, tmp) if fault.otel else None
            sinks: list[Any] = [rec] + ([tel.sink, tel.journal] if tel is not None else [])
            if fault.sinks is not None:
                sinks += fault.sinks(config, extra)
            kwargs = fault.monitor_kwargs(extra) if fault.monitor_kwargs is not None else {}
            try:
                async with trio.open_nursery() as nursery:

                    async def run(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
                        try:
                            await run_monitor(
                                config,
                                sinks=sinks,
                                connector=connector,
                                task_status=task_status,
                                rng=random.Random(11),
                                **kwargs,
                            )
                            monitor_exit.append("returned")
                        except trio.Cancelled:
                            raise
                        except Exception as exc:
                            monitor_exit.append(exc)

                    monitor = await nursery.start(run)
                    ctx = Ctx(fault, emu, monitor, rec, tel, proxy, nursery, extra=extra)
                    await trio.sleep(fault.warmup)
                    if fault.expect_connected and monitor.targets[TARGET].link is None:
                        problems.append("not connected after warm-up")
                    ctx.t_inject = trio.current_time()
                    try:
                        await fault.inject(ctx)
                    except Exception as exc:
                        problems.append(f"inject raised {exc!r}")
                    await trio.sleep_until(ctx.t_inject + fault.observe)
                    alive = not monitor_exit
                    for sup in monitor.supervisors.values():
                        if len(sup.open_links) > 2:
                            problems.append(f"{len(sup.open_links)} open links")
                    nursery.cancel_scope.cancel()
            finally:
                if fault.finish is not None:
                    fault.finish(extra)
                if tel is not None:
                    tel.sink.close()
                    tel.journal.close()
            for sup in monitor.supervisors.values():
                if sup.open_links:
                    problems.append(f"{len(sup.open_links)} links left open after stop")
        assert ctx is not None
        # -- checks ------------------------------------------------------------
        if fault.expect_running and not alive:
            problems.append(f"monitor stopped: {monitor_exit!r}")
        detected_at = fault.detect(ctx)
        detected = None if detected_at is None else detected_at - ctx.t_inject
        if fault.bound is not None:
            if detected is None:
                problems.append("not detected")
            elif detected > fault.bound + 1e-9:
                problems.append(f"detected after {detected:.3f} s > bound {fault.bound:.3f} s")
        recovered = None
        if fault.recover_bound is not None:
            origin = ctx.t_clear if ctx.t_clear is not None else detected_at
            if fault.recovered is not None:
                t_rec = fault.recovered(ctx)
            elif origin is None:
                t_rec = None
            else:
                t_rec = next(
                    (
                        t
                        for t, s in rec.probes(target=TARGET)
                        if not s.timed_out and s.sent_mono is not None and s.sent_mono >= origin
                    ),
                    None,
                )
            if origin is None or t_rec is None:
                problems.append("never recovered")
            else:
                recovered = t_rec - origin
                if recovered > fault.recover_bound + 1e-9:
                    problems.append(
                        f"recovered after {recovered:.3f} s > {fault.recover_bound:.3f} s"
                    )
        try:
            reported = fault.check(ctx)
        except AssertionError as exc:
            problems.append(f"report: {exc}")
            reported = "?"
        # leaks: after everything is closed
        await trio.lowlevel.checkpoint()
        fd1 = fd_count()
        tasks1 = task_count()
        leaks = []
        if fd1 > fd0:
            leaks.append(f"fd +{fd1 - fd0}")
        if tasks1 > tasks0:
            leaks.append(f"tasks +{tasks1 - tasks0}")
        if leaks:
            problems.append("leak: " + ", ".join(leaks))
        return Result(
            fault.name,
            detected,
            fault.bound,
            recovered,
            fault.recover_bound,
            reported,
            ", ".join(leaks) or "none",
            alive,
            problems,
        )


# -- report helpers -------------------------------------------------------------


def expect_reported(ctx: Ctx, name: str, after: float | None = None, **attrs: Any) -> int:
    """Assert ``name`` was emitted (with ``attrs``), and, when telemetry is
    wired in, appears as a span event (if it maps to one) and as an audit
    record in the journal and in the OTel logs. Returns how many events."""
    t0 = ctx.t_inject if after is None else after
    got = ctx.rec.named(name, t0, **attrs)
    assert got, f"no {name} event with {attrs}"
    tel = ctx.tel
    if tel is not None:
        span_name = SPAN_EVENT_OF.get(name)
        if span_name is not None:
            evs = [a for n, a in tel.span_events() if n == span_name]
            assert evs, f"no span event {span_name}"
        kind = AUDIT_KIND_OF.get(name, name)
        audit = [r for r in tel.audit() if r["kind"] == kind]
        assert audit, f"no audit record {kind}"
        for key, value in attrs.items():
            assert any(r["attributes"].get(key) == value for r in audit), (
                f"no audit record {kind} with {key}={value!r}"
            )
        assert "genesys_pulse." + kind in tel.log_event_names(), f"no OTel log {kind}"
    return len(got)


def gaps_outside(
    ctx: Ctx, kind: ProbeKind, start: float, end: float, target: str = TARGET
) -> float:
    """Largest gap between consecutive *sent* probes of ``kind`` in [start, end]."""
    sent = [
        s.sent_mono
        for _t, s in ctx.rec.probes(kind, target)
        if s.sent_mono is not None and start <= s.sent_mono <= end
    ]
    return max((b - a for a, b in itertools.pairwise(sent)), default=0.0)


def seqs_contiguous(ctx: Ctx, kind: ProbeKind, target: str = TARGET) -> bool:
    seqs = [s.seq for _t, s in ctx.rec.probes(kind, target)]
    return seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else False


Injector = Callable[[Ctx], Awaitable[None]]


def replace_target(config: MonitorConfig, tid: str, **changes: Any) -> MonitorConfig:
    targets = tuple(dataclasses.replace(t, **changes) if t.id == tid else t for t in config.targets)
    return dataclasses.replace(config, targets=targets)
