"""Scenarios started by ``open_emulator`` drive the REST/login faults (MockClock)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from genesys_pulse.emulator import EmulatorSettings, ScenarioError, open_emulator

from .conftest import bearer, login, memory_client

SCENARIO = """
name = "rest-burst"
description = "login 503 at 10 s, two REST 429s at 20 s"

[[timeline]]
at = "10s"
spec = "login-fail=503:1"

[[timeline]]
at = "20s"
fault = "api-fail"
status = 429
count = 2
retry-after = 5
"""


async def test_scenario_file_timeline_hits_rest(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "burst.toml"
    path.write_text(SCENARIO)
    settings = EmulatorSettings(seed=4)
    async with (
        open_emulator(settings=settings, scenario=str(path)) as emu,
        memory_client(emu) as http,
    ):
        start = trio.current_time()
        token = await login(http, emu)  # before 10 s: fine
        await trio.sleep_until(start + 11)
        refused = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(emu.client_id, emu.client_secret),
        )
        assert refused.status_code == 503
        token = await login(http, emu)
        assert (
            await http.get("/api/v2/notifications/channels", headers=bearer(token))
        ).status_code == 200
        await trio.sleep_until(start + 21)
        for _ in range(2):
            limited = await http.get("/api/v2/notifications/channels", headers=bearer(token))
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "5"
        assert (
            await http.get("/api/v2/notifications/channels", headers=bearer(token))
        ).status_code == 200


async def test_builtin_scenario_by_name_runs(autojump_clock: trio.testing.MockClock) -> None:
    async with open_emulator(settings=EmulatorSettings(seed=5), scenario="flaky") as emu:
        await trio.sleep(130)  # past the first 120 s cycle
        # the flaky scenario arms a login 429 burst; drain it through the API
        async with memory_client(emu) as http:
            statuses = []
            for _ in range(10):
                response = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(emu.client_id, emu.client_secret),
                )
                statuses.append(response.status_code)
        # flaky.toml arms three login 429s at 95 s
        assert statuses == [429, 429, 429] + [200] * 7


async def test_unknown_scenario_fails_before_listening() -> None:
    with pytest.raises(ScenarioError):
        async with open_emulator(scenario="no-such-scenario"):
            pytest.fail("must not start")  # pragma: no cover
