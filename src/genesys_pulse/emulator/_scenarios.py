"""Scenarios: named, declarative timelines of faults and events.

A scenario is a TOML file (the built-in ones live in ``scenarios/*.toml`` next
to this module) or an equivalent :class:`Scenario` built in Python. It runs in
the background of an emulator (``open_emulator(scenario="congested")``,
``genesys-pulse emulator --scenario FILE``).

File format::

    name = "my-scenario"                  # optional (default: the file name)
    description = "What it shows"         # optional
    repeat_every = "120s"                 # optional: restart the timeline every 120 s

    [[timeline]]
    at = "0s"                             # offset from the start (of each repetition)
    fault = "app-pong-delay"              # a fault name (see _faults / the README) ...
    delay = "normal:40ms:5ms:floor=1ms:p=0.02:spike=150ms..400ms"   # ... and its parameters
    duration = "60s"                      # optional: revert the fault after 60 s

    [[timeline]]
    at = "45s"
    spec = "close=1001:idle timeout"      # or the same thing as a command-line spec

    [[timeline]]
    at = "50s"
    event = "v2.analytics.queues.q1.observations"   # or push an event to every socket
    body = { note = "optional eventBody; default: generated for the topic" }

Rules:

* ``at`` and ``duration`` are durations (``"250ms"``, ``"30s"``, ``"2m"``, or a
  number of seconds). Each entry has exactly one of ``fault``, ``spec`` or
  ``event``. ``channel = "ID"`` restricts a fault or event to one channel.
* ``duration`` reverts a policy fault (pong delays, drops, ``control-pongs``)
  to what it was before; for ``stall`` it is the stall's length. Other faults
  act once and take no ``duration``.
* With ``repeat_every``, every ``at`` must be smaller than it; entries run again
  at ``k * repeat_every + at``. Without it, the scenario ends after its last
  entry (policies without ``duration`` stay in force).
* Times are ``trio.current_time()`` from the moment the scenario starts (the
  emulator starts it as it starts), so scenarios follow a ``MockClock``.

Errors name the file and the field, e.g.
``congested.toml: timeline[2].delay: unknown distribution 'gauss'``.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from ._events import event_message, generator_for
from ._faults import FaultController, FaultSpec, FaultSpecError, parse_duration, parse_fault_spec

__all__ = [
    "BUILTIN_SCENARIOS",
    "Scenario",
    "ScenarioError",
    "TimelineEntry",
    "builtin_scenarios",
    "load_scenario",
    "parse_scenario",
]


class ScenarioError(ValueError):
    """A scenario cannot be found or is invalid.

    Attributes:
      field: The offending field (``timeline[2].delay``), or ``None``.
      source: The file or scenario name.
    """

    def __init__(self, message: str, *, field: str | None = None, source: str = "") -> None:
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + message)
        self.field = field
        self.source = source


@dataclass(frozen=True)
class TimelineEntry:
    """One step of a scenario: a fault (``spec``) or an event, at ``at`` seconds.

    Attributes:
      at: Offset in seconds from the start of the scenario (or repetition).
      spec: The fault to apply, or ``None`` for an event.
      event_topic: The topic of an event to push to every live socket.
      event_body: Its ``eventBody`` (``None``: generated for the topic).
      channel: Only this channel (events; faults carry it in ``spec``).
      duration: Revert a policy fault after this many seconds.
    """

    at: float
    spec: FaultSpec | None = None
    event_topic: str | None = None
    event_body: Mapping[str, Any] | None = None
    channel: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A named timeline of faults and events.

    Attributes:
      name: The scenario's name.
      description: What it shows.
      entries: The timeline, sorted by ``at``.
      repeat_every: Restart the timeline every that many seconds, or ``None``.
    """

    name: str
    entries: tuple[TimelineEntry, ...]
    description: str = ""
    repeat_every: float | None = None
    log: list[tuple[float, str]] = field(default_factory=list, compare=False, repr=False)

    async def run(self, runtime: Any) -> None:
        """Play the timeline against ``runtime`` (an emulator: ``.faults``, ``.rng``).

        Returns after the last entry (and pending reverts) of a non-repeating
        scenario; a repeating one runs until cancelled.
        """
        faults: FaultController = runtime.faults
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            cycle = 0
            while True:
                base = start + cycle * (self.repeat_every or 0.0)
                for entry in self.entries:
                    await trio.sleep_until(base + entry.at)
                    self._apply(entry, faults, runtime, nursery)
                if self.repeat_every is None:
                    break
                cycle += 1

    def _apply(
        self, entry: TimelineEntry, faults: FaultController, runtime: Any, nursery: trio.Nursery
    ) -> None:
        now = trio.current_time()
        if entry.spec is not None:
            revert = entry.spec.apply(faults)
            self.log.append((now, str(entry.spec)))
            if revert is not None and entry.duration is not None:
                nursery.start_soon(_revert_after, entry.duration, revert)
        elif entry.event_topic is not None:
            rng = runtime.rng
            body: Mapping[str, Any] | None = entry.event_body
            if body is None:
                generator = generator_for(entry.event_topic)
                body = generator(rng) if generator is not None else {}
            faults.send_raw(
                event_message(entry.event_topic, dict(body), rng), channel=entry.channel
            )
            self.log.append((now, f"event {entry.event_topic}"))


