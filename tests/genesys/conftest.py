"""Helpers for Genesys client tests against the in-process emulator."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from genesys_pulse.core.config import Secret
from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator
from genesys_pulse.genesys import NotificationsClient, OAuthClient, RetryPolicy
from genesys_pulse.transport import httpx_transport


@dataclass
class Rig:
    emulator: Emulator
    http: httpx.AsyncClient
    oauth: OAuthClient
    notifications: NotificationsClient
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def times(self, path: str) -> list[float]:
        return [t for t, _, p in self.requests if p == path]

    def event_names(self) -> list[str]:
        return [n for n, _ in self.events]


@asynccontextmanager
async def rig(
    *,
    settings: EmulatorSettings | None = None,
    secret: str | None = None,
    policy: RetryPolicy | None = None,
    connector: Callable[[Emulator], Any] | None = None,
    seed: int = 1,
) -> AsyncIterator[Rig]:
    """An emulator, an httpx client over its in-memory connector, and both clients."""
    async with open_emulator(settings=settings) as emulator:
        requests: list[tuple[float, str, str]] = []
        events: list[tuple[str, dict[str, Any]]] = []

        async def record(request: httpx.Request) -> None:
            requests.append((trio.current_time(), request.method, request.url.path))

        transport = httpx_transport(
            emulator.connector if connector is None else connector(emulator)
        )
        async with httpx.AsyncClient(
            transport=transport, event_hooks={"request": [record]}
        ) as http:
            rng = random.Random(seed)
            oauth = OAuthClient(
                http,
                emulator.login_url,
                emulator.client_id,
                Secret(emulator.client_secret if secret is None else secret),
                rng=rng,
                policy=policy,
                on_event=lambda n, a: events.append((n, a)),
            )
            notifications = NotificationsClient(
                http,
                emulator.api_url,
                oauth,
                rng=rng,
                policy=policy,
                on_event=lambda n, a: events.append((n, a)),
            )
            yield Rig(emulator, http, oauth, notifications, requests, events)
