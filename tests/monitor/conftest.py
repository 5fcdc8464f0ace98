"""Helpers for the monitor tests: configs pointing at an emulator, record collectors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from genesys_pulse.core.config import MonitorConfig, parse_config, with_credentials
from genesys_pulse.core.model import Event, ProbeKind, Sample
from genesys_pulse.emulator import Emulator, EmulatorSettings, open_emulator
from genesys_pulse.monitor import Monitor, run_monitor


@dataclass
class Collector:
    """A sink that keeps every record (tests only)."""

    samples: list[Sample] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def on_sample(self, sample: Sample) -> None:
        self.samples.append(sample)

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: ProbeKind, target: str | None = None) -> list[Sample]:
        return [
            s for s in self.samples if s.probe is kind and (target is None or s.target == target)
        ]

    def named(self, *names: str) -> list[Event]:
        return [e for e in self.events if e.name in names]


def genesys_config(emulator: Emulator, n: int = 1, **tunables: Any) -> MonitorConfig:
    """A config with ``n`` Genesys targets pointed at ``emulator``."""
    targets = [
        {"id": f"target-{i:02d}", "kind": "genesys", "environment": "mypurecloud.com", **tunables}
        for i in range(n)
    ]
    base = parse_config({"targets": targets}, {})
    return with_credentials(
        base, emulator.client_id, emulator.client_secret, emulator.login_url, emulator.api_url
    )


@asynccontextmanager
async def monitored(
    config_factory: Callable[[Emulator], MonitorConfig],
    *,
    settings: EmulatorSettings | None = None,
    memory: bool = True,
    sinks_extra: list[Any] | None = None,
    **kwargs: Any,
) -> AsyncIterator[tuple[Emulator, Monitor, Collector, trio.Nursery]]:
    """Run an emulator and a monitor on it; cancel both on exit."""
    collector = Collector()
    async with open_emulator(settings=settings) as emulator:
        config = config_factory(emulator)
        async with trio.open_nursery() as nursery:
            monitor = await nursery.start(
                lambda task_status: run_monitor(
                    config,
                    sinks=[collector, *(sinks_extra or [])],
                    connector=emulator.connector if memory else None,
                    task_status=task_status,
                    **kwargs,
                )
            )
            yield emulator, monitor, collector, nursery
            nursery.cancel_scope.cancel()