async def _revert_after(delay: float, revert: Any) -> None:
    await trio.sleep(delay)
    revert()


_ENTRY_KEYS = {"at", "fault", "spec", "event", "body", "duration", "channel"}


def parse_scenario(data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML (see the module docstring).

    Raises:
      ScenarioError: naming ``source`` and the offending field.
    """

    def fail(message: str, where: str) -> ScenarioError:
        return ScenarioError(f"{where}: {message}", field=where, source=source)

    unknown = set(data) - {"name", "description", "repeat_every", "timeline"}
    if unknown:
        where = sorted(unknown)[0]
        raise fail("unknown field (expected name, description, repeat_every, timeline)", where)
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise fail("must be a non-empty string", "name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("must be a string", "description")
    repeat_every: float | None = None
    if "repeat_every" in data:
        try:
            repeat_every = parse_duration(data["repeat_every"], field="repeat_every")
        except FaultSpecError as exc:
            raise fail(_strip(str(exc), "repeat_every"), "repeat_every") from None
        if repeat_every <= 0:
            raise fail("must be > 0", "repeat_every")
    timeline = data.get("timeline")
    if not isinstance(timeline, list) or not timeline:
        raise fail("must be a non-empty array of tables ([[timeline]])", "timeline")
    entries = [_parse_entry(raw, f"timeline[{i}]", fail) for i, raw in enumerate(timeline)]
    if repeat_every is not None:
        for i, entry in enumerate(entries):
            if entry.at >= repeat_every:
                raise fail(f"{entry.at:g}s is not before repeat_every", f"timeline[{i}].at")
    entries.sort(key=lambda e: e.at)
    return Scenario(name, tuple(entries), description, repeat_every)


def _strip(message: str, where: str) -> str:
    prefix = f"{where}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _parse_entry(raw: Any, where: str, fail: Any) -> TimelineEntry:
    if not isinstance(raw, Mapping):
        raise fail("must be a table", where)
    if "at" not in raw:
        raise fail("required", f"{where}.at")
    try:
        at = parse_duration(raw["at"], field=f"{where}.at")
    except FaultSpecError as exc:
        raise fail(_strip(str(exc), f"{where}.at"), f"{where}.at") from None
    duration: float | None = None
    if "duration" in raw:
        try:
            duration = parse_duration(raw["duration"], field=f"{where}.duration")
        except FaultSpecError as exc:
            raise fail(_strip(str(exc), f"{where}.duration"), f"{where}.duration") from None
    kinds = [k for k in ("fault", "spec", "event") if k in raw]
    if len(kinds) != 1:
        raise fail("needs exactly one of 'fault', 'spec' or 'event'", where)
    channel = raw.get("channel")
    if channel is not None and not isinstance(channel, str):
        raise fail("must be a string", f"{where}.channel")
    if kinds[0] == "event":
        extra = set(raw) - {"at", "event", "body", "channel"}
        if extra:
            field_name = sorted(extra)[0]
            raise fail("not allowed in an event entry", f"{where}.{field_name}")
        topic = raw["event"]
        if not isinstance(topic, str) or not topic:
            raise fail("must be a topic name", f"{where}.event")
        body = raw.get("body")
        if body is not None and not isinstance(body, Mapping):
            raise fail("must be a table", f"{where}.body")
        try:
            json.dumps(body)
        except (TypeError, ValueError):
            raise fail("must be JSON-compatible", f"{where}.body") from None
        return TimelineEntry(at, event_topic=topic, event_body=body, channel=channel)
    try:
        if kinds[0] == "spec":
            extra = set(raw) - {"at", "spec", "duration"}
            if extra:
                raise fail("not allowed with 'spec'", f"{where}.{sorted(extra)[0]}")
            if not isinstance(raw["spec"], str):
                raise fail("must be a string", f"{where}.spec")
            spec = parse_fault_spec(raw["spec"])
        else:
            name = raw["fault"]
            if not isinstance(name, str):
                raise fail("must be a string", f"{where}.fault")
            params = {k: v for k, v in raw.items() if k not in ("at", "fault", "duration")}
            if name == "stall" and duration is not None and "duration" not in params:
                params["duration"] = raw["duration"]
            spec = FaultSpec.from_mapping(name, params, where=where)
    except FaultSpecError as exc:
        field_name = exc.field if exc.field.startswith(where) else f"{where}.{exc.field}"
        raise fail(_strip(_strip(str(exc), exc.field), field_name), field_name) from None
    if duration is not None and not spec.continuous and spec.name != "stall":
        raise fail(f"fault {spec.name!r} acts once and takes no duration", f"{where}.duration")
    if spec.name == "stall":
        duration = None  # the stall's own length
    return TimelineEntry(at, spec=spec, duration=duration)


def builtin_scenarios() -> tuple[str, ...]:
    """Names of the built-in scenarios."""
    folder = importlib.resources.files(__package__).joinpath("scenarios")
    return tuple(
        sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    )


BUILTIN_SCENARIOS = ("calm", "congested", "flaky", "maintenance")


def load_scenario(name_or_path: str | os.PathLike[str]) -> Scenario:
    """Load a built-in scenario by name, or a scenario file by path.

    A value that names an existing file, or ends in ``.toml``, is a path;
    anything else is looked up among the built-in scenarios.

    Raises:
      ScenarioError: unknown name, unreadable file, bad TOML, or an invalid
        field (the message names the file and the field).
    """
    text_name = os.fspath(name_or_path)
    path = Path(text_name)
    if path.suffix == ".toml" or path.is_file() or os.sep in text_name:
        source = path.name
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(
                f"cannot read scenario file: {exc.strerror}", source=text_name
            ) from None
    else:
        source = f"{text_name}.toml"
        resource = importlib.resources.files(__package__).joinpath("scenarios", source)
        if not resource.is_file():
            known = ", ".join(builtin_scenarios())
            raise ScenarioError(
                f"unknown scenario {text_name!r} (built-in: {known}; or give a .toml file path)",
                source=text_name,
            )
        raw = resource.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"invalid TOML: {exc}", source=source) from None
    return parse_scenario(data, source=source)


def scenario_from_specs(
    name: str, steps: Sequence[tuple[float, str]], *, repeat_every: float | None = None
) -> Scenario:
    """A scenario from ``(at_seconds, fault_spec_text)`` pairs (for Python callers)."""
    entries = tuple(TimelineEntry(at, spec=parse_fault_spec(text)) for at, text in sorted(steps))
    if any(not math.isfinite(at) or at < 0 for at, _ in steps):
        raise ScenarioError("offsets must be >= 0", source=name)
    return Scenario(name, entries, repeat_every=repeat_every)
