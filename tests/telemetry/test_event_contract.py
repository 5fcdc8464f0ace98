"""The typed event contract (``core._events``) holds for every event the monitor emits.

The monitor runs against the emulator through scenarios that make its
supervisor, probes, dispatcher and the Genesys clients emit as many kinds of
events as they can (faults injected, not simulated): a socket_closing
rotation, an unannounced close, pongs dropped and delayed, a REST outage, a
token refresh that fails, a channel budget that is exhausted, a sink that
raises, a stalled event loop. Every event is checked against the contract (its
name, its required keys, no key the contract does not list, the type of every
value), and each scenario must have produced the event names it is there for,
so that the check cannot pass by seeing nothing: together the scenarios produce
every event name of the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing

from _otel import pipeline
from genesys_pulse.core import EVENT_ATTRS, EVENT_NAMES, Sink, contract_problems
from genesys_pulse.core.config import MonitorConfig, parse_config, with_credentials
from genesys_pulse.core.model import Event, Sample
from genesys_pulse.emulator import Delay, Emulator, EmulatorSettings, open_emulator
from genesys_pulse.monitor import Monitor, run_monitor
from genesys_pulse.telemetry import _names as N
from genesys_pulse.telemetry import otel_sinks_for

TARGET = "contract-target"

#: The event names each scenario must produce; together, every name of the contract.
FAULTS_SCENARIO = frozenset(
    {
        "monitor.started",
        "monitor.stopped",
        "token.issued",
        "token.refresh",
        "token.failed",
        "channel.created",
        N.E_CONNECT_PHASE,
        "connection.established",
        "connection.lost",
        "connection.restored",
        "reconnect",
        "socket_closing",
        "rotation",
        "http.retry",
        "timeout",
        "threshold.breach",
        "threshold.clear",
        "window",
        "callback.failed",
        "local_stall",
    }
)
BUDGET_SCENARIO = frozenset(
    {"channel.budget_exhausted", "channel.expired", "reconnect", "connection.established"}
)


@dataclass
class Recorder:
    """A sink keeping every event, with the contract problems of each."""

    events: list[Event] = field(default_factory=list)

    def on_sample(self, sample: Sample) -> None:
        pass

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def names(self) -> set[str]:
        return {e.name for e in self.events}

    def problems(self) -> list[str]:
        return [p for e in self.events for p in contract_problems(e.name, e.attributes)]

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]


class FailsOnce:
    """A sink that raises on its first sample: the dispatcher reports ``callback.failed``."""

    def __init__(self) -> None:
        self.failed = False

    def on_sample(self, sample: Sample) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a broken sink")

    def on_event(self, event: Event) -> None:
        pass


class StallsOnce:
    """A sink that stalls the event loop once (it moves the mock clock on while the
    loop cannot run): the monitor reports ``local_stall``."""

    def __init__(self, clock: trio.testing.MockClock, after: float) -> None:
        self.clock = clock
        self.after = after
        self.done = False

    def on_sample(self, sample: Sample) -> None:
        if not self.done and trio.current_time() >= self.after:
            self.done = True
            self.clock.jump(0.8)

    def on_event(self, event: Event) -> None:
        pass


def config_for(emu: Emulator, **tunables: Any) -> MonitorConfig:
    base = parse_config(
        {
            "window": 10,
            "targets": [
                {
                    "id": TARGET,
                    "environment": "mypurecloud.com",
                    "topics": ["v2.analytics.queues.q-1.observations"],
                    **tunables,
                }
            ],
        },
        {},
    )
    return with_credentials(base, emu.client_id, emu.client_secret, emu.login_url, emu.api_url)


async def run_scenario(
    emu: Emulator, config: MonitorConfig, sinks: list[Sink], script: Any
) -> None:
    async with trio.open_nursery() as nursery:
        monitor: Monitor = await nursery.start(
            lambda task_status: run_monitor(
                config, sinks=sinks, connector=emu.connector, task_status=task_status
            )
        )
        await script(monitor)
        nursery.cancel_scope.cancel()


def check(rec: Recorder, expected: set[str]) -> None:
    assert not rec.problems(), "\n".join(rec.problems()[:20])
    missing = expected - rec.names()
    assert not missing, f"the scenario did not produce {sorted(missing)}"


async def test_faults_and_rotations_emit_only_contract_events(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder()
    settings = EmulatorSettings(seed=41, token_ttl=300, event_rate=0.0, socket_closing_lead=60.0)
    async with open_emulator(settings=settings) as emu:

        async def script(mon: Monitor) -> None:
            probe = mon.targets[TARGET]
            await probe.connected.wait()
            await trio.sleep(12)
            # application pongs late, then lost: threshold transitions and timeouts
            emu.faults.set_pong_delay("app", Delay.fixed(0.5))
            await trio.sleep(8)
            emu.faults.set_pong_delay("app", None)
            emu.faults.set_pong_drop("both", 1.0)
            await trio.sleep(6)  # three lost slots: the connection is declared dead
            emu.faults.set_pong_drop("both", 0.0)
            await trio.sleep(15)
            # an announced close: socket_closing, a make-before-break rotation
            link = probe.link
            assert link is not None
            emu.faults.schedule_close(70.0, channel=link.channel_id)
            await trio.sleep(15)
            # an unannounced close with the REST side down: http.retry on the new channel
            emu.faults.fail_api(503, 2)
            emu.faults.close(1011, "server error")
            await trio.sleep(20)
            # the token refresh (80-90 % of 300 s) fails for a while, then succeeds
            emu.faults.fail_login(503, 8)
            await trio.sleep(280)

        config = config_for(emu, timeout=1.0, heartbeat_period=30.0)
        p = pipeline()
        (otel,) = otel_sinks_for(
            config,
            meter_provider=p.meter_provider,
            tracer_provider=p.tracer_provider,
            logger_provider=p.logger_provider,
        )
        await run_scenario(
            emu, config, [rec, otel, FailsOnce(), StallsOnce(autojump_clock, after=30.0)], script
        )
    check(rec, FAULTS_SCENARIO)
    # every phase of a first connection, in order, each with its duration
    first = [e.attributes["phase"] for e in rec.named(N.E_CONNECT_PHASE)][:4]
    assert first == ["login", "channel", "subscribe", "handshake"]
    # the OTel sink read every one of them without a failure, and made a
    # connect span per attempt with the phases it was told about
    assert otel.errors == 0
    connects = [s for s in p.spans.get_finished_spans() if s.name == N.S_CONNECT]
    assert len(connects) >= len(rec.named("connection.established"))
    assert connects[0].attributes is not None
    assert list(connects[0].attributes["genesys_pulse.connect.phases"]) == sorted(first)


async def test_an_exhausted_channel_budget_emits_contract_events(
    autojump_clock: trio.testing.MockClock,
) -> None:
    rec = Recorder()
    async with open_emulator(settings=EmulatorSettings(seed=42, event_rate=0.0)) as emu:
        # another integration of the same OAuth client holds 19 of its 20 channels
        token = emu.state.issue_token(emu.client_id, trio.current_time())
        held = [emu.state.create_channel(token, trio.current_time()) for _ in range(19)]
        for channel in held:
            channel.session = object()

        async def script(mon: Monitor) -> None:
            await trio.sleep(5)
            for channel in held[:5]:
                emu.state.remove_channel(channel, "expired")
            probe = mon.targets[TARGET]
            await probe.connected.wait()
            await trio.sleep(3)
            # the service drops the monitor's channel: channel.expired, a new channel
            assert probe.link is not None and probe.link.channel_id is not None
            emu.state.remove_channel(emu.state.channels[probe.link.channel_id], "expired")
            await trio.sleep(10)

        await run_scenario(emu, config_for(emu), [rec], script)
    check(rec, BUDGET_SCENARIO)
    (exhausted, *_) = rec.named("channel.budget_exhausted")
    assert exhausted.attributes[N.A_CHANNEL_LIMIT] == 20


def test_the_contract_names_every_event_and_only_those() -> None:
    assert frozenset(EVENT_ATTRS) == EVENT_NAMES
    # the telemetry names: every span event maps a contract event
    assert set(N.SPAN_EVENT_NAMES) <= EVENT_NAMES
    assert N.E_CONNECT_PHASE in EVENT_NAMES
    # the scenarios below make the monitor emit every one of them
    assert FAULTS_SCENARIO | BUDGET_SCENARIO == EVENT_NAMES
    assert tuple(N.CONNECT_PHASES) == ("login", "channel", "subscribe", "handshake")


def test_contract_problems_name_the_key_and_the_type() -> None:
    assert contract_problems("nope", {}) == ["nope: not an event name of the contract"]
    assert contract_problems("connection.lost", {"reason": "closed"}) == [
        "connection.lost: missing 'code'",
        "connection.lost: missing 'close_reason'",
        "connection.lost: missing 'planned'",
    ]
    bad = contract_problems(
        "connection.lost",
        {"reason": "closed", "code": True, "close_reason": "", "planned": False, "x": 1},
    )
    assert bad == [
        "connection.lost: 'code'=True is not <class 'int'>",
        "connection.lost: 'x' is not in the contract",
    ]
    assert contract_problems("window", {"window_s": 10, "control.p50_s": 0.1}) == []
    assert contract_problems("window", {"window_s": 10, "control.nope": 1}) == [
        "window: 'control.nope' is not in the contract"
    ]
    assert contract_problems(
        "threshold.breach",
        {"metric": "rtt", "probe": "control", "level": "bad", "from": "ok", "value": 0.2},
    ) == ["threshold.breach: 'level'='bad' is not typing.Literal['ok', 'warning', 'critical']"]
