"""The emulated 48-hour soak: seeded random faults, invariants checked throughout.

``MockClock`` (autojump) + the emulator's in-memory connector. Three Genesys
targets probe at a 5 s interval (the configuration's probe-frequency ceiling:
the slowest allowed rate, chosen so that 48 h stays under the CI time budget)
with a 1 s timeout: 48 h x 3 targets x 2 probe kinds = 207,360 probes, plus
~17,000 heartbeat gaps. Every 20-50 emulated minutes a seeded random fault
from the fault matrix hits a random target.

Invariants, checked by a sink on every sample and by a checker every hour
(the monitor also feeds an OTelSink on in-memory SDK providers and an
AuditJournal, as in production):

* every probe slot is recorded (sequence numbers contiguous per target and kind);
* outside an injected fault's window, every probe is sent at exactly its
  scheduled time and answered (no timeout, no gap longer than one interval);
* internal structures stay bounded (statistics windows and histograms, pong
  matchers, links per target, loop-lag memory, callback queue, the emulator's
  channels and tokens) and the number of trio tasks does not grow;
* every injected fault is reported by the event the matrix expects, and the
  audit journal holds one unbroken sequence with at least as many records of
  each kind, per target, as faults expecting it.

``GENESYS_PULSE_SOAK_48H_HOURS`` / ``GENESYS_PULSE_SOAK_48H_TARGETS`` change
the emulated duration and the number of targets (defaults 48 and 3).
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio.testing
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genesys_pulse.core.config import parse_config, with_credentials
from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.emulator import Delay, Emulator, EmulatorSettings, open_emulator
from genesys_pulse.monitor import Monitor, run_monitor
from genesys_pulse.telemetry import AuditJournal, OTelSink, read_journal
from genesys_pulse.transport import open_websocket

HOURS = float(os.environ.get("GENESYS_PULSE_SOAK_48H_HOURS", "48"))
TARGETS = int(os.environ.get("GENESYS_PULSE_SOAK_48H_TARGETS", "3"))
INTERVAL = 5.0
TIMEOUT = 1.0
SEED = 48
HEARTBEAT = 30.0


def _task_count() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return walk(root)


@dataclass
class Injected:
    kind: str
    target: str
    at: float
    until: float
    """End of the window in which this fault may cost slots (recovery included)."""
    expect: Callable[[list[tuple[float, Event]]], bool]
    note: str = ""
    audit: str | None = None
    """The audit record kind (journal) this fault must produce, if any."""


@dataclass
class Invariants:
    """A sink that checks the slot invariants on every sample (bounded memory)."""

    interval: float
    windows: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    last: dict[tuple[str, ProbeKind], tuple[int, float | None]] = field(default_factory=dict)
    events: list[tuple[float, Event]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    violation_count: int = 0
    probes: int = 0
    heartbeats: int = 0
    late_answers: int = 0
    fault_timeouts: int = 0

    def in_fault(self, target: str, t: float) -> bool:
        return any(a <= t <= b for a, b in self.windows.get(target, ()))

    def _violate(self, text: str) -> None:
        self.violation_count += 1
        if len(self.violations) < 20:
            self.violations.append(text)

    def on_sample(self, s: Sample) -> None:
        if s.probe is ProbeKind.HEARTBEAT:
            self.heartbeats += 1
            if s.timed_out and not self.in_fault(s.target, s.scheduled_mono):
                self._violate(f"heartbeat silence outside a fault: {s}")
            return
        if s.late:
            # the late answer of a slot already seen as a timeout: not a slot
            self.late_answers += 1
            if not self.in_fault(s.target, s.scheduled_mono):
                self._violate(f"late answer outside a fault: {s}")
            return
        self.probes += 1
        key = (s.target, s.probe)
        prev = self.last.get(key)
        self.last[key] = (s.seq, s.sent_mono)
        faulty = self.in_fault(s.target, s.scheduled_mono)
        if prev is not None:
            if s.seq != prev[0] + 1:
                self._violate(f"slot missing before {s.target}/{s.probe.value}/{s.seq}")
            if (
                not faulty
                and s.sent_mono is not None
                and prev[1] is not None
                and s.sent_mono - prev[1] > self.interval + 1e-6
            ):
                self._violate(f"gap {s.sent_mono - prev[1]:.3f} s before {s}")
        if faulty:
            self.fault_timeouts += s.timed_out
            return
        if s.timed_out or s.sent_mono != s.scheduled_mono or s.local_stall:
            self._violate(f"outside a fault: {s}")

    def on_event(self, e: Event) -> None:
        if e.name != "window":
            self.events.append((trio.current_time(), e))


def _seen(
    name: str, target: str, t0: float, t1: float, **attrs: Any
) -> Callable[[list[tuple[float, Event]]], bool]:
    def check(events: list[tuple[float, Event]]) -> bool:
        return any(
            e.name == name
            and e.target == target
            and t0 <= t <= t1
            and all(
                (v(e.attributes.get(k)) if callable(v) else e.attributes.get(k) == v)
                for k, v in attrs.items()
            )
            for t, e in events
        )

    return check


KINDS = (
    "close1001",
    "close1011",
    "reset",
    "socket_closing",
    "channel_expiry",
    "stall",
    "app_drop",
    "control_drop",
    "rtt_spike",
    "token_revoked",
    "login_429",
    "channel_5xx",
    "bad_messages",
    "second_socket",
)


async def _inject(
    kind: str, tid: str, emu: Emulator, mon: Monitor, nursery: trio.Nursery
) -> Injected | None:
    link = mon.targets[tid].link
    if link is None or link.channel_id is None or link.channel_id not in emu.state.channels:
        return None
    ch = link.channel_id
    f = emu.faults
    now = trio.current_time()
    # every disconnection is followed by a reconnect within the backoff (<= a few s)
    reconnect = 120.0

    def seen(name: str, span: float, **attrs: Any) -> Callable[[list[tuple[float, Event]]], bool]:
        return _seen(name, tid, now, now + span, **attrs)

    if kind == "close1001":
        f.close(1001, "idle timeout", channel=ch)
        return Injected(kind, tid, now, now + reconnect, seen("connection.lost", 1, code=1001))
    if kind == "close1011":
        f.close(1011, "internal error", channel=ch)
        return Injected(kind, tid, now, now + reconnect, seen("connection.lost", 1, code=1011))
    if kind == "reset":
        f.reset(channel=ch)
        return Injected(kind, tid, now, now + reconnect, seen("connection.lost", 1, code=1006))
    if kind == "socket_closing":
        f.schedule_close(70.0, channel=ch)
        return Injected(
            kind, tid, now, now + 90, seen("rotation", 15, reason="socket_closing"), "no slot lost"
        )
    if kind == "channel_expiry":
        emu.state.remove_channel(emu.state.channels[ch], "expired")
        return Injected(kind, tid, now, now + reconnect, seen("channel.expired", 1))
    if kind == "stall":
        f.stall(None, channel=ch)
        return Injected(
            kind, tid, now, now + reconnect, seen("connection.lost", 30, reason="probe_timeouts")
        )
    if kind in ("app_drop", "control_drop"):
        which = "app" if kind == "app_drop" else "control"
        f.set_pong_drop(which, 1.0, channel=ch)
        await trio.sleep(30)
        f.set_pong_drop(which, 0.0, channel=ch)
        probe = "application" if which == "app" else "control"
        return Injected(kind, tid, now, now + 30 + 2 * INTERVAL, seen("timeout", 40, probe=probe))
    if kind == "rtt_spike":
        f.set_pong_delay("both", Delay.fixed(0.5), channel=ch)
        await trio.sleep(30)
        f.set_pong_delay("both", None, channel=ch)
        return Injected(
            kind, tid, now, now + 30 + 2 * INTERVAL, seen("threshold.breach", 40, metric="rtt")
        )
    if kind == "token_revoked":
        emu.state.tokens.clear()
        emu.state.remove_channel(emu.state.channels[ch], "expired")
        return Injected(
            kind, tid, now, now + reconnect, seen("token.failed", 10, reason="rest_401")
        )
    if kind == "login_429":
        emu.state.tokens.clear()
        f.fail_login(429, count=2, retry_after=3.0)
        emu.state.remove_channel(emu.state.channels[ch], "expired")
        return Injected(kind, tid, now, now + reconnect, seen("http.retry", 30, status=429))
    if kind == "channel_5xx":
        f.fail_api(503, count=3, path_prefix="/api/v2/notifications/channels")
        emu.state.remove_channel(emu.state.channels[ch], "expired")
        return Injected(kind, tid, now, now + reconnect, seen("http.retry", 30, status=503))
    if kind == "bad_messages":
        before = link.other_messages
        f.send_malformed("not-json", channel=ch)
        f.send_raw('{"topicName":"v2.unknown","eventBody":{}}', channel=ch)
        f.send_oversized(70_000, channel=ch)
        await trio.sleep(1)

        def counted(_events: list[tuple[float, Event]]) -> bool:
            return link.other_messages - before == 3

        return Injected(kind, tid, now, now, counted, "ignored, counted")
    if kind == "second_socket":
        uri = emu.state.channels[ch].connect_uri
        ws = await open_websocket(uri, connector=emu.connector, connect_timeout=5)

        async def intruder() -> None:
            try:
                await ws.run_reader(lambda _d, _t: None, lambda _p, _t: None)
            finally:
                await ws.aclose()

        nursery.start_soon(intruder)
        return Injected(kind, tid, now, now + reconnect, seen("connection.lost", 1, code=1000))
    raise AssertionError(kind)


# expected event -> its audit record kind (see genesys_pulse.telemetry AUDIT_KINDS)
AUDIT_OF = {
    "connection.lost": "connection.lost",
    "rotation": "channel.rotated",
    "channel.expired": "channel.expired",
    "timeout": "timeout",
    "threshold.breach": "threshold.breach",
    "token.failed": "token.failed",
    "token.issued": "token.issued",
    "channel.created": "channel.created",
    "http.retry": "http.retry",
}
EXPECTED_EVENT = {
    "close1001": "connection.lost",
    "close1011": "connection.lost",
    "reset": "connection.lost",
    "socket_closing": "rotation",
    "channel_expiry": "channel.expired",
    "stall": "connection.lost",
    "app_drop": "timeout",
    "control_drop": "timeout",
    "rtt_spike": "threshold.breach",
    "token_revoked": "token.failed",
    "login_429": "http.retry",
    "channel_5xx": "http.retry",
    "second_socket": "connection.lost",
}


def seqs_first_last(records: list[dict[str, Any]]) -> str:
    return f"{records[0]['seq']}..{records[-1]['seq']}" if records else "-"


def _check_bounded(mon: Monitor, emu: Emulator) -> dict[str, int]:
    worst: dict[str, int] = {}
    for probe in mon.targets.values():
        for st in probe.state.values():
            sizes = st.stats.sizes()
            assert sizes["window"] <= st.stats.capacity
            assert sizes["stable"] <= st.stats.capacity
            for key, value in sizes.items():
                worst[key] = max(worst.get(key, 0), value)
                assert value <= 2000, (key, value)
    for sup in mon.supervisors.values():
        assert len(sup.open_links) <= 2
        worst["open_links"] = max(worst.get("open_links", 0), len(sup.open_links))
        for link in sup.open_links:
            # pong matchers: pings in flight and owed (late) pongs stay a handful
            for name, matcher in (("control", link.control), ("app", link.app)):
                for attr in ("pending", "owed"):
                    n = int(getattr(matcher, attr, 0))
                    key = f"{name}_{attr}"
                    worst[key] = max(worst.get(key, 0), n)
                    assert n <= 8, (key, n)
    records = emu.faults.pong_records
    assert records.maxlen is not None and len(records) <= records.maxlen
    assert mon.looplag.remembered <= mon.looplag.stall_capacity
    assert mon.dispatcher.queue_length <= mon.dispatcher.capacity
    assert len(emu.state.channels) <= emu.settings.max_channels
    worst["emulator_channels"] = len(emu.state.channels)
    worst["emulator_tokens"] = len(emu.state.tokens)
    assert len(emu.state.tokens) <= 50, len(emu.state.tokens)
    return worst


async def test_48_hours_of_random_faults(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    settings = EmulatorSettings(
        seed=SEED, event_rate=0.0, heartbeat_period=HEARTBEAT, token_ttl=6 * 3600
    )
    inv = Invariants(INTERVAL)
    journal_path = tmp_path / "journal.jsonl"
    journal = AuditJournal(journal_path, fsync="never", max_bytes=2 * 1024 * 1024, backups=50)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    otel = OTelSink(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[InMemoryMetricReader()]),
        window=60.0,
    )
    injected: list[Injected] = []
    skipped = 0
    tasks: list[int] = []
    worst: dict[str, int] = {}
    real0 = time.perf_counter()
    async with open_emulator(settings=settings) as emu:
        base = parse_config(
            {
                "targets": [
                    {
                        "id": f"soak-target-{i:02d}",
                        "kind": "genesys",
                        "environment": "mypurecloud.com",
                        "interval": INTERVAL,
                        "timeout": TIMEOUT,
                        "heartbeat_period": HEARTBEAT,
                    }
                    for i in range(TARGETS)
                ]
            },
            {},
        )
        config = with_credentials(
            base, emu.client_id, emu.client_secret, emu.login_url, emu.api_url
        )
        # One OAuth client per target (three organisations, as in production): each
        # token refresh rotates to a new channel and the old one lingers until it
        # expires, so three targets sharing one client with 6 h tokens would fill
        # the client's channel budget within the day -- and rightly stop creating.
        targets = []
        for i, t in enumerate(config.targets):
            assert t.genesys is not None
            client_id = f"{emu.client_id}-{i}"
            emu.state.add_client(client_id, emu.client_secret)
            targets.append(
                dataclasses.replace(t, genesys=dataclasses.replace(t.genesys, client_id=client_id))
            )
        config = dataclasses.replace(config, targets=tuple(targets))
        async with trio.open_nursery() as nursery:
            mon: Monitor = await nursery.start(
                lambda task_status: run_monitor(
                    config,
                    sinks=[inv, journal, otel],
                    connector=emu.connector,
                    rng=random.Random(SEED),
                    task_status=task_status,
                )
            )
            start = trio.current_time()
            end = start + HOURS * 3600
            rng = random.Random(SEED)
            tids = list(mon.targets)
            next_check = start + 3600
            await trio.sleep(60)
            tasks.append(_task_count())
            while True:
                wait = rng.uniform(20 * 60, 50 * 60)
                if trio.current_time() + wait + 900 > end:
                    break
                t_next = trio.current_time() + wait
                while next_check < t_next:
                    await trio.sleep_until(next_check)
                    for k, v in _check_bounded(mon, emu).items():
                        worst[k] = max(worst.get(k, 0), v)
                    tasks.append(_task_count())
                    next_check += 3600
                await trio.sleep_until(t_next)
                kind = rng.choice(KINDS)
                tid = rng.choice(tids)
                # open the window first: the fault may cost slots at once
                now = trio.current_time()
                window = [now - INTERVAL, now + 180.0]
                inv.windows.setdefault(tid, []).append((window[0], window[1]))
                got = await _inject(kind, tid, emu, mon, nursery)
                inv.windows[tid][-1] = (window[0], max(window[1], got.until if got else 0.0))
                if got is None:
                    skipped += 1
                    continue
                injected.append(got)
            await trio.sleep_until(end)
            for k, v in _check_bounded(mon, emu).items():
                worst[k] = max(worst.get(k, 0), v)
            tasks.append(_task_count())
            nursery.cancel_scope.cancel()
    real = time.perf_counter() - real0
    otel.close()
    journal.close()
    records = read_journal(journal_path, backups=50)
    missed = [i for i in injected if not i.expect(inv.events)]
    by_kind: dict[str, int] = {}
    for i in injected:
        by_kind[i.kind] = by_kind.get(i.kind, 0) + 1
    span_events = sum(len(sp.events) for sp in spans.get_finished_spans())
    lost = len([e for _t, e in inv.events if e.name == "connection.lost"])
    rotations = len([e for _t, e in inv.events if e.name == "rotation"])
    print(
        f"\nsoak: {HOURS:g} h emulated in {real:.1f} s real; {TARGETS} targets at {INTERVAL:g} s; "
        f"{inv.probes} probes, {inv.heartbeats} heartbeat gaps; {len(injected)} faults injected "
        f"({skipped} skipped), {len(injected) - len(missed)} reported; "
        f"{inv.fault_timeouts} timed-out samples inside fault windows; {lost} connections lost, "
        f"{rotations} rotations; {len(records)} audit records (seq {seqs_first_last(records)}), "
        f"{len(spans.get_finished_spans())} spans with {span_events} span events; tasks per hour {min(tasks)}..{max(tasks)}; worst sizes {worst}",
        file=sys.stderr,
    )
    print(f"faults by kind: {by_kind}", file=sys.stderr)
    assert inv.violation_count == 0, (inv.violation_count, inv.violations)
    # the audit trail: one unbroken sequence over 48 h, and for every target at
    # least as many records of each kind as faults expecting that kind
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "gap in the journal sequence"
    need: dict[tuple[str, str], int] = {}
    for i in injected:
        name = EXPECTED_EVENT.get(i.kind)
        if name is not None:
            key = (AUDIT_OF[name], i.target)
            need[key] = need.get(key, 0) + 1
    have: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["kind"], r["target"])
        have[key] = have.get(key, 0) + 1
    short = {k: (n, have.get(k, 0)) for k, n in need.items() if have.get(k, 0) < n}
    assert not short, short
    assert otel.errors == 0
    assert not missed, [(i.kind, i.target, i.at) for i in missed]
    assert len(injected) >= HOURS * 60 / 50 - 3
    expected_probes = TARGETS * 2 * HOURS * 3600 / INTERVAL
    assert inv.probes >= 0.99 * expected_probes, (inv.probes, expected_probes)
    # no task leak: the task count after every hour stays within the first hour's
    # count plus what a rotation in progress adds
    assert max(tasks) <= tasks[0] + 4 * TARGETS, tasks
