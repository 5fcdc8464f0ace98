"""Scenarios: built-ins by name, user TOML files, clear errors, and playback
under a MockClock (against a fake runtime and against ``open_emulator``)."""

from __future__ import annotations

import statistics
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trio
import trio.testing

from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator
from genesys_pulse.emulator._faults import Delay, parse_fault_spec
from genesys_pulse.emulator._scenarios import (
    BUILTIN_SCENARIOS,
    ScenarioError,
    builtin_scenarios,
    load_scenario,
)

from .conftest import bearer, login, memory_client
from .test_streaming_support import Client, FakeRuntime, session


def test_builtin_scenarios_load_by_name() -> None:
    assert set(BUILTIN_SCENARIOS) <= set(builtin_scenarios())
    for name in BUILTIN_SCENARIOS:
        scenario = load_scenario(name)
        assert scenario.name == name and scenario.entries and scenario.description
    congested = load_scenario("congested")
    delay = next(e.spec for e in congested.entries if e.spec and e.spec.name == "app-pong-delay")
    assert delay is not None
    assert delay.params["delay"] == Delay.normal(0.040, 0.005, 0.005).with_spikes(0.02, 0.15, 0.4)
    flaky = {e.spec.name for e in load_scenario("flaky").entries if e.spec}
    assert {"app-pong-drop", "reset", "close", "login-fail", "api-fail"} <= flaky
    maintenance = {e.spec.name for e in load_scenario("maintenance").entries if e.spec}
    assert {"schedule-close", "api-fail"} <= maintenance


def test_fault_spec_text_round_trips() -> None:
    for name in BUILTIN_SCENARIOS:
        for entry in load_scenario(name).entries:
            assert entry.spec is not None
            assert parse_fault_spec(str(entry.spec)) == entry.spec


USER_SCENARIO = """
name = "mine"
description = "a user's scenario"
repeat_every = "100s"

[[timeline]]
at = "10s"
fault = "app-pong-delay"
delay = "fixed:250ms"
duration = "20s"

[[timeline]]
at = "50s"
spec = "close=4000:custom"

[[timeline]]
at = "5s"
event = "v2.analytics.queues.q7.observations"
"""


def test_user_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(USER_SCENARIO)
    scenario = load_scenario(path)
    assert scenario.name == "mine" and scenario.repeat_every == 100.0
    assert [e.at for e in scenario.entries] == [5.0, 10.0, 50.0]
    assert scenario.entries[1].duration == 20.0
    assert load_scenario(str(path)) == scenario


async def test_user_scenario_plays_on_schedule(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(USER_SCENARIO)
    scenario = load_scenario(path)
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=1e6, event_rate=0.0)
        async with session(runtime) as (client, channel):
            start = trio.current_time()
            nursery.start_soon(scenario.run, runtime)
            event = await client.next()
            assert event.json()["topicName"] == "v2.analytics.queues.q7.observations"
            assert event.at - start == pytest.approx(5.0)
            await trio.sleep_until(start + 15.0)
            sent = await client.send_json({"message": "ping"})
            assert (await client.next()).at - sent == pytest.approx(0.25)
            await trio.sleep_until(start + 31.0)  # reverted at 30 s
            sent = await client.send_json({"message": "ping"})
            assert (await client.next()).at - sent == pytest.approx(0.0)
            close = await client.next()
            assert (close.kind, close.code) == ("close", 4000)
            assert close.at - start == pytest.approx(50.0)
        # it repeats: at 110 s the delay is back
        await trio.sleep_until(start + 112.0)
        assert runtime.faults.pong_delay(channel.id, "app") == Delay.fixed(0.25)
        assert [round(t - start) for t, _ in scenario.log] == [5, 10, 50, 105, 110]
        nursery.cancel_scope.cancel()


