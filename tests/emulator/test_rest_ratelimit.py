"""The per-token request rate limit: 429, Retry-After and the normalised body."""

from __future__ import annotations

import re

import trio
import trio.testing

from genesys_pulse.emulator import EmulatorSettings, open_emulator

from .conftest import bearer, login, memory_client

CHANNELS = "/api/v2/notifications/channels"


async def test_default_limit_is_300_per_minute(autojump_clock: trio.testing.MockClock) -> None:
    async with open_emulator(settings=EmulatorSettings(seed=1)) as emu, memory_client(emu) as http:
        token = await login(http, emu)
        start = trio.current_time()
        for i in range(300):
            response = await http.get(CHANNELS, headers=bearer(token))
            assert response.status_code == 200
            assert response.headers["inin-ratelimit-count"] == str(i + 1)
            assert response.headers["inin-ratelimit-allowed"] == "300"
        await trio.sleep_until(start + 17.5)
        refused = await http.get(CHANNELS, headers=bearer(token))
        assert refused.status_code == 429
        # the window opened at `start`; 42.5 s are left, reported as whole seconds
        assert refused.headers["retry-after"] == "43"
        body = refused.json()
        assert body == {
            "message": "Rate limit exceeded the maximum. Retry the request in [43] seconds",
            "code": "too.many.requests.retry.after",
            "status": 429,
            "contextId": refused.headers["inin-correlation-id"],
            "details": [],
            "errors": [],
        }
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["inin-ratelimit-count"] == "300"
        assert refused.headers["inin-ratelimit-reset"] == "43"
        # Honouring Retry-After works.
        await trio.sleep(int(refused.headers["retry-after"]))
        again = await http.get(CHANNELS, headers=bearer(token))
        assert again.status_code == 200
        assert again.headers["inin-ratelimit-count"] == "1"


async def test_limit_is_per_token_and_configurable(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(seed=2, rate_limit_per_minute=5)
    async with open_emulator(settings=settings) as emu, memory_client(emu) as http:
        first = await login(http, emu)
        second = await login(http, emu)
        statuses = [(await http.get(CHANNELS, headers=bearer(first))).status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        # another token of the same client has its own budget
        assert (await http.get(CHANNELS, headers=bearer(second))).status_code == 200
        # unauthenticated requests are 401, not 429, and do not use the token's budget
        assert (await http.get(CHANNELS)).status_code == 401
        refused = await http.post(CHANNELS, headers=bearer(first))
        assert refused.status_code == 429
        assert re.fullmatch(r"\d+", refused.headers["retry-after"])
        assert refused.headers["inin-ratelimit-allowed"] == "5"
        # a refused request creates nothing
        assert emu.state.channels == {}
