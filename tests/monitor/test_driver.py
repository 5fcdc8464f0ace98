"""The one driver for every target (issue 20): a stuck connection delays no other target,
a write blocked for a whole interval declares its link dead, and the probe owns its
connection state (the supervisor reports through methods)."""

from __future__ import annotations

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Ping, Request, TextMessage

from genesys_pulse.core.config import parse_config
from genesys_pulse.core.model import ProbeKind
from genesys_pulse.monitor import run_monitor

from .conftest import Collector


async def _accept(stream: trio.abc.Stream) -> WSConnection:
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        data = await stream.receive_some(65536)
        if not data:
            raise EOFError
        ws.receive_data(data)
        if any(isinstance(ev, Request) for ev in ws.events()):
            await stream.send_all(ws.send(AcceptConnection()))
            return ws


async def echo_handler(stream: trio.abc.Stream) -> None:
    """Accept, answer pings, echo text."""
    try:
        ws = await _accept(stream)
        while data := await stream.receive_some(65536):
            ws.receive_data(data)
            out = b""
            for ev in ws.events():
                if isinstance(ev, Ping):
                    out += ws.send(ev.response())
                elif isinstance(ev, TextMessage):
                    out += ws.send(Message(data=ev.data))
            if out:
                await stream.send_all(out)
    except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


class _TwoServers:
    """Port 1: a server that accepts the upgrade and then never reads (a lockstep
    stream: every write blocks until the peer reads); port 2: an echo server."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.stuck_opened = 0

    async def open_stream(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> trio.abc.Stream:
        if port == 1:
            self.stuck_opened += 1
            client, server = trio.testing.lockstep_stream_pair()
            self.nursery.start_soon(self._stuck, server)
            return client
        client, server = trio.testing.memory_stream_pair()
        self.nursery.start_soon(echo_handler, server)
        return client

    async def _stuck(self, stream: trio.abc.Stream) -> None:
        try:
            await _accept(stream)
        except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
            return
        await trio.sleep_forever()


def _config() -> object:
    targets = [
        {
            "id": tid,
            "kind": "websocket",
            "url": f"ws://127.0.0.1:{port}/",
            "echo_message": "hello",
            "interval": 1.0,
            "timeout": 0.5,
        }
        for tid, port in (("stuck-target", 1), ("healthy-target", 2))
    ]
    return parse_config({"targets": targets}, {})


async def test_a_stuck_connection_delays_no_other_target(
    autojump_clock: trio.testing.MockClock,
) -> None:
    col = Collector()
    async with trio.open_nursery() as servers:
        connector = _TwoServers(servers)
        async with trio.open_nursery() as nursery:
            mon = await nursery.start(
                lambda task_status: run_monitor(
                    _config(),  # type: ignore[arg-type]
                    sinks=[col],
                    connector=connector,
                    task_status=task_status,
                )
            )
            await trio.sleep(12)
            healthy = mon.targets["healthy-target"]
            assert healthy.connection_state == "connected"
            nursery.cancel_scope.cancel()
        servers.cancel_scope.cancel()
    # the healthy target: every slot sent exactly on time and answered
    for kind in (ProbeKind.CONTROL, ProbeKind.APPLICATION):
        samples = col.of(kind, "healthy-target")
        assert len(samples) >= 10
        assert all(s.sent_mono == s.scheduled_mono and not s.timed_out for s in samples), kind
    # the stuck one: its write blocked for the whole interval, so the link was declared dead
    lost = [e for e in col.named("connection.lost") if e.target == "stuck-target"]
    assert lost and all(e.attributes["reason"] == "send_stalled" for e in lost)
    assert connector.stuck_opened >= 2  # and it reconnected
    stuck = col.of(ProbeKind.CONTROL, "stuck-target")
    assert stuck and all(s.timed_out for s in stuck)


async def test_the_probe_owns_its_connection_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    col = Collector()
    async with trio.open_nursery() as servers:
        connector = _TwoServers(servers)
        async with trio.open_nursery() as nursery:
            mon = await nursery.start(
                lambda task_status: run_monitor(
                    _config(),  # type: ignore[arg-type]
                    sinks=[col],
                    connector=connector,
                    task_status=task_status,
                )
            )
            probe = mon.targets["healthy-target"]
            await probe.connected.wait()
            link = probe.link
            assert link is not None and probe.connection_state == "connected"
            # read-only from outside: the supervisor reports through the probe's methods
            for name in ("link", "connected", "planned_outage", "connection_state"):
                try:
                    setattr(probe, name, None)
                except AttributeError:
                    continue
                raise AssertionError(f"probe.{name} is writable from outside")
            probe.link_lost(link, planned=True)
            assert probe.link is None and probe.planned_outage
            assert probe.connection_state == "reconnecting"
            probe.install_link(link)
            assert probe.link is link and not probe.planned_outage
            await trio.sleep(2.5)
            nursery.cancel_scope.cancel()
        servers.cancel_scope.cancel()
    assert mon.targets["healthy-target"].connection_state == "stopped"
    assert mon.driver.handled > 0


async def test_a_slow_turn_lets_the_other_tasks_run_within_its_budget() -> None:
    """Recording answered slots stops after BUDGET of work and yields: a slot whose
    window event is slow (the OTel SDK: milliseconds) must not hold the readers
    for a whole batch of them."""
    import time

    from genesys_pulse.monitor._driver import BUDGET, Driver

    order: list[str] = []
    all_done = trio.Event()

    class SlowProbe:
        def __init__(self, name: str) -> None:
            self.name = name

        def resolve_answered(self, now: float) -> None:
            time.sleep(BUDGET * 1.5)  # each one alone is over the budget
            order.append(self.name)
            if self.name == "p3":
                all_done.set()

    driver = Driver()
    for i in range(4):
        driver.resolve_soon(SlowProbe(f"p{i}"))  # type: ignore[arg-type]

    async def other() -> None:
        await trio.lowlevel.checkpoint()
        order.append("other")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(driver.run)
        nursery.start_soon(other)
        with trio.fail_after(5):
            await all_done.wait()
        nursery.cancel_scope.cancel()
    # every probe recorded, in order, and the other task ran before the last of them
    assert [x for x in order if x != "other"] == ["p0", "p1", "p2", "p3"]
    assert order.index("other") < order.index("p3")
