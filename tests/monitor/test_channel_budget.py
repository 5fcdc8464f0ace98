"""Issue 15, acceptance 3: the monitor never evicts a channel of the integration it watches.

Genesys Cloud allows 20 notification channels per user/OAuth client; creating the
21st removes the least recently used one, unconnected channels first (the emulator
enforces exactly that). A simulated production integration holds channels of the
same OAuth client as the monitor; some of them unconnected (reconnecting), the most
exposed to an eviction. The monitor lists the client's channels before creating one
and leaves ``channel_reserve`` slots free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from genesys_pulse.core.config import (
    CHANNEL_CAP,
    DEFAULT_CHANNEL_RESERVE,
    ConfigError,
    parse_config,
)
from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator
from genesys_pulse.emulator._state import TokenInfo
from genesys_pulse.monitor import Monitor, run_monitor

from .conftest import Collector, genesys_config


class Integration:
    """The production integration: its own token of the same OAuth client, its channels."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.token: TokenInfo = emu.state.issue_token(emu.client_id, trio.current_time())
        self.channels: list[str] = []

    def create(self, n: int, *, connected_every: int = 2) -> None:
        for i in range(n):
            channel = self.emu.state.create_channel(self.token, trio.current_time())
            if i % connected_every == 0:
                channel.session = object()  # an active socket of the integration
            self.channels.append(channel.id)

    def lose(self, n: int) -> None:
        """n of its channels end (expire): the client has room again."""
        for channel_id in self.channels[:n]:
            channel = self.emu.state.channels.get(channel_id)
            if channel is not None:
                self.emu.state.remove_channel(channel, "expired")
        del self.channels[:n]


def monitor_evictions(emu: Emulator, integration: Integration) -> list[str]:
    """Channels evicted by a creation that was not the integration's."""
    return [victim for victim, token in emu.state.evictions if token != integration.token.value]


@asynccontextmanager
async def beside_integration(
    held: int, **tunables: object
) -> AsyncIterator[tuple[Emulator, Integration, Monitor, Collector]]:
    collector = Collector()
    async with open_emulator(settings=EmulatorSettings(seed=15, event_rate=0.0)) as emu:
        integration = Integration(emu)
        integration.create(held)
        config = genesys_config(emu, **tunables)
        async with trio.open_nursery() as nursery:
            monitor = await nursery.start(
                lambda task_status: run_monitor(
                    config, sinks=[collector], connector=emu.connector, task_status=task_status
                )
            )
            yield emu, integration, monitor, collector
            nursery.cancel_scope.cancel()


async def test_at_the_cap_the_monitor_creates_nothing_and_says_so(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with beside_integration(CHANNEL_CAP, channel_reserve=4) as (emu, integ, mon, col):
        await trio.sleep(300)  # several refused attempts, each after the back-off
        assert emu.state.channels_created == CHANNEL_CAP  # the integration's, none more
        assert mon.targets["target-00"].link is None
        refused = col.named("channel.budget_exhausted")
        assert len(refused) >= 2  # it kept retrying
        assert refused[0].attributes["genesys.channel.count"] == CHANNEL_CAP
        assert refused[0].attributes["genesys.channel.limit"] == CHANNEL_CAP
        assert refused[0].attributes["genesys.channel.reserve"] == 4
        assert refused[0].attributes["level"] == "critical"
        assert not col.named("connection.established", "channel.created")
        # the integration loses 6 channels: 14 + the monitor's 1 <= 20 - 4
        integ.lose(6)
        await trio.sleep(200)
        assert mon.targets["target-00"].link is not None  # the monitor got its channel
        assert len(col.named("connection.established")) == 1
    assert emu.state.evicted == []
    assert monitor_evictions(emu, integ) == []
    assert len(integ.channels) == CHANNEL_CAP - 6  # every remaining one of them survived


async def test_a_rotation_that_would_cross_the_budget_waits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 15 of the integration's + the monitor's 1 = 16 = 20 - 4: a rotation needs a 17th.
    async with beside_integration(15, channel_reserve=4) as (emu, integ, mon, col):
        await trio.sleep(10)
        link = mon.targets["target-00"].link
        assert link is not None
        mon.supervisors["target-00"].request_rotation("token")  # type: ignore[attr-defined]
        await trio.sleep(60)
        assert mon.targets["target-00"].link is link  # kept probing on the old channel
        assert col.named("channel.budget_exhausted")
        assert not col.named("rotation", "connection.lost")
        assert emu.state.channels_created == 16
        integ.lose(1)  # room for the rotation's second channel
        await trio.sleep(200)
        assert [e.attributes["reason"] for e in col.named("rotation")] == ["token"]
    assert emu.state.evicted == [] and monitor_evictions(emu, integ) == []


async def test_growing_integration_is_never_evicted_by_the_monitor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The integration scales out to the cap while the monitor rotates every few minutes:
    only the integration's own creations may evict (its own channels), never the monitor's."""
    settings_ttl = 400.0  # channels rotate ahead of a short expiry: many creations
    collector = Collector()
    async with open_emulator(
        settings=EmulatorSettings(seed=16, event_rate=0.0, channel_ttl=settings_ttl)
    ) as emu:
        integ = Integration(emu)
        config = genesys_config(emu, channel_reserve=2)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: run_monitor(
                    config, sinks=[collector], connector=emu.connector, task_status=task_status
                )
            )
            for _ in range(19):  # one more channel of the integration every 20 s
                await trio.sleep(20)
                integ.create(1, connected_every=3)
            await trio.sleep(600)
            nursery.cancel_scope.cancel()
    assert collector.named("rotation")  # the monitor did create channels meanwhile
    assert monitor_evictions(emu, integ) == []


def test_channel_reserve_is_validated_and_read_from_the_environment() -> None:
    def reserve(value: object) -> int:
        target = {"id": "target-00", "kind": "genesys", "environment": "mypurecloud.com"}
        if value is not None:
            target["channel_reserve"] = value  # type: ignore[assignment]
        config = parse_config({"targets": [target]}, {})
        assert config.targets[0].genesys is not None
        return config.targets[0].genesys.channel_reserve

    assert reserve(None) == DEFAULT_CHANNEL_RESERVE
    assert reserve(0) == 0 and reserve(18) == 18
    for bad in (19, -1, "4", 2.5, True):
        with pytest.raises(ConfigError) as info:
            reserve(bad)
        assert "channel_reserve" in str(info.value)
    env = {"GENESYS_PULSE_ENVIRONMENT": "mypurecloud.com", "GENESYS_PULSE_CHANNEL_RESERVE": "7"}
    config = parse_config({}, env)
    assert config.targets[0].genesys is not None
    assert config.targets[0].genesys.channel_reserve == 7