async def test_congested_scenario_delays(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        runtime = FakeRuntime(nursery, heartbeat_period=1e6, event_rate=0.0)
        nursery.start_soon(load_scenario("congested").run, runtime)
        async with session(runtime) as (client, channel):
            await trio.sleep(1.0)
            for _ in range(300):
                await client.send_json({"message": "ping"})
                await trio.sleep(0.5)
            records = runtime.faults.records_for(channel.id, "app")
            drawn = [r.drawn for r in records if r.drawn is not None]
            assert statistics.median(drawn) == pytest.approx(0.040, abs=0.003)
            assert any(d > 0.150 for d in drawn)  # spikes
            assert len(records) == 300
        nursery.cancel_scope.cancel()


async def test_maintenance_scenario_in_open_emulator(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(heartbeat_period=1e6, event_rate=0.0, seed=3)
    async with open_emulator(settings=settings, scenario="maintenance") as emulator:
        start = trio.current_time()
        async with memory_client(emulator) as http:
            token = await login(http, emulator)
            created = await http.post("/api/v2/notifications/channels", headers=bearer(token))
            assert created.status_code == 200
            uri = created.json()["connectUri"]
            stream = await emulator.connector.open_stream("x", 0, tls=False, timeout=5)
            client = Client(stream)
            await stream.send_all(client.ws.send(_request(uri)))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.reader)
                assert (await client.next()).kind == "accept"
                warning = await client.next()
                assert warning.json()["topicName"] == "v2.system.socket_closing"
                assert warning.at - start == pytest.approx(60.0, abs=1e-3)
                close = await client.next()
                assert (close.kind, close.code) == ("close", 1001)
                assert close.at - start == pytest.approx(120.0, abs=1e-3)
                await trio.sleep(0.5)
                refused = await http.post("/api/v2/notifications/channels", headers=bearer(token))
                assert refused.status_code == 503
                nursery.cancel_scope.cancel()


def _request(uri: str) -> object:
    from wsproto.events import Request

    parts = urlsplit(uri)
    return Request(host=parts.netloc, target=parts.path)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('[[timeline]]\nat = "1s"\nfault = "teleport"\n', "timeline[0].fault"),
        (
            '[[timeline]]\nat = "1s"\nfault = "reset"\n[[timeline]]\nat = "2s"\n'
            'fault = "app-pong-delay"\ndelay = "gauss:1ms"\n',
            "timeline[1].delay",
        ),
        ('[[timeline]]\nfault = "reset"\n', "timeline[0].at"),
        ('[[timeline]]\nat = "soon"\nfault = "reset"\n', "timeline[0].at"),
        ('[[timeline]]\nat = "1s"\nfault = "reset"\nduration = "5s"\n', "timeline[0].duration"),
        ('[[timeline]]\nat = "1s"\nfault = "close"\ncode = 99\n', "timeline[0].code"),
        ('[[timeline]]\nat = "1s"\nfault = "close"\ncolour = "red"\n', "timeline[0].colour"),
        ('[[timeline]]\nat = "1s"\nfault = "app-pong-drop"\n', "timeline[0].fraction"),
        ('repeat_every = "10s"\n[[timeline]]\nat = "12s"\nfault = "reset"\n', "timeline[0].at"),
        ('speed = 3\n[[timeline]]\nat = "1s"\nfault = "reset"\n', "speed"),
        ('name = "x"\n', "timeline"),
    ],
)
def test_bad_scenario_file_names_the_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == field
    assert str(info.value).startswith(f"bad.toml: {field}: ")


def test_bad_toml_and_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("at = [unclosed\n")
    with pytest.raises(ScenarioError, match=r"broken\.toml: invalid TOML"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"unknown scenario 'stormy'.*calm"):
        load_scenario("stormy")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_readme_example_scenario_loads(tmp_path: Path) -> None:
    readme = Path(__file__).parents[2] / "src/genesys_pulse/emulator/README.md"
    text = readme.read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "lunch-rush.toml"
    path.write_text(example)
    scenario = load_scenario(path)
    assert scenario.name == "lunch-rush" and scenario.repeat_every == 600.0
    assert [e.at for e in scenario.entries] == [0.0, 180.0, 240.0, 360.0]
    path.write_text(example.replace("normal:80ms", "gauss:80ms"))
    with pytest.raises(ScenarioError, match=r"^lunch-rush\.toml: timeline\[0\]\.delay: "):
        load_scenario(path)


async def _connect(emulator: Emulator, http: httpx.AsyncClient, token: str) -> Client:
    created = await http.post("/api/v2/notifications/channels", headers=bearer(token))
    assert created.status_code == 200
    stream = await emulator.connector.open_stream("x", 0, tls=False, timeout=5)
    client = Client(stream)
    await stream.send_all(client.ws.send(_request(created.json()["connectUri"])))
    return client


async def test_flaky_scenario_in_open_emulator(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(heartbeat_period=1e6, event_rate=0.0, seed=4)
    async with open_emulator(settings=settings, scenario="flaky") as emulator:
        start = trio.current_time()
        async with memory_client(emulator) as http, trio.open_nursery() as nursery:
            token = await login(http, emulator)
            first = await _connect(emulator, http, token)
            nursery.start_soon(first.reader)
            assert (await first.next()).kind == "accept"
            ended = await first.next()  # the TCP reset at 40 s: no close frame
            assert ended.kind == "eof" and ended.at - start == pytest.approx(40.0, abs=1e-3)
            second = await _connect(emulator, http, token)
            nursery.start_soon(second.reader)
            assert (await second.next()).kind == "accept"
            close = await second.next()  # the idle-timeout close at 70 s
            assert (close.kind, close.code, close.reason) == ("close", 1001, "idle timeout")
            assert close.at - start == pytest.approx(70.0, abs=1e-3)
            await trio.sleep_until(start + 96.0)  # the 429 burst at 95 s
            form = {"grant_type": "client_credentials"}
            auth = (emulator.client_id, emulator.client_secret)
            refused = await http.post("/oauth/token", data=form, auth=auth)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"
            nursery.cancel_scope.cancel()
