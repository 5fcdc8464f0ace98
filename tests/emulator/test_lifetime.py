"""Lifetimes under MockClock: 24 h channels, re-subscription, token expiry, eviction.

Everything goes through the in-memory connector with ``autojump_clock``, so a
day of emulated time takes milliseconds of real time.
"""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.testing

from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator

from .conftest import bearer, login, memory_client

DAY = 86400.0
CHANNELS = "/api/v2/notifications/channels"


@pytest.fixture
def settings() -> EmulatorSettings:
    """Tokens live two days (the real maximum) so channel tests need one login."""
    return EmulatorSettings(seed=3, token_ttl=2 * 86400)


async def _create(http: httpx.AsyncClient, token: str) -> dict[str, str]:
    response = await http.post(CHANNELS, headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def _head(http: httpx.AsyncClient, token: str, channel_id: str) -> int:
    response = await http.head(f"{CHANNELS}/{channel_id}", headers=bearer(token))
    return response.status_code


async def test_channel_lives_24h_then_expires(
    http: httpx.AsyncClient, emulator: Emulator, autojump_clock: trio.testing.MockClock
) -> None:
    token = await login(http, emulator)
    start = trio.current_time()
    channel = await _create(http, token)
    state = emulator.state.channels[channel["id"]]
    assert state.expires_at == pytest.approx(start + DAY)
    # expires is the wall-clock rendering of the same instant
    assert channel["expires"] == emulator.state.iso(state.expires_at)

    await trio.sleep_until(start + DAY - 1)
    assert await _head(http, token, channel["id"]) == 200
    await trio.sleep_until(start + DAY + 1)
    assert await _head(http, token, channel["id"]) == 404
    gone = await http.get(f"{CHANNELS}/{channel['id']}/subscriptions", headers=bearer(token))
    assert gone.status_code == 404
    assert gone.json()["code"] == "not.found"
    listed = await http.get(CHANNELS, headers=bearer(token))
    assert listed.json() == {"entities": []}
    assert state.closed.is_set()
    assert state.close_reason == "expired"


async def test_resubscribing_extends_the_channel(
    http: httpx.AsyncClient, emulator: Emulator, autojump_clock: trio.testing.MockClock
) -> None:
    token = await login(http, emulator)
    start = trio.current_time()
    channel = await _create(http, token)
    topics = [{"id": "v2.users.u1.presence"}]
    url = f"{CHANNELS}/{channel['id']}/subscriptions"
    # Re-subscribe every 20 h for three days: the channel must survive.
    for round_ in range(1, 4):
        await trio.sleep_until(start + round_ * 20 * 3600)
        token = await login(http, emulator)
        method = http.put if round_ % 2 else http.post
        response = await method(url, headers=bearer(token), json=topics)
        assert response.status_code == 200
        assert await _head(http, token, channel["id"]) == 200
        listed = (
            await http.get(
                CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(token)
            )
        ).json()["entities"]
        expected = emulator.state.iso(start + round_ * 20 * 3600 + DAY)
        assert listed[0]["expires"] == expected
    last = start + 3 * 20 * 3600
    await trio.sleep_until(last + DAY - 1)
    token = await login(http, emulator)
    assert await _head(http, token, channel["id"]) == 200
    await trio.sleep_until(last + DAY + 1)
    assert await _head(http, token, channel["id"]) == 404


async def test_reads_do_not_extend_the_channel(
    http: httpx.AsyncClient, emulator: Emulator, autojump_clock: trio.testing.MockClock
) -> None:
    token = await login(http, emulator)
    start = trio.current_time()
    channel = await _create(http, token)
    await trio.sleep_until(start + DAY / 2)
    assert await _head(http, token, channel["id"]) == 200
    got = await http.get(f"{CHANNELS}/{channel['id']}/subscriptions", headers=bearer(token))
    assert got.status_code == 200
    await trio.sleep_until(start + DAY + 1)
    assert await _head(http, token, channel["id"]) == 404


async def test_wait_closed_follows_extension(
    http: httpx.AsyncClient, emulator: Emulator, autojump_clock: trio.testing.MockClock
) -> None:
    token = await login(http, emulator)
    start = trio.current_time()
    channel = await _create(http, token)
    state = emulator.state.channels[channel["id"]]
    closed_at: list[float] = []

    async def watch() -> None:
        reason = await state.wait_closed()
        closed_at.append(trio.current_time())
        assert reason == "expired"

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        await trio.sleep_until(start + DAY - 10)
        # a socket-style subscribe (what the streaming side calls) moves expiry
        emulator.state.add_topics(
            state, ["v2.users.u1.presence"], False, False, trio.current_time()
        )
    assert closed_at == [pytest.approx(start + 2 * DAY - 10)]


async def test_token_expiry_gives_401_after_ttl(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(seed=3, token_ttl=3600, channel_ttl=7200.0)
    async with open_emulator(settings=settings) as emulator, memory_client(emulator) as http:
        await _token_expiry(http, emulator)


async def _token_expiry(http: httpx.AsyncClient, emulator: Emulator) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.client_id, emulator.client_secret),
    )
    assert response.json()["expires_in"] == 3600
    token = response.json()["access_token"]
    start = trio.current_time()
    channel = await _create(http, token)
    await trio.sleep_until(start + 3599)
    assert await _head(http, token, channel["id"]) == 200
    await trio.sleep_until(start + 3601)
    expired = await http.get(CHANNELS, headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json() == {
        "message": "Invalid login credentials.",
        "code": "bad.credentials",
        "status": 401,
    }
    # A new token of the same client still sees the (unexpired) channel.
    fresh = await login(http, emulator)
    assert await _head(http, fresh, channel["id"]) == 200
    listed = await http.get(
        CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(fresh)
    )
    assert [c["id"] for c in listed.json()["entities"]] == [channel["id"]]
    # channel_ttl setting (2 h) applies
    await trio.sleep_until(start + 7201)
    assert await _head(http, await login(http, emulator), channel["id"]) == 404


async def test_twenty_channel_limit_evicts_oldest_unconnected(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_emulator(settings=EmulatorSettings(seed=5)) as emu, memory_client(emu) as http:
        token = await login(http, emu)
        ids = []
        for _ in range(20):
            ids.append((await _create(http, token))["id"])
            await trio.sleep(1)
        # channels 0 and 1 have an active socket; 2 is the oldest unconnected
        for cid in ids[:2]:
            emu.state.attach_session(emu.state.channels[cid], object())
        listed = await http.get(CHANNELS, headers=bearer(token))
        assert len(listed.json()["entities"]) == 20

        new = await _create(http, token)
        assert await _head(http, token, ids[2]) == 404
        assert emu.state.evicted == [ids[2]]
        for cid in [*ids[:2], *ids[3:], new["id"]]:
            assert await _head(http, token, cid) == 200
        evicted_state_closed = ids[2] not in emu.state.channels
        assert evicted_state_closed

        # using a channel makes it younger: HEAD channel 3 now, then create
        await trio.sleep(1)
        assert await _head(http, token, ids[3]) == 200
        await _create(http, token)
        assert emu.state.evicted == [ids[2], ids[4]]
        listed = await http.get(CHANNELS, headers=bearer(token))
        assert len(listed.json()["entities"]) == 20


async def test_all_connected_evicts_oldest_by_last_use(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = EmulatorSettings(seed=6, max_channels=3)
    async with open_emulator(settings=settings) as emu, memory_client(emu) as http:
        token = await login(http, emu)
        ids = []
        for _ in range(3):
            cid = (await _create(http, token))["id"]
            emu.state.attach_session(emu.state.channels[cid], object())
            ids.append(cid)
            await trio.sleep(1)
        victim = emu.state.channels[ids[0]]
        await _create(http, token)
        assert emu.state.evicted == [ids[0]]
        assert victim.closed.is_set() and victim.close_reason == "evicted"


async def test_limit_is_per_client(autojump_clock: trio.testing.MockClock) -> None:
    settings = EmulatorSettings(seed=8, max_channels=2)
    async with open_emulator(settings=settings) as emu, memory_client(emu) as http:
        emu.state.add_client("other-client", "other-secret")
        mine = await login(http, emu)
        other_response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("other-client", "other-secret"),
        )
        other = other_response.json()["access_token"]
        a = await _create(http, mine)
        b = await _create(http, mine)
        await _create(http, other)
        await _create(http, other)
        assert emu.state.evicted == []
        # other client's token cannot see mine
        assert await _head(http, other, a["id"]) == 404
        assert await _head(http, mine, b["id"]) == 200


async def test_a_day_of_emulated_time_runs_fast(autojump_clock: trio.testing.MockClock) -> None:
    import time

    real_start = time.perf_counter()
    async with open_emulator(settings=EmulatorSettings(seed=9)) as emu, memory_client(emu) as http:
        token = await login(http, emu)
        channel = await _create(http, token)
        url = f"{CHANNELS}/{channel['id']}/subscriptions"
        for i in range(48):  # every 30 min for a day, re-login every 12 h
            await trio.sleep(1800)
            if i % 24 == 23:
                token = await login(http, emu)
            response = await http.put(
                url, headers=bearer(token), json=[{"id": "v2.users.u.presence"}]
            )
            assert response.status_code == 200
        assert await _head(http, token, channel["id"]) == 200
    # A bound, not a timing assertion on the emulator: a runaway loop would blow it.
    assert time.perf_counter() - real_start < 10


async def test_exceptions_in_the_block_propagate_unwrapped() -> None:
    with pytest.raises(KeyError):
        async with open_emulator(settings=EmulatorSettings(seed=10)) as emu:
            raise KeyError(emu.client_id)


async def test_leaving_the_block_closes_open_connections() -> None:
    async with open_emulator(settings=EmulatorSettings(seed=10)) as emu:
        stream = await emu.connector.open_stream("127.0.0.1", emu.port, tls=False, timeout=5)
        tcp = await trio.open_tcp_stream("127.0.0.1", emu.port)
        for _ in range(500):  # bounded wait for the accept
            if emu.stats["connections"] == 2:
                break
            await trio.sleep(0.01)
        assert emu.stats["connections"] == 2
    # both connections were cancelled and closed with the emulator
    with trio.fail_after(5):
        assert await stream.receive_some(10) == b""
        assert await tcp.receive_some(10) == b""
    await tcp.aclose()
