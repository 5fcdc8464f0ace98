"""The fault matrix: ONE place that defines every fault.

Each :class:`Fault` says how it is injected (the emulator's
``FaultController``/state, the ``_netem`` TCP fault proxy, a connector, a
callback), the bound its detection must meet, the bound its recovery must
meet, and what must be reported. ``tests/faults/test_matrix.py`` runs each as
a test; ``bench/fault_matrix.py`` runs them all and prints the summary table.

Bounds (``I`` = probe interval, ``T`` = probe timeout):

* a missing pong: ``T + I`` (the next slot's deadline);
* an RTT spike: ``k * I + spike`` (raise after k of n = 3 of 5 slow samples);
* a dead link from lost probes: ``DEAD_AFTER * I + T``;
* a silent socket (heartbeats only): ``3 * heartbeat period + I``;
* an announced/closed/reset socket: immediate (one scheduler pass);
* recovery after a lost connection: the first reconnect delay (``<= 0.25 s``,
  quick first retry of the monitor's backoff) plus one interval to the next slot;
* Retry-After: honoured exactly (``RA .. RA + min(1, RA/10)``) before each retry.

Under ``MockClock`` (``clock="mock"``) every time is exact; the rows that need
a real socket or a real blocking call run on the real clock with a stated slack.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import trio
import trio.lowlevel

from genesys_pulse.core.config import MonitorConfig, Secret, with_credentials
from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.emulator import Delay, Emulator, HttpFault
from genesys_pulse.emulator._netem import fixed_delay
from genesys_pulse.monitor import AuthenticationRefused
from genesys_pulse.monitor._supervisor import CONNECT_TIMEOUT
from genesys_pulse.monitor._target import DEAD_AFTER
from genesys_pulse.transport import ConnectError, NetConnector, open_websocket

from ._harness import (
    TARGET,
    Ctx,
    NoDnsConnector,
    expect_reported,
    free_port,
    gaps_outside,
    replace_target,
    seqs_contiguous,
)

I = 1.0  # noqa: E741 - probe interval of the MockClock rows
T = 0.5  # probe timeout of the MockClock rows
I_TCP = 0.25
T_TCP = 0.2
FIRST_BACKOFF = 1.0  # the supervisor's core Backoff(initial=1.0), full jitter: first delay <= 1 s
TICK = 0.01  # "immediate" under MockClock: same instant, allow one tick
REAL_SLACK = 0.25  # real-clock rows: scheduling and loopback slack (not a tight bound)
HB = 30.0  # heartbeat period (emulator and targets)

CTRL = ProbeKind.CONTROL
APP = ProbeKind.APPLICATION


@dataclass(frozen=True)
class Fault:
    """One row of the matrix."""

    name: str
    inject: Callable[[Ctx], Awaitable[None]]
    check: Callable[[Ctx], str]
    """Asserts what must be reported; returns the 'reported' cell."""
    detect: Callable[[Ctx], float | None]
    """trio time at which the monitor reported the fault (None: not detected)."""
    bound: float | None
    recover_bound: float | None
    recovered: Callable[[Ctx], float | None] | None = None
    """trio time of recovery; default: first answered probe after the origin."""
    mode: Literal["memory", "tcp"] = "memory"
    clock: Literal["mock", "real"] = "mock"
    proxy: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    tunables: dict[str, Any] = field(default_factory=lambda: {"interval": I, "timeout": T})
    targets: int = 1
    warmup: float = 10.0
    observe: float = 40.0
    otel: bool = True
    expect_running: bool = True
    expect_connected: bool = True
    connector: Callable[[Any], Any] | None = None
    prepare: Callable[[Emulator, dict[str, Any]], None] | None = None
    configure: Callable[[MonitorConfig, Emulator, dict[str, Any]], MonitorConfig] | None = None
    monitor_kwargs: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    sinks: Callable[[MonitorConfig, dict[str, Any]], list[Any]] | None = None
    finish: Callable[[dict[str, Any]], None] | None = None


# -- detection helpers ------------------------------------------------------------


def first(name: str, **attrs: Any) -> Callable[[Ctx], float | None]:
    def detect(ctx: Ctx) -> float | None:
        got = ctx.rec.named(name, ctx.t_inject, **attrs)
        return got[0][0] if got else None

    return detect


def first_answered(kind: ProbeKind, origin: str = "clear") -> Callable[[Ctx], float | None]:
    def rec(ctx: Ctx) -> float | None:
        t0 = ctx.t_clear if origin == "clear" and ctx.t_clear is not None else ctx.t_inject
        for t, s in ctx.rec.probes(kind, TARGET):
            if t >= t0 and not s.timed_out and s.sent_mono is not None and s.sent_mono >= t0:
                return t
        return None

    return rec


def timed_out(ctx: Ctx, kind: ProbeKind, after: float) -> list[Sample]:
    return [s for t, s in ctx.rec.probes(kind, TARGET) if s.timed_out and t >= after]


def lost_after(ctx: Ctx) -> list[Event]:
    return [e for _t, e in ctx.rec.named("connection.lost", ctx.t_inject)]


def no_lost_slots_outside(ctx: Ctx, start: float, end: float) -> None:
    for kind in (CTRL, APP):
        assert seqs_contiguous(ctx, kind), f"{kind.value} slot missing"
        bad = [
            s
            for _t, s in ctx.rec.probes(kind, TARGET)
            if s.timed_out and not start <= s.scheduled_mono <= end
        ]
        assert not bad, f"{len(bad)} {kind.value} timeouts outside the fault"


# -- the faults -------------------------------------------------------------------


async def _pong_spike(ctx: Ctx) -> None:
    ctx.emu.faults.set_pong_delay("both", Delay.fixed(0.3))
    await trio.sleep(8)
    ctx.emu.faults.set_pong_delay("both", None)
    ctx.t_clear = trio.current_time()


def _pong_spike_check(ctx: Ctx) -> str:
    assert not timed_out(ctx, CTRL, 0) and not timed_out(ctx, APP, 0), "a 300 ms pong timed out"
    n = expect_reported(ctx, "threshold.breach", metric="rtt")
    probes = {e.attributes["probe"] for _t, e in ctx.rec.named("threshold.breach", metric="rtt")}
    assert probes == {"control", "application"}, probes
    c = expect_reported(ctx, "threshold.clear", metric="rtt")
    assert not lost_after(ctx)
    return f"threshold.breach rtt x{n} (control+application), clear x{c}; span+audit"


def _rtt_cleared(ctx: Ctx) -> float | None:
    assert ctx.t_clear is not None
    got = ctx.rec.named("threshold.clear", ctx.t_clear, metric="rtt")
    return got[-1][0] if len(got) >= 2 else None


def _drop(kind: Literal["app", "control"]) -> Callable[[Ctx], Awaitable[None]]:
    async def inject(ctx: Ctx) -> None:
        ctx.emu.faults.set_pong_drop(kind, 1.0)
        await trio.sleep(5)
        ctx.emu.faults.set_pong_drop(kind, 0.0)
        ctx.t_clear = trio.current_time()

    return inject


def _drop_check(kind: ProbeKind) -> Callable[[Ctx], str]:
    other = APP if kind is CTRL else CTRL

    def check(ctx: Ctx) -> str:
        lost = timed_out(ctx, kind, ctx.t_inject)
        assert 4 <= len(lost) <= 6, f"{len(lost)} {kind.value} timeouts for 5 s of drops"
        # probe timeouts, not disconnection: sent and unanswered, or (application,
        # stop-and-wait) not sent because the previous ping was still owed
        unsent = [s for s in lost if s.sent_mono is None]
        assert all(s.timeout_reason == "previous_ping_unanswered" for s in unsent), unsent[:1]
        assert kind is APP or not unsent
        assert not timed_out(ctx, other, 0), f"{other.value} probes timed out"
        events = ctx.rec.named("timeout", ctx.t_inject, probe=kind.value)
        assert len(events) == len(lost), (len(events), len(lost))
        expect_reported(ctx, "timeout", probe=kind.value)
        assert ctx.tel is not None
        spans = [a for n, a in ctx.tel.span_events() if n == "genesys.ping.timeout"]
        assert all(a.get("genesys.ping.type") == kind.value for a in spans), spans[:2]
        assert not lost_after(ctx), "the link was dropped although the other probe answered"
        held = f" ({len(unsent)} unsent: previous unanswered)" if unsent else ""
        return (
            f"{len(lost)} {kind.value} timeouts{held} (0 {other.value}); "
            "genesys.ping.timeout span+audit"
        )

    return check


async def _until(ctx: Ctx, name: str, limit: float, **attrs: Any) -> float | None:
    """Poll the recorder (bounded) until ``name`` was emitted after the injection."""
    with trio.move_on_after(limit):
        while not ctx.rec.named(name, ctx.t_inject, **attrs):  # noqa: ASYNC110
            await trio.sleep(0.01)
        return ctx.rec.named(name, ctx.t_inject, **attrs)[0][0]
    return None


async def _stall_emulator(ctx: Ctx) -> None:
    assert ctx.emu.faults.stall(None, channel=ctx.channel_id()) == 1
    # recovery is counted from the moment the monitor gave the link up
    ctx.t_clear = await _until(ctx, "connection.lost", DEAD_AFTER * I + T + 1)


def _stall_check(ctx: Ctx) -> str:
    lost = lost_after(ctx)
    assert len(lost) == 1 and lost[0].attributes["reason"] == "probe_timeouts", lost
    t_lost = ctx.rec.named("connection.lost", ctx.t_inject)[0][0]
    assert t_lost - ctx.t_inject <= DEAD_AFTER * I + T + 1e-9, t_lost - ctx.t_inject
    expect_reported(ctx, "timeout")
    expect_reported(ctx, "connection.lost", reason="probe_timeouts")
    expect_reported(ctx, "connection.restored")
    n = len(timed_out(ctx, CTRL, ctx.t_inject))
    return f"timeouts x{n}/probe, connection.lost probe_timeouts, restored; span+audit"


async def _stall_silent(ctx: Ctx) -> None:
    assert ctx.emu.faults.stall(None, channel=ctx.channel_id()) == 1


def _silent_check(ctx: Ctx) -> str:
    lost = lost_after(ctx)
    assert lost and lost[0].attributes["reason"] == "heartbeat_silence", lost
    expect_reported(ctx, "timeout", probe="heartbeat")
    expect_reported(ctx, "connection.lost", reason="heartbeat_silence")
    before = ctx.rec.named("connection.lost")
    assert len(before) == len(lost), "the link was dropped before the stall"
    return "heartbeat timeout, connection.lost heartbeat_silence, restored; span+audit"


def _restored(ctx: Ctx) -> float | None:
    got = ctx.rec.named("connection.restored", ctx.t_inject)
    return got[0][0] if got else None


async def _proxy_stall(ctx: Ctx) -> None:
    assert ctx.proxy is not None
    ctx.proxy.stall()
    await _until(ctx, "connection.lost", DEAD_AFTER * I_TCP + T_TCP + 5)
    ctx.proxy.resume()
    ctx.t_clear = trio.current_time()


def _proxy_stall_check(ctx: Ctx) -> str:
    lost = lost_after(ctx)
    assert lost and lost[0].attributes["reason"] == "probe_timeouts", lost
    t_lost = ctx.rec.named("connection.lost", ctx.t_inject)[0][0]
    assert t_lost - ctx.t_inject <= DEAD_AFTER * I_TCP + T_TCP + REAL_SLACK
    expect_reported(ctx, "timeout")
    expect_reported(ctx, "connection.lost", reason="probe_timeouts")
    expect_reported(ctx, "connection.restored")
    return "timeouts, connection.lost probe_timeouts, restored; span+audit"


NET_DELAY = 0.1  # added each way by the proxy: +200 ms RTT


async def _proxy_delay(ctx: Ctx) -> None:
    assert ctx.proxy is not None
    ctx.proxy.upstream.delay = fixed_delay(NET_DELAY)
    ctx.proxy.downstream.delay = fixed_delay(NET_DELAY)
    await trio.sleep(4.0)
    ctx.proxy.upstream.delay = None
    ctx.proxy.downstream.delay = None
    ctx.t_clear = trio.current_time()


def _proxy_delay_check(ctx: Ctx) -> str:
    assert ctx.t_clear is not None
    for kind in (CTRL, APP):
        assert not timed_out(ctx, kind, 0), f"{kind.value} timed out"
    expect_reported(ctx, "threshold.breach", metric="rtt")
    expect_reported(ctx, "threshold.clear", metric="rtt")
    # the RTT measured during the fault is the added delay plus loopback: truthful
    during = sorted(
        s.rtt_s
        for _t, s in ctx.rec.probes(APP, TARGET)
        if s.rtt_s is not None and ctx.t_inject + 0.5 <= s.scheduled_mono <= ctx.t_clear - 0.5
    )
    assert during, "no samples during the fault"
    med = during[len(during) // 2]
    assert 2 * NET_DELAY <= med <= 2 * NET_DELAY + 0.05, med
    assert not lost_after(ctx)
    return f"threshold.breach/clear rtt; application RTT median {med * 1000:.1f} ms (+200 ms added)"


# -- truth beyond the interval (issue: late vs lost pongs) ------------------------

I_TRUTH = 0.5  # real-clock rows: interval
T_TRUTH = 0.25  # and timeout (1.2 x T = 0.3 s < I; 1.2 x I = 0.6 s; 2.2 x I = 1.1 s)
LATE_TOLERANCE = 0.002  # a late answer's RTT is the injected delay within 2 ms
LOADED_SLACK = 0.050
"""Real-clock rows run emulator, proxy and monitor in one process on 2 cores shared
with other work: there each late RTT is within 50 ms of the delay (the same
scheduling noise every loopback RTT has; the median and max are reported).
MockClock rows hold every late RTT within 2 ms (exactly 0 in practice). A wrong
attribution is off by at least the interval (500 ms) or shows an RTT below the
delay."""
BELOW_TOLERANCE = 0.005  # no RTT more than 5 ms below the injected delay
TRUTH_HOLD = 4.0  # seconds the delay is held (then removed, recovery measured)


def _delay_beyond(
    where: Literal["server", "network"], delay: float
) -> Callable[[Ctx], Awaitable[None]]:
    """In-order delay ``delay``: added by the emulator to application pongs, or by the
    TCP fault proxy to everything the server sends (control and application pongs alike)."""

    async def inject(ctx: Ctx) -> None:
        ctx.extra["delay"] = delay
        if where == "server":
            ctx.emu.faults.set_pong_delay("app", Delay.fixed(delay))
        else:
            assert ctx.proxy is not None
            ctx.proxy.downstream.delay = fixed_delay(delay)
        await trio.sleep(TRUTH_HOLD)
        # levels at the end of the fault, before it is removed
        ctx.extra["levels"] = ctx.monitor.targets[TARGET].levels()
        if where == "server":
            ctx.emu.faults.set_pong_delay("app", None)
        else:
            assert ctx.proxy is not None
            ctx.proxy.downstream.delay = None
        ctx.t_clear = trio.current_time()

    return inject


def _delay_beyond_check(where: Literal["server", "network"]) -> Callable[[Ctx], str]:
    def check(ctx: Ctx) -> str:
        delay: float = ctx.extra["delay"]
        assert ctx.t_clear is not None
        kinds = (APP,) if where == "server" else (APP, CTRL)
        parts = []
        for kind in kinds:
            # every probe sent during the fault (after the first one that met it)
            during = [
                s
                for _t, s in ctx.rec.probes(kind, TARGET)
                if ctx.t_inject + 0.05 <= s.scheduled_mono <= ctx.t_clear - delay - 0.05
            ]
            assert len(during) >= int(TRUTH_HOLD / I_TRUTH) - 4, len(during)
            answered = [s for s in during if not s.timed_out]
            assert not answered, (
                f"{kind.value}: {len(answered)} answered, RTTs {[s.rtt_s for s in answered][:4]}"
            )
            # no RTT reported below the truth, anywhere after the injection
            low = [
                s.rtt_s
                for _t, s in ctx.rec.probes(kind, TARGET)
                if s.rtt_s is not None
                and s.sent_mono is not None
                and ctx.t_inject + 0.05 <= s.sent_mono <= ctx.t_clear - delay - 0.05
                and s.rtt_s < delay - BELOW_TOLERANCE
            ]
            assert not low, f"{kind.value} RTTs below the injected {delay} s: {low[:4]}"
            lates = [
                s
                for _t, s in ctx.rec.lates(kind, TARGET)
                if s.sent_mono is not None
                and ctx.t_inject + 0.05 <= s.sent_mono <= ctx.t_clear - delay - 0.05
            ]
            assert lates, f"no {kind.value} late answers"
            errs = [s.late_rtt_s - delay for s in lates if s.late_rtt_s is not None]
            assert len(errs) == len(lates)
            shown = [round(e * 1000, 3) for e in errs]
            each = LATE_TOLERANCE if ctx.fault.clock == "mock" else LOADED_SLACK
            assert all(-1e-9 <= e <= each for e in errs), f"{kind.value} late - delay: {shown} ms"
            med = sorted(errs)[len(errs) // 2]
            seqs = {s.seq for s in during}
            assert {s.seq for s in lates} <= seqs | {min(seqs) - 1}, "a late answer for no timeout"
            skipped = sum(s.timeout_reason == "previous_ping_unanswered" for s in during)
            parts.append(
                f"{kind.value}: {len(during)} timeouts ({skipped} unsent: previous unanswered), "
                f"{len(lates)} late answers, RTT - delay median {med * 1000:.1f} ms, "
                f"max {max(errs) * 1000:.1f} ms"
            )
        levels = ctx.extra["levels"]
        for kind in kinds:
            for metric in ("rtt", "consecutive_timeouts"):
                key = f"{kind.value}.{metric}"
                assert levels[key] == "critical", (key, levels[key])
        expect_reported(ctx, "timeout", probe="application")
        expect_reported(ctx, "threshold.breach", metric="rtt", probe="application")
        if where == "server":
            assert not lost_after(ctx), "the link was dropped although control pings answered"
        return "; ".join(parts) + "; levels critical"

    return check


def _delay_beyond_fault(
    name: str, where: Literal["server", "network"], delay: float, clock: str = "real"
) -> Fault:
    if clock == "mock":
        return Fault(
            name,
            _delay_beyond(where, delay),
            _delay_beyond_check(where),
            detect=first("timeout", probe="application"),
            bound=T_TRUTH + I_TRUTH,
            recover_bound=delay + 2 * I_TRUTH,
            recovered=first_answered(APP),
            tunables={"interval": I_TRUTH, "timeout": T_TRUTH},
            warmup=2.0,
            observe=TRUTH_HOLD + delay + 3 * I_TRUTH + 0.5,
        )
    return Fault(
        name,
        _delay_beyond(where, delay),
        _delay_beyond_check(where),
        detect=first("timeout", probe="application"),
        bound=T_TRUTH + I_TRUTH + REAL_SLACK,
        # stop-and-wait: the owed pong arrives within ``delay`` of its send,
        # the next slot then answers in time
        recover_bound=delay + 2 * I_TRUTH + REAL_SLACK,
        recovered=first_answered(APP),
        mode="tcp",
        clock="real",
        proxy=where == "network",
        tunables={"interval": I_TRUTH, "timeout": T_TRUTH},
        warmup=1.5,
        observe=TRUTH_HOLD + delay + 3 * I_TRUTH + 0.5,
    )


TRUTH_DELAYS = {
    "1.2 x timeout": 1.2 * T_TRUTH,
    "1.2 x interval": 1.2 * I_TRUTH,
    "2.2 x interval": 2.2 * I_TRUTH,
}
TRUTH_FAULTS = [
    _delay_beyond_fault(f"{where} delay {label}", where, d)
    for where in ("server", "network")
    for label, d in TRUTH_DELAYS.items()
    # network 2.2 x I is the matrix row "network delay beyond the interval"
    if not (where == "network" and d == 2.2 * I_TRUTH)
] + [
    _delay_beyond_fault(f"server delay {label} (MockClock)", "server", d, "mock")
    for label, d in TRUTH_DELAYS.items()
    # server 2.2 x I under MockClock is the matrix row "application RTT beyond the interval"
    if d != 2.2 * I_TRUTH
]


def _rtt_cleared_any(ctx: Ctx) -> float | None:
    assert ctx.t_clear is not None
    got = ctx.rec.named("threshold.clear", ctx.t_clear, metric="rtt")
    return got[-1][0] if got else None


async def _thin_pipe(ctx: Ctx) -> None:
    """A 4 KB/s downstream and a 70 KB message: pongs queue behind it (head-of-line)."""
    assert ctx.proxy is not None
    ctx.proxy.downstream.bandwidth = 4000.0
    ctx.emu.faults.send_oversized(70_000)
    ctx.t_clear = await _until(ctx, "connection.lost", DEAD_AFTER * I_TCP + T_TCP + 5)
    ctx.proxy.downstream.bandwidth = None


def _thin_pipe_check(ctx: Ctx) -> str:
    lost = lost_after(ctx)
    assert lost and lost[0].attributes["reason"] == "probe_timeouts", lost
    expect_reported(ctx, "timeout")
    expect_reported(ctx, "connection.lost", reason="probe_timeouts")
    expect_reported(ctx, "connection.restored")
    n = len(timed_out(ctx, APP, ctx.t_inject))
    return f"{n} application timeouts behind the big message, connection.lost, restored"


async def _proxy_reset(ctx: Ctx) -> None:
    assert ctx.proxy is not None
    assert ctx.proxy.reset_connections() >= 1


def _reset_check(ctx: Ctx) -> str:
    lost = lost_after(ctx)
    assert lost and lost[0].attributes["code"] == 1006, lost
    expect_reported(ctx, "connection.lost", code=1006)
    expect_reported(ctx, "reconnect")
    expect_reported(ctx, "connection.restored")
    return "connection.lost 1006, reconnect, restored; span+audit"


def _close(code: int, reason: str) -> Callable[[Ctx], Awaitable[None]]:
    async def inject(ctx: Ctx) -> None:
        assert ctx.emu.faults.close(code, reason) == 1

    return inject


def _close_check(code: int, reason: str) -> Callable[[Ctx], str]:
    def check(ctx: Ctx) -> str:
        lost = lost_after(ctx)
        assert len(lost) == 1, lost
        a = lost[0].attributes
        assert a["code"] == code and a["close_reason"] == reason and a["planned"] is False, a
        expect_reported(ctx, "connection.lost", code=code, close_reason=reason)
        expect_reported(ctx, "reconnect")
        expect_reported(ctx, "connection.restored")
        assert len(ctx.rec.named("channel.created")) == 1, "the channel was not reused"
        unanswered = timed_out(ctx, CTRL, ctx.t_inject)
        assert len(unanswered) <= 1 and all(s.sent_mono is None for s in unanswered)
        return f"connection.lost {code} {reason!r}, reconnect, restored (same channel); span+audit"

    return check


LEAD = 60.0


async def _socket_closing(ctx: Ctx) -> None:
    ctx.emu.faults.schedule_close(LEAD + 10, channel=ctx.channel_id(), code=1001)


def _socket_closing_check(ctx: Ctx) -> str:
    expect_reported(ctx, "socket_closing")
    expect_reported(ctx, "rotation", reason="socket_closing")
    assert not lost_after(ctx), "the close was not handled make-before-break"
    no_lost_slots_outside(ctx, 1e18, -1e18)
    for kind in (CTRL, APP):
        gap = gaps_outside(ctx, kind, -1e18, 1e18)
        assert gap <= I + 1e-9, f"{kind.value} gap {gap}"
    return "socket_closing, rotation (make-before-break), 0 lost slots; span+audit"


def _rotated(ctx: Ctx) -> float | None:
    got = ctx.rec.named("rotation", ctx.t_inject)
    return got[0][0] if got else None


async def _expire_channel(ctx: Ctx) -> None:
    ch = ctx.emu.state.channels[ctx.channel_id()]
    ctx.emu.state.remove_channel(ch, "expired")


def _expiry_check(ctx: Ctx) -> str:
    expect_reported(ctx, "channel.expired")
    expect_reported(ctx, "connection.lost")
    expect_reported(ctx, "connection.restored")
    created = ctx.rec.named("channel.created")
    assert len(created) == 2, f"{len(created)} channels created"
    return "channel.expired, connection.lost, new channel, restored; span+audit"


def _count_logins(emu: Emulator, extra: dict[str, Any]) -> None:
    attempts: list[tuple[float, str]] = []
    extra["logins"] = attempts
    original = emu.state.authenticate
    take = emu.faults.take_login_fault
    take_api = emu.faults.take_api_fault
    extra["api"] = api = []

    def authenticate(client_id: str, client_secret: str) -> bool:
        attempts.append((trio.current_time(), client_id))
        return original(client_id, client_secret)

    def take_login_fault() -> Any:
        fault = take()
        if fault is not None:
            attempts.append((trio.current_time(), f"fault:{fault.status}"))
        return fault

    def take_api_fault(path: str, method: str = "") -> Any:
        fault = take_api(path, method)
        if method != "GET":  # the channel budget's listings are not what is counted here
            api.append((trio.current_time(), path, None if fault is None else fault.status))
        return fault

    emu.state.authenticate = authenticate  # type: ignore[method-assign]
    emu.faults.take_login_fault = take_login_fault  # type: ignore[method-assign]
    emu.faults.take_api_fault = take_api_fault  # type: ignore[method-assign]


async def _token_revoked(ctx: Ctx) -> None:
    ctx.emu.state.tokens.clear()  # every issued token is now unknown: REST answers 401
    await _expire_channel(ctx)


def _token_check(ctx: Ctx) -> str:
    expect_reported(ctx, "token.failed", reason="rest_401")
    issued = ctx.rec.named("token.issued", ctx.t_inject)
    assert len(issued) == 1, issued
    logins = [t for t, who in ctx.extra["logins"] if t >= ctx.t_inject]
    assert len(logins) == 1, f"{len(logins)} logins after the 401"
    expect_reported(ctx, "connection.restored")
    return "token.failed rest_401, one re-login, token.issued, restored; span+audit"


RA = 3.0  # Retry-After of the 429 rows


async def _login_429(ctx: Ctx) -> None:
    ctx.emu.faults.fail_login(429, count=2, retry_after=RA)
    await _token_revoked(ctx)


def _retry_after_gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def _login_429_check(ctx: Ctx) -> str:
    tries = [t for t, who in ctx.extra["logins"] if t >= ctx.t_inject]
    faults = [t for t, who in ctx.extra["logins"] if who == "fault:429"]
    assert len(faults) == 2, ctx.extra["logins"]
    # 429, 429, then the successful authenticate (the fault entries come first)
    seq = sorted(set(faults + [t for t in tries if t not in faults]))
    gaps = _retry_after_gaps(seq)
    assert len(gaps) == 2, seq
    assert all(RA <= g <= RA + min(1.0, RA * 0.1) + 1e-9 for g in gaps), gaps
    retries = sum(s.http_retries for s in ctx.monitor.supervisors.values())
    assert retries >= 2
    n = expect_reported(ctx, "http.retry", status=429, endpoint="oauth.token")
    assert n == 2, n
    expect_reported(ctx, "connection.restored")
    return (
        f"2x429 retried after {', '.join(f'{g:.2f}' for g in gaps)} s (Retry-After {RA:g}); "
        "http.retry x2 (status 429); span+audit"
    )


def _first_api_fault(status: int) -> Callable[[Ctx], float | None]:
    def detect(ctx: Ctx) -> float | None:
        got = [t for t, _p, st in ctx.extra["api"] if st == status and t >= ctx.t_inject]
        return got[0] if got else None

    return detect


def _first_login_fault(ctx: Ctx) -> float | None:
    got = [t for t, who in ctx.extra["logins"] if who.startswith("fault:")]
    return got[0] if got else None


CHANNELS = "/api/v2/notifications/channels"


async def _channel_429(ctx: Ctx) -> None:
    ctx.emu.faults.fail_api(429, count=2, retry_after=RA, path_prefix=CHANNELS, method="POST")
    await _expire_channel(ctx)


def _channel_429_check(ctx: Ctx) -> str:
    posts = [t for t, p, _st in ctx.extra["api"] if p.startswith(CHANNELS) and t >= ctx.t_inject]
    assert len(posts) == 3, ctx.extra["api"]
    gaps = _retry_after_gaps(posts)
    assert all(RA <= g <= RA + min(1.0, RA * 0.1) + 1e-9 for g in gaps), gaps
    expect_reported(ctx, "channel.expired")
    expect_reported(ctx, "connection.restored")
    n = expect_reported(ctx, "http.retry", status=429)
    assert n == 2, n
    return (
        f"2x429 on channel creation retried after {', '.join(f'{g:.2f}' for g in gaps)} s; "
        "http.retry x2 (status 429); span+audit"
    )


async def _burst_5xx(ctx: Ctx) -> None:
    ctx.emu.faults.fail_api(503, count=4, path_prefix=CHANNELS, method="POST")
    await _expire_channel(ctx)


def _burst_check(ctx: Ctx) -> str:
    posts = [t for t, p, _st in ctx.extra["api"] if p.startswith(CHANNELS) and t >= ctx.t_inject]
    assert len(posts) == 5, ctx.extra["api"]
    gaps = _retry_after_gaps(posts)
    # full-jitter exponential backoff: attempt i waits uniform in [0, 0.5 * 2**i]
    for i, g in enumerate(gaps):
        assert 0.0 <= g <= 0.5 * 2**i + 1e-9, gaps
    expect_reported(ctx, "connection.restored")
    n = expect_reported(ctx, "http.retry", status=503)
    assert n == 4, n
    return f"http.retry x4 (503; span+audit), backoff {', '.join(f'{g:.2f}' for g in gaps)} s; restored"


# the login service down for 15 min, across the token's expiry (TTL 300 s)
LOGIN_OUTAGE = 900.0


def _login_switch(emu: Emulator, extra: dict[str, Any]) -> None:
    _count_logins(emu, extra)
    extra["login_down"] = False
    take = emu.faults.take_login_fault

    def take_login_fault() -> Any:
        if extra["login_down"]:
            extra["logins"].append((trio.current_time(), "fault:503"))
            return HttpFault(503)
        return take()

    emu.faults.take_login_fault = take_login_fault  # type: ignore[method-assign]


async def _login_outage(ctx: Ctx) -> None:
    ctx.extra["login_down"] = True
    await trio.sleep(LOGIN_OUTAGE)
    ctx.extra["login_down"] = False
    ctx.t_clear = trio.current_time()


def _login_outage_check(ctx: Ctx) -> str:
    assert ctx.t_clear is not None
    down = [t for t, who in ctx.extra["logins"] if who == "fault:503"]
    # the established socket needs no token: probing goes on, no slot lost
    for kind in (CTRL, APP):
        assert seqs_contiguous(ctx, kind)
        assert not timed_out(ctx, kind, 0), f"{kind.value} timed out during the login outage"
    expect_reported(ctx, "token.failed")
    # no retry storm against the failing login service
    assert len(down) <= LOGIN_OUTAGE / 2, len(down)
    issued = ctx.rec.named("token.issued", ctx.t_clear)
    assert issued, "no token after the login service came back"
    failed = ctx.rec.named("token.failed", ctx.t_inject)
    return (
        f"token.failed x{len(failed)}, {len(down)} login attempts in {LOGIN_OUTAGE:.0f} s; "
        "0 probe timeouts; token issued after recovery"
    )


def _token_reissued(ctx: Ctx) -> float | None:
    assert ctx.t_clear is not None
    got = ctx.rec.named("token.issued", ctx.t_clear)
    return got[0][0] if got else None


BAD_ID = "refused-client"


def _refused_config(config: MonitorConfig, emu: Emulator, extra: dict[str, Any]) -> MonitorConfig:
    t = next(t for t in config.targets if t.id == "target-01")
    assert t.genesys is not None
    g = dataclasses.replace(t.genesys, client_id=BAD_ID, client_secret=Secret("not-the-secret"))
    return replace_target(config, "target-01", genesys=g)


async def _nothing(ctx: Ctx) -> None:
    await trio.lowlevel.checkpoint()


def _refused_check(ctx: Ctx) -> str:
    bad = [t for t, who in ctx.extra["logins"] if who == BAD_ID]
    assert len(bad) == 1, f"{len(bad)} login requests with the refused client"
    assert "target-01" in ctx.monitor.failed, ctx.monitor.failed
    assert ctx.monitor.targets["target-01"].connection_state == "auth_refused"
    failed = [e for _t, e in ctx.rec.named("token.failed") if e.target == "target-01"]
    assert len(failed) == 1 and failed[0].attributes["reason"] == "invalid_client", failed
    expect_reported(ctx, "token.failed", reason="invalid_client")
    # the other target keeps probing to the end
    last = max(t for t, s in ctx.rec.probes(CTRL, TARGET) if not s.timed_out)
    assert last >= ctx.t_inject + 110, last
    return "token.failed invalid_client, 1 login request, target stopped, other target probing"


def _refused_only_check(ctx: Ctx) -> str:
    bad = [t for t, who in ctx.extra["logins"] if who == BAD_ID]
    assert len(bad) == 1, f"{len(bad)} login requests"
    exits = ctx.extra["exit"]
    assert len(exits) == 1 and isinstance(exits[0], AuthenticationRefused), exits
    assert "invalid_client" in str(exits[0]) or "refused" in str(exits[0]), str(exits[0])
    expect_reported(ctx, "token.failed", reason="invalid_client")
    return "run_monitor raised AuthenticationRefused (CLI exit 3), 1 login request"


def _refused_only_config(config: MonitorConfig, emu: Emulator, extra: Any) -> MonitorConfig:
    t = config.targets[0]
    assert t.genesys is not None
    g = dataclasses.replace(t.genesys, client_id=BAD_ID, client_secret=Secret("not-the-secret"))
    return replace_target(config, t.id, genesys=g)


def _refused_at(who: str) -> Callable[[Ctx], float | None]:
    def detect(ctx: Ctx) -> float | None:
        got = [t for t, e in ctx.rec.named("token.failed") if e.target == who]
        return got[0] if got else None

    return detect


# connection refused: mid-session the server stops listening (every new
# connection is dialled to a closed loopback port, so the kernel refuses it for
# real); after the refusals were reported it listens again.


class RefusingConnector:
    """Real TCP to the emulator; while ``refuse`` is set, dials a closed port instead."""

    def __init__(self, emu_port: int, closed_port: int) -> None:
        self.emu_port = emu_port
        self.closed_port = closed_port
        self.refuse = False
        self.refused = 0
        self.inner = NetConnector()

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        if self.refuse and port == self.emu_port:
            self.refused += 1
            port = self.closed_port
        return await self.inner.open_stream(host, port, tls=tls, timeout=timeout)


def _refusing(emu: Emulator, extra: dict[str, Any]) -> None:
    extra["refusing"] = RefusingConnector(urlsplit(emu.base_url).port or 0, free_port())


def _use_refusing(inner: Any) -> Any:
    raise AssertionError("replaced in prepare")  # pragma: no cover


async def _refuse_then_listen(ctx: Ctx) -> None:
    conn: RefusingConnector = ctx.extra["refusing"]
    conn.refuse = True
    ctx.emu.faults.close(1001, "server going down")
    await _until(ctx, "reconnect", 10, error="ConnectError")
    await trio.sleep(1.0)  # a few more refused attempts
    conn.refuse = False
    ctx.t_clear = trio.current_time()


def _refused_port_check(ctx: Ctx) -> str:
    conn: RefusingConnector = ctx.extra["refusing"]
    ev = ctx.rec.named("reconnect", ctx.t_inject, error="ConnectError")
    assert ev and conn.refused >= 1, (ev, conn.refused)
    expect_reported(ctx, "reconnect", error="ConnectError")
    expect_reported(ctx, "connection.restored")
    delays = [e.attributes["delay_s"] for _t, e in ctx.rec.named("reconnect", ctx.t_inject)]
    return (
        f"connection.lost, reconnect ConnectError x{len(ev)} (refused {conn.refused}x, "
        f"delays {', '.join(f'{d:.2f}' for d in delays)} s), restored"
    )


OUTAGE = 30.0  # "server down 30 s"
RECONNECT_MAX_DELAY = 5.0  # the default reconnect_max_delay


class DownConnector:
    """Wraps the emulator's connector; while ``down``, every connect is refused
    (as a crashed server's closed port: ``ConnectError(kind="refused")``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False
        self.attempts: list[tuple[float, bool]] = []

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        self.attempts.append((trio.current_time(), self.down))
        if self.down:
            await trio.lowlevel.checkpoint()
            err = ConnectionRefusedError(111, "Connection refused")
            raise ConnectError(host, port, "refused", err) from err
        return await self.inner.open_stream(host, port, tls=tls, timeout=timeout)


async def _server_down(ctx: Ctx) -> None:
    conn: DownConnector = ctx.extra["connector"]
    conn.down = True
    ctx.extra["down_at"] = trio.current_time()
    assert ctx.emu.faults.close(1001, "server going down") == 1
    await trio.sleep(OUTAGE)
    conn.down = False
    ctx.t_clear = trio.current_time()


def _server_down_check(ctx: Ctx) -> str:
    assert ctx.t_clear is not None
    conn: DownConnector = ctx.extra["connector"]
    (t_back, ev), *_ = ctx.rec.named("connection.restored", ctx.t_clear)
    noticed = t_back - ctx.t_clear
    assert noticed <= RECONNECT_MAX_DELAY + TICK, f"recovery noticed after {noticed:.3f} s"
    outage_s = ev.attributes["outage_s"]
    unc = ev.attributes["genesys.outage.uncertainty_s"]
    assert isinstance(outage_s, float) and isinstance(unc, float)
    assert 0.0 <= unc <= RECONNECT_MAX_DELAY + TICK, unc
    # the true outage (server down -> back) lies within the stated uncertainty
    true = ctx.t_clear - ctx.extra["down_at"]
    assert outage_s - unc - 1e-9 <= true <= outage_s + 1e-9, (true, outage_s, unc)
    expect_reported(ctx, "connection.lost")
    expect_reported(ctx, "connection.restored")
    # polite: the cheap WebSocket attempt only -- same channel, no new login
    assert len(ctx.rec.named("channel.created")) == 1, "a channel was created during the outage"
    assert not ctx.rec.named("token.issued", ctx.t_inject), "re-login during the outage"
    tries = [t for t, down in conn.attempts if t >= ctx.t_inject]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert gaps and max(gaps) <= RECONNECT_MAX_DELAY + TICK, max(gaps)
    refused = sum(1 for t, down in conn.attempts if down)
    slots = len(
        [s for s in timed_out(ctx, APP, ctx.t_inject) if s.timeout_reason == "not_connected"]
    )
    return (
        f"restored {noticed:.2f} s after the server came back (bound {RECONNECT_MAX_DELAY:g} s); "
        f"outage_s {outage_s:.2f} (true {true:.2f}, uncertainty {unc:.2f}); "
        f"{refused} refused attempts, max gap {max(gaps):.2f} s, same channel, no re-login; "
        f"{slots} not-connected slots/probe"
    )


def _no_dns(inner: Any) -> Any:
    return NoDnsConnector(inner)


def _invalid_config(config: MonitorConfig, emu: Emulator, extra: Any) -> MonitorConfig:
    return with_credentials(
        config,
        emu.client_id,
        emu.client_secret,
        "https://login.genesys-pulse-test.invalid",
        "https://api.genesys-pulse-test.invalid",
    )


DNS_OBSERVE = 600.0


def _dns_detect(ctx: Ctx) -> float | None:
    names = ("http.retry", "threshold.breach", "token.failed")
    times = [t for t, e in ctx.rec.events if e.name in names]
    return min(times) if times else None


def _dns_check(ctx: Ctx) -> str:
    failed = ctx.rec.named("token.failed")
    assert failed, "no token.failed"
    reasons = {e.attributes.get("reason") for _t, e in failed}
    expect_reported(ctx, "token.failed")
    retries = expect_reported(ctx, "http.retry", code="network.error")
    # no retry storm: on average at most one resolution attempt per 2 s, and
    # never more than 2 attempts in the same instant
    connector = ctx.extra["connector"]
    n = len(connector.attempts)
    assert 2 <= n <= DNS_OBSERVE / 2.0, n
    same = max(connector.attempts.count(t) for t in connector.attempts)
    assert same <= 2, same
    gaps = [g for g in _retry_after_gaps(connector.attempts) if g > 0]
    # disconnected slots are recorded as timed-out samples, never missing
    assert seqs_contiguous(ctx, CTRL)
    return (
        f"http.retry network.error x{retries}, token.failed "
        f"({'/'.join(sorted(map(str, reasons)))}) x{len(failed)}; "
        f"{n} lookups in {DNS_OBSERVE:.0f} s (≤ {same} at once, min gap {min(gaps):.2f} s); "
        "timed-out slots recorded"
    )


async def _hang_upgrade(ctx: Ctx) -> None:
    ctx.emu.faults.hang_upgrades(1)
    ctx.emu.faults.close(1001, "idle timeout")


def _hang_check(ctx: Ctx) -> str:
    ev = [e for _t, e in ctx.rec.named("reconnect", ctx.t_inject, reason="connect_failed")]
    assert ev, "the hung upgrade was not reported"
    expect_reported(ctx, "reconnect", reason="connect_failed")
    expect_reported(ctx, "connection.restored")
    return f"reconnect connect_failed ({ev[0].attributes.get('error')}) after the connect timeout"


async def _bad_messages(ctx: Ctx) -> None:
    f = ctx.emu.faults
    link = ctx.link()
    ctx.extra["link"] = link
    ctx.extra["other0"] = link.other_messages
    sent = 0
    sent += f.send_malformed("not-json")
    sent += f.send_malformed("wrong-shape")
    sent += f.send_raw('{"topicName":"v2.genesys-pulse.unknown","eventBody":{"x":1}}')
    sent += f.send_raw('{"surprise":true,"result":null}')
    sent += f.send_raw("[1,2,3]")
    sent += f.send_raw(b"\xff\xfe\x00binary")
    sent += f.send_oversized(70_000)
    ctx.extra["sent"] = sent
    await trio.sleep(5)
    ctx.extra["link_after"] = ctx.link()


def _bad_messages_check(ctx: Ctx) -> str:
    link = ctx.extra["link"]
    lost = lost_after(ctx)
    if lost:  # a transport that refuses > 64 KiB closes with 1009 and reconnects
        assert lost[0].attributes["code"] == 1009, lost
        expect_reported(ctx, "connection.restored")
        return "oversized: closed 1009 by us, reconnected; others ignored"
    assert ctx.extra["link_after"] is link, "the link changed"
    counted = link.other_messages - ctx.extra["other0"]
    assert counted == ctx.extra["sent"], (counted, ctx.extra["sent"])
    for kind in (CTRL, APP):
        assert not timed_out(ctx, kind, 0), f"{kind.value} timeouts"
    return f"{counted} bad messages ignored (counted in link.other_messages, no event); 0 timeouts"


async def _second_socket(ctx: Ctx) -> None:
    ch = ctx.emu.state.channels[ctx.channel_id()]
    ws = await open_websocket(ch.connect_uri, connector=ctx.emu.connector, connect_timeout=5)
    ctx.extra["ws2"] = ws

    async def read() -> None:
        await ws.run_reader(lambda _d, _t: None, lambda _p, _t: None)

    ctx.nursery.start_soon(read)
    await _until(ctx, "connection.restored", 10)
    await trio.sleep(1)
    ctx.extra["ws2_closed_by"] = ws.close_info
    await ws.aclose()


def _second_socket_check(ctx: Ctx) -> str:
    lost = lost_after(ctx)
    assert len(lost) == 1, lost
    a = lost[0].attributes
    assert a["code"] == 1000 and "replaced" in str(a["close_reason"]), a
    expect_reported(ctx, "connection.lost", code=1000)
    expect_reported(ctx, "connection.restored")
    info = ctx.extra["ws2_closed_by"]
    assert info is not None and info.code == 1000, info  # the monitor took its channel back
    return "connection.lost 1000 'replaced by another connection', reconnect took it back"


# -- OTLP endpoint down ------------------------------------------------------------


class TimedSink:
    """Wraps a sink and records the longest call (real seconds)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_call = 0.0
        self.calls = 0

    def on_sample(self, sample: Sample) -> None:
        t0 = time.perf_counter()
        self.inner.on_sample(sample)
        self.max_call = max(self.max_call, time.perf_counter() - t0)
        self.calls += 1

    def on_event(self, event: Event) -> None:
        t0 = time.perf_counter()
        self.inner.on_event(event)
        self.max_call = max(self.max_call, time.perf_counter() - t0)
        self.calls += 1


def _otlp_down_sinks(config: MonitorConfig, extra: dict[str, Any]) -> list[Any]:
    from genesys_pulse.telemetry import OTelSink, target_attrs_for
    from genesys_pulse.telemetry.sdk_setup import configure_from_env

    port = free_port()
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
    }
    # the OTLP exporters read their export timeout from the process environment:
    # 1 s, so that their retries against the dead endpoint end soon after the row
    saved = os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT")
    os.environ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "1"
    try:
        providers = configure_from_env(env)
    finally:
        if saved is None:
            del os.environ["OTEL_EXPORTER_OTLP_TIMEOUT"]
        else:
            os.environ["OTEL_EXPORTER_OTLP_TIMEOUT"] = saved
    extra["providers"] = providers
    sink = TimedSink(
        OTelSink(
            meter_provider=providers.meter_provider,
            tracer_provider=providers.tracer_provider,
            logger_provider=providers.logger_provider,
            window=config.window,
            target_attrs=target_attrs_for(config),
        )
    )
    extra["timed"] = sink
    return [sink]


def _otlp_down_finish(extra: dict[str, Any]) -> None:
    t0 = time.perf_counter()
    extra["shutdown_ok"] = extra["providers"].shutdown(timeout=2.0)
    extra["shutdown_s"] = time.perf_counter() - t0


async def _otlp_down(ctx: Ctx) -> None:
    await trio.lowlevel.checkpoint()


def _otlp_down_check(ctx: Ctx) -> str:
    timed: TimedSink = ctx.extra["timed"]
    assert timed.calls >= 10, timed.calls
    for kind in (CTRL, APP):
        assert seqs_contiguous(ctx, kind)
        assert not timed_out(ctx, kind, 0), f"{kind.value} timeouts while OTLP was down"
    assert timed.max_call < 0.1, f"an OTel sink call took {timed.max_call:.3f} s"
    # flushing to a dead endpoint is abandoned at the deadline (2 s), never hangs
    assert ctx.extra["shutdown_s"] < 3.0, ctx.extra["shutdown_s"]
    return (
        f"probing unaffected ({timed.calls} sink calls, max {timed.max_call * 1000:.1f} ms); "
        f"exporter errors stay in SDK threads; shutdown {ctx.extra['shutdown_s']:.1f} s (limit 2)"
    )


# -- callbacks ----------------------------------------------------------------------


def _raising(extra: dict[str, Any]) -> dict[str, Any]:
    def on_sample(sample: Sample) -> None:
        raise RuntimeError("APM callback bug")

    async def on_event(event: Event) -> None:
        raise ValueError("APM event callback bug")

    return {"on_sample": on_sample, "on_event": on_event}


def _blocking_async(extra: dict[str, Any]) -> dict[str, Any]:
    async def on_sample(sample: Sample) -> None:
        await trio.sleep_forever()

    return {"on_sample": on_sample}


def _blocking_sync(extra: dict[str, Any]) -> dict[str, Any]:
    def on_event(event: Event) -> None:
        time.sleep(0.5)  # blocks its worker thread, never the event loop

    def on_sample(sample: Sample) -> None:
        time.sleep(0.5)

    return {"on_sample": on_sample, "on_event": on_event}


def _callbacks_check(expect_failed: bool) -> Callable[[Ctx], str]:
    def check(ctx: Ctx) -> str:
        for kind in (CTRL, APP):
            assert seqs_contiguous(ctx, kind)
            assert not timed_out(ctx, kind, 0), f"{kind.value} timeouts"
            gap = gaps_outside(ctx, kind, -1e18, 1e18)
            assert gap <= I + 1e-9, f"{kind.value} slot gap {gap}"
            for _t, s in ctx.rec.probes(kind, TARGET):
                assert s.sent_mono == s.scheduled_mono, s  # every probe sent on time
        stats = ctx.monitor.dispatcher.stats
        if expect_failed:
            ev = ctx.rec.named("callback.failed")
            assert ev, "no callback.failed event"
            expect_reported(ctx, "callback.failed", after=-1e18)
            # rate-limited: at most one event per source per second
            assert len(ev) <= 2 * (ctx.fault.warmup + ctx.fault.observe) + 4, len(ev)
            errors = {e.attributes["error"] for _t, e in ev}
            return (
                f"callback.failed x{len(ev)} ({'/'.join(sorted(map(str, errors)))}), "
                f"failures counted {stats.sample_callback_failures + stats.event_callback_failures}"
                "; slot gaps = interval"
            )
        return f"slot gaps = interval; queue max {stats.max_queue}, dropped {stats.dropped}"

    return check


def _callback_detect(ctx: Ctx) -> float | None:
    got = ctx.rec.named("callback.failed", -1e18)
    return got[0][0] if got else None


# -- a stalled host event loop ---------------------------------------------------------

STALL = 0.3
I_STALL = 0.5


async def _stall_loop(ctx: Ctx) -> None:
    sched = ctx.monitor.targets[TARGET].schedule
    assert sched is not None
    # a pong in flight for 50 ms (well under the 150 ms warning): the stall
    # below starts while it is in flight and ends after it is due
    ctx.emu.faults.set_pong_delay("both", Delay.fixed(0.05))
    for _ in range(6):
        k = sched.next_slot(trio.current_time()) + 1
        await trio.sleep_until(sched.due(k) + 0.005)  # just after the pings went out
        time.sleep(STALL)  # noqa: ASYNC251 - the point: block the whole loop
    ctx.emu.faults.set_pong_delay("both", None)
    ctx.t_clear = trio.current_time()


def _stall_loop_check(ctx: Ctx) -> str:
    flagged = [
        s for _t, s in ctx.rec.probes() if s.local_stall and s.scheduled_mono >= ctx.t_inject
    ]
    assert len(flagged) >= 6, f"only {len(flagged)} samples flagged local_stall"
    expect_reported(ctx, "local_stall")
    breaches = ctx.rec.named("threshold.breach", ctx.t_inject)
    assert not breaches, f"network alerts raised by a local stall: {breaches}"
    lost = lost_after(ctx)
    assert not lost, lost
    n = len(ctx.rec.named("local_stall", ctx.t_inject))
    return f"{len(flagged)} samples flagged local_stall, local_stall x{n}, 0 threshold.breach"


# -- the table ---------------------------------------------------------------------------

RECONNECT_BOUND = FIRST_BACKOFF + I
TCP_TUNABLES = {"interval": I_TCP, "timeout": T_TCP}

FAULTS: list[Fault] = [
    Fault(
        "pong delay spike (+300 ms, 8 s)",
        _pong_spike,
        _pong_spike_check,
        detect=first("threshold.breach", metric="rtt"),
        bound=3 * I + 0.3,
        recover_bound=5 * I + 1e-6,
        recovered=_rtt_cleared,
    ),
    Fault(
        "application pongs dropped (5 s)",
        _drop("app"),
        _drop_check(APP),
        detect=first("timeout", probe="application"),
        bound=T + I,
        recover_bound=I,
        recovered=first_answered(APP),
    ),
    dataclasses.replace(
        _delay_beyond_fault("", "server", 2.2 * I_TRUTH, "mock"),
        name="application RTT beyond the interval (2.2 x I, in order)",
    ),
    dataclasses.replace(
        _delay_beyond_fault("", "network", 2.2 * I_TRUTH),
        name="network delay beyond the interval (proxy, 2.2 x I)",
    ),
    Fault(
        "control pongs dropped (5 s)",
        _drop("control"),
        _drop_check(CTRL),
        detect=first("timeout", probe="control"),
        bound=T + I,
        recover_bound=I,
        recovered=first_answered(CTRL),
    ),
    Fault(
        "half-open stall (emulator socket)",
        _stall_emulator,
        _stall_check,
        detect=first("timeout"),
        bound=T + I,
        recover_bound=RECONNECT_BOUND,
        recovered=None,
    ),
    Fault(
        "silent socket, heartbeats only",
        _stall_silent,
        _silent_check,
        detect=first("timeout", probe="heartbeat"),
        bound=3 * HB + I,
        recover_bound=FIRST_BACKOFF + 1e-6,
        recovered=_restored,
        tunables={"interval": I, "timeout": T, "control_pings": False, "application_pings": False},
        warmup=70.0,
        observe=150.0,
    ),
    Fault(
        "half-open TCP stall (proxy)",
        _proxy_stall,
        _proxy_stall_check,
        detect=first("timeout"),
        bound=T_TCP + I_TCP + REAL_SLACK,
        recover_bound=FIRST_BACKOFF + I_TCP + REAL_SLACK,
        mode="tcp",
        clock="real",
        proxy=True,
        tunables=TCP_TUNABLES,
        warmup=1.5,
        observe=4.0,
    ),
    Fault(
        "network delay +100 ms each way (proxy, 4 s)",
        _proxy_delay,
        _proxy_delay_check,
        detect=first("threshold.breach", metric="rtt"),
        bound=3 * 0.5 + 2 * NET_DELAY + REAL_SLACK,  # 3 of 5 slow slots
        recover_bound=5 * 0.5 + REAL_SLACK,  # clear after 5 good slots
        recovered=_rtt_cleared_any,
        mode="tcp",
        clock="real",
        proxy=True,
        tunables={"interval": 0.5, "timeout": 0.5},
        warmup=1.5,
        observe=8.0,
    ),
    Fault(
        "thin pipe (4 KB/s) + 70 KB message: head-of-line",
        _thin_pipe,
        _thin_pipe_check,
        detect=first("timeout"),
        bound=T_TCP + I_TCP + REAL_SLACK,
        recover_bound=FIRST_BACKOFF + I_TCP + REAL_SLACK,
        mode="tcp",
        clock="real",
        proxy=True,
        tunables=TCP_TUNABLES,
        warmup=1.5,
        observe=4.0,
    ),
    Fault(
        "TCP reset (proxy RST)",
        _proxy_reset,
        _reset_check,
        detect=first("connection.lost"),
        bound=REAL_SLACK,
        recover_bound=FIRST_BACKOFF + I_TCP + REAL_SLACK,
        mode="tcp",
        clock="real",
        proxy=True,
        tunables=TCP_TUNABLES,
        warmup=1.5,
        observe=3.0,
    ),
    Fault(
        "server close 1001 'idle timeout'",
        _close(1001, "idle timeout"),
        _close_check(1001, "idle timeout"),
        detect=first("connection.lost"),
        bound=TICK,
        recover_bound=RECONNECT_BOUND,
    ),
    Fault(
        "server close 1011",
        _close(1011, "internal error"),
        _close_check(1011, "internal error"),
        detect=first("connection.lost"),
        bound=TICK,
        recover_bound=RECONNECT_BOUND,
    ),
    Fault(
        "socket_closing, then close",
        _socket_closing,
        _socket_closing_check,
        detect=first("socket_closing"),
        bound=10.0 + TICK,  # the warning is sent LEAD s before the close, 10 s after injection
        recover_bound=TICK,
        recovered=_rotated,
        observe=90.0,
    ),
    Fault(
        "channel expiry (unannounced)",
        _expire_channel,
        _expiry_check,
        detect=first("channel.expired"),
        bound=TICK,
        recover_bound=RECONNECT_BOUND,
    ),
    Fault(
        "token expiry mid-session (REST 401)",
        _token_revoked,
        _token_check,
        detect=first("token.failed", reason="rest_401"),
        bound=FIRST_BACKOFF + TICK,
        recover_bound=I + TICK,
        prepare=_count_logins,
    ),
    Fault(
        "429 + Retry-After on login",
        _login_429,
        _login_429_check,
        detect=first("http.retry", status=429),
        bound=FIRST_BACKOFF + TICK,
        recover_bound=2 * (RA + 0.3) + I + TICK,
        prepare=_count_logins,
    ),
    Fault(
        "429 + Retry-After on channel creation",
        _channel_429,
        _channel_429_check,
        detect=first("http.retry", status=429),
        bound=FIRST_BACKOFF + TICK,
        recover_bound=2 * (RA + 0.3) + I + TICK,
        prepare=_count_logins,
    ),
    Fault(
        "5xx burst (4x503 on channel creation)",
        _burst_5xx,
        _burst_check,
        detect=first("http.retry", status=503),
        bound=FIRST_BACKOFF + TICK,
        recover_bound=0.5 + 1 + 2 + 4 + I + TICK,
        prepare=_count_logins,
    ),
    Fault(
        "login service down 15 min across token expiry (503)",
        _login_outage,
        _login_outage_check,
        detect=first("token.failed"),
        bound=0.9 * 300 + 120.0,  # the refresh is due at 80-90 % of the TTL; retry budget 120 s
        recover_bound=60.0 + TICK,  # the token keeper's longest back-off
        recovered=_token_reissued,
        settings={"token_ttl": 300},
        observe=LOGIN_OUTAGE + 120.0,
        prepare=_login_switch,
    ),
    Fault(
        "invalid_client (one of two targets)",
        _nothing,
        _refused_check,
        detect=_refused_at("target-01"),
        bound=TICK,
        recover_bound=None,
        targets=2,
        warmup=0.0,
        observe=120.0,
        expect_connected=False,
        prepare=_count_logins,
        configure=_refused_config,
    ),
    Fault(
        "invalid_client (only target): clean stop",
        _nothing,
        _refused_only_check,
        detect=_refused_at(TARGET),
        bound=TICK,
        recover_bound=None,
        warmup=0.0,
        observe=60.0,
        expect_connected=False,
        expect_running=False,
        prepare=_count_logins,
        configure=_refused_only_config,
    ),
    Fault(
        "connection refused mid-session, then listening",
        _refuse_then_listen,
        _refused_port_check,
        detect=first("reconnect", error="ConnectError"),
        bound=FIRST_BACKOFF + REAL_SLACK,
        recover_bound=4.0 + I_TCP + REAL_SLACK,  # backoff ceiling after 3 failures: 1, 2, 4 s
        mode="tcp",
        clock="real",
        tunables=TCP_TUNABLES,
        warmup=1.5,
        observe=8.0,
        prepare=_refusing,
        connector=_use_refusing,
    ),
    Fault(
        "server down 30 s: recovery noticed within the bound, outage_s within its uncertainty",
        _server_down,
        _server_down_check,
        detect=first("connection.lost"),
        bound=TICK,
        recover_bound=RECONNECT_MAX_DELAY + I + TICK,
        observe=OUTAGE + 15.0,
        connector=DownConnector,
    ),
    Fault(
        "name resolution failure (.invalid)",
        _nothing,
        _dns_check,
        detect=_dns_detect,
        bound=TICK,  # the first failed lookup is reported as http.retry (network.error)
        recover_bound=None,
        warmup=0.0,
        observe=DNS_OBSERVE,
        expect_connected=False,
        connector=_no_dns,
        configure=_invalid_config,
    ),
    Fault(
        "upgrade never answered",
        _hang_upgrade,
        _hang_check,
        detect=first("reconnect", reason="connect_failed"),
        bound=FIRST_BACKOFF + CONNECT_TIMEOUT + TICK,
        recover_bound=2 * FIRST_BACKOFF + I + TICK,
        recovered=None,
    ),
    Fault(
        "malformed JSON, unknown types, > 64 KiB frame",
        _bad_messages,
        _bad_messages_check,
        detect=lambda ctx: None,
        bound=None,
        recover_bound=None,
    ),
    Fault(
        "second socket takes the channel over",
        _second_socket,
        _second_socket_check,
        detect=first("connection.lost"),
        bound=TICK,
        recover_bound=RECONNECT_BOUND,
    ),
    Fault(
        "OTLP endpoint down",
        _otlp_down,
        _otlp_down_check,
        detect=lambda ctx: None,
        bound=None,
        recover_bound=None,
        clock="real",
        tunables={"interval": 0.5, "timeout": 0.5},  # margin for a loaded CI machine
        observe=4.0,
        warmup=1.0,
        otel=False,
        sinks=_otlp_down_sinks,
        finish=_otlp_down_finish,
    ),
    Fault(
        "APM callbacks raise",
        _nothing,
        _callbacks_check(True),
        detect=_callback_detect,
        bound=I,  # the first failure is reported at once (then at most 1/s per source),
        recover_bound=None,
        warmup=0.0,
        expect_connected=False,
        monitor_kwargs=_raising,
    ),
    Fault(
        "APM async callback blocks (sleep forever)",
        _nothing,
        _callbacks_check(True),
        detect=_callback_detect,
        bound=5.0 + I + TICK,  # the dispatcher's per-call limit for async callbacks,
        recover_bound=None,
        warmup=0.0,
        expect_connected=False,
        monitor_kwargs=_blocking_async,
    ),
    Fault(
        "APM sync callback blocks (time.sleep)",
        _nothing,
        _callbacks_check(False),
        detect=lambda ctx: None,
        bound=None,
        recover_bound=None,
        warmup=0.0,
        expect_connected=False,
        monitor_kwargs=_blocking_sync,
    ),
    Fault(
        "stalled host event loop (6x300 ms)",
        _stall_loop,
        _stall_loop_check,
        detect=first("local_stall"),
        bound=I_STALL + STALL + 0.25 + REAL_SLACK,
        recover_bound=None,
        clock="real",
        tunables={"interval": I_STALL, "timeout": 0.45},
        warmup=1.5,
        observe=5.0,
    ),
]

BY_NAME = {f.name: f for f in FAULTS}
