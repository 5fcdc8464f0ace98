"""Fault injection for the Genesys Cloud emulator.

A :class:`FaultController` holds every fault the emulator can inject. Faults
are set from Python (``emulator.faults.set_pong_delay(...)``), from the command
line (``--fault SPEC``, parsed by :func:`parse_fault_spec`) and from scenarios
(see :mod:`genesys_pulse.emulator._scenarios`).

It is one module of about a thousand lines on purpose: a new fault is one
entry in the text grammar's table (``_FAULTS``), one controller method and one
line of :meth:`FaultSpec.apply` mapping the first onto the second, and those
change together.

Kinds of fault:

* **Policies** that stay in force until changed: the delay of application
  pongs and of control pongs (separately, drawn from a :class:`Delay`
  distribution), the fraction of either kind of pong that is dropped, and
  whether control pings are answered at all. Each is global or per channel; a
  per-channel value wins over the global one.
* **Actions** applied at once to the live sockets (all of them, or one
  channel's): a half-open stall, an abrupt TCP reset, a close with a chosen
  code, a malformed or an oversized message, and scheduled (maintenance)
  closes announced by ``v2.system.socket_closing``.
* **Armed HTTP faults** consumed by the REST/login side: bursts of error
  statuses on login or on API paths, and WebSocket upgrades left unanswered.

Every pong decision is recorded (:attr:`FaultController.pong_records`) with
the time its ping's bytes were received, the delay that was applied and the
time the pong was written, so tests can compare what a client measured with
what was injected, ping by ping.

Text specs (command line and TOML ``spec = ...``)
-------------------------------------------------

Grammar::

    SPEC     := NAME [ "=" ARG ( ":" ARG )* ]
    ARG      := VALUE | KEY "=" VALUE
    DURATION := NUMBER [ UNIT ]    (bare number: seconds; the configuration's grammar,
                                    UNIT one of ns us µs ms s m min h; e.g. 20ms, 1.5s, 1e-3)
    DELAY    := "fixed:" DURATION
              | "normal:" MEAN ":" STDEV [ ":floor=" DURATION ]
              | "uniform:" LOW ":" HIGH
              optionally followed by ":p=" PROB ":spike=" DURATION [ ".." DURATION ]

Positional arguments fill the fault's parameters in order; ``KEY=VALUE``
arguments name them. Every fault accepts ``channel=ID`` (default: all
channels). The faults, with their parameters in positional order:

==========================  ===============================================================
``app-pong-delay=DELAY``    delay application pongs (``{"message":"ping"}`` replies)
``control-pong-delay=DELAY`` delay RFC 6455 control pongs
``pong-delay=DELAY``        both of the above
``app-pong-drop=FRACTION``  drop that fraction (0..1) of application pongs
``control-pong-drop=F``     drop that fraction of control pongs
``control-pongs=on|off``    answer control pings or not
``stall[=DURATION]``        half-open stall: nothing read or written (default: forever)
``reset``                   abrupt TCP reset (RST)
``close[=CODE[:REASON]]``   close with a code (default ``1001:idle timeout``)
``malformed[=KIND]``        send ``not-json`` (default) or ``wrong-shape``
``oversized[=BYTES]``       send a text message of BYTES (default 70000) bytes
``schedule-close=IN[:CODE[:REASON]]``  maintenance close IN seconds from now;
                            ``warn=false`` skips ``socket_closing``, ``lead=D`` sets its lead
``login-fail=STATUS[:COUNT]``  the next COUNT logins fail (``retry-after=S`` for 429/503)
``api-fail=STATUS[:COUNT]``    the next COUNT REST calls fail (``path=/api/v2/...`` prefix)
``hang-upgrades[=COUNT]``   the next COUNT WebSocket upgrades are never answered
==========================  ===============================================================

Examples: ``app-pong-delay=normal:20ms:5ms:floor=1ms``,
``control-pong-delay=fixed:10ms:p=0.01:spike=200ms..500ms``,
``close=1011:internal error:channel=streaming-0-abc``,
``login-fail=429:3:retry-after=2``.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import trio

# The one shared piece of client code: the duration grammar users type (an input
# language, not a measurement; see the emulator contract in pyproject.toml).
from genesys_pulse.core import parse_duration as _core_parse_duration

__all__ = [
    "Action",
    "CloseAction",
    "Delay",
    "FaultController",
    "FaultSpec",
    "FaultSpecError",
    "HttpFault",
    "PongKind",
    "PongRecord",
    "ResetAction",
    "ScheduledClose",
    "SendAction",
    "StallAction",
    "parse_delay",
    "parse_duration",
    "parse_fault_spec",
]

PongKind = Literal["app", "control"]
PONG_KINDS: tuple[PongKind, ...] = ("app", "control")


class FaultSpecError(ValueError):
    """A fault specification (text or scenario entry) is invalid.

    Attributes:
      field: The name of the offending parameter (or ``"fault"``).
    """

    def __init__(self, message: str, *, field: str = "fault") -> None:
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------------------
# durations and delay distributions


def parse_duration(value: str | float | int, *, field: str = "duration") -> float:
    """Parse ``"20ms"``, ``"1.5s"``, ``"2m"``, ``"1h"``, ``"500us"`` or a number of seconds.

    The grammar is the configuration's (:func:`genesys_pulse.core.parse_duration`,
    documented in docs/configuration.md), so a duration written for the monitor
    works in a fault spec or a scenario too; only the error type differs.

    Raises:
      FaultSpecError: if the value is not a non-negative finite duration.
    """
    try:
        return _core_parse_duration(value)
    except ValueError as exc:
        raise FaultSpecError(f"{field}: {value!r} {exc}", field=field) from None


@dataclass(frozen=True)
class Delay:
    """A pong-delay distribution: a base distribution plus optional spikes.

    ``kind`` is ``"fixed"`` (always ``a``), ``"normal"`` (mean ``a``, standard
    deviation ``b``, never below ``floor``) or ``"uniform"`` (between ``a`` and
    ``b``). With probability ``spike_p`` a spike drawn uniformly from
    ``[spike_low, spike_high]`` is added to the base draw. Seconds throughout.
    """

    kind: Literal["fixed", "normal", "uniform"]
    a: float
    b: float = 0.0
    floor: float = 0.0
    spike_p: float = 0.0
    spike_low: float = 0.0
    spike_high: float = 0.0

    def __post_init__(self) -> None:
        for name in ("a", "b", "floor", "spike_low", "spike_high"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise FaultSpecError(f"delay {name} must be >= 0, got {value!r}", field="delay")
        if not 0.0 <= self.spike_p <= 1.0:
            raise FaultSpecError(
                f"spike probability must be in [0, 1], got {self.spike_p}", field="delay"
            )
        if self.spike_high < self.spike_low:
            raise FaultSpecError("spike range must be low..high", field="delay")
        if self.kind == "uniform" and self.b < self.a:
            raise FaultSpecError("uniform delay must be low:high", field="delay")

    @classmethod
    def fixed(cls, seconds: float) -> Delay:
        """Always ``seconds``."""
        return cls("fixed", seconds)

    @classmethod
    def normal(cls, mean: float, stdev: float, floor: float = 0.0) -> Delay:
        """Normal with ``mean`` and ``stdev``, clamped to at least ``floor``."""
        return cls("normal", mean, stdev, floor)

    def with_spikes(self, p: float, low: float, high: float | None = None) -> Delay:
        """This distribution, plus a spike in ``[low, high]`` with probability ``p``."""
        return Delay(self.kind, self.a, self.b, self.floor, p, low, low if high is None else high)

    def sample(self, rng: random.Random) -> float:
        """Draw one delay in seconds."""
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "normal":
            value = max(self.floor, rng.gauss(self.a, self.b))
        else:
            value = rng.uniform(self.a, self.b)
        if self.spike_p > 0.0 and rng.random() < self.spike_p:
            value += rng.uniform(self.spike_low, self.spike_high)
        return max(0.0, value)

    def __str__(self) -> str:
        def ms(x: float) -> str:
            return f"{x * 1000:g}ms"

        if self.kind == "fixed":
            text = f"fixed:{ms(self.a)}"
        elif self.kind == "normal":
            text = f"normal:{ms(self.a)}:{ms(self.b)}:floor={ms(self.floor)}"
        else:
            text = f"uniform:{ms(self.a)}:{ms(self.b)}"
        if self.spike_p:
            text += f":p={self.spike_p:g}:spike={ms(self.spike_low)}..{ms(self.spike_high)}"
        return text


def parse_delay(text: str, *, field: str = "delay") -> Delay:
    """Parse a delay distribution (see the module docstring for the grammar)."""
    parts = [p.strip() for p in text.split(":")]
    kind = parts[0]
    positional = [p for p in parts[1:] if "=" not in p]
    options: dict[str, str] = {}
    for p in parts[1:]:
        if "=" in p:
            key, _, value = p.partition("=")
            options[key.strip()] = value.strip()
    try:
        if kind == "fixed":
            if len(positional) != 1:
                raise FaultSpecError(f"{field}: fixed takes one duration", field=field)
            delay = Delay.fixed(parse_duration(positional[0], field=field))
        elif kind == "normal":
            if len(positional) != 2:
                raise FaultSpecError(f"{field}: normal takes MEAN:STDEV", field=field)
            floor = parse_duration(options.pop("floor", "0"), field=f"{field}.floor")
            delay = Delay.normal(
                parse_duration(positional[0], field=field),
                parse_duration(positional[1], field=field),
                floor,
            )
        elif kind == "uniform":
            if len(positional) != 2:
                raise FaultSpecError(f"{field}: uniform takes LOW:HIGH", field=field)
            delay = Delay(
                "uniform",
                parse_duration(positional[0], field=field),
                parse_duration(positional[1], field=field),
            )
        else:
            raise FaultSpecError(
                f"{field}: unknown distribution {kind!r} (fixed, normal, uniform)", field=field
            )
        if "p" in options or "spike" in options:
            try:
                spike_p = float(options.pop("p", "0.05"))
            except ValueError:
                raise FaultSpecError(f"{field}: p must be a probability", field=field) from None
            low_text, _, high_text = options.pop("spike", "100ms").partition("..")
            low = parse_duration(low_text, field=f"{field}.spike")
            high = parse_duration(high_text, field=f"{field}.spike") if high_text else low
            delay = delay.with_spikes(spike_p, low, high)
    except FaultSpecError as exc:
        if exc.field == "delay" and field != "delay":
            exc.field = field
        raise
    if options:
        raise FaultSpecError(f"{field}: unknown option(s) {sorted(options)}", field=field)
    return delay


# ---------------------------------------------------------------------------
# records, actions, armed HTTP faults


@dataclass
class PongRecord:
    """What the emulator did with one ping.

    Attributes:
      channel_id: The channel whose socket received the ping.
      kind: ``"app"`` (``{"message":"ping"}``) or ``"control"`` (RFC 6455).
      received_at: ``trio.current_time()`` just after the ping's bytes were read.
      drawn: The delay drawn from the distribution (seconds), or ``None``.
      delay: The delay applied (``drawn``, or more when FIFO order forced it to
        wait for an earlier pong), or ``None`` when the pong was dropped.
      sent_at: ``trio.current_time()`` just after the pong was written, or
        ``None`` (dropped, stalled or the socket went away first).
    """

    channel_id: str
    kind: PongKind
    received_at: float
    drawn: float | None
    delay: float | None
    sent_at: float | None = None

    @property
    def dropped(self) -> bool:
        """True when the pong was dropped on purpose."""
        return self.delay is None


@dataclass(frozen=True)
class StallAction:
    """Half-open stall: stop reading and writing for ``duration`` (None: forever)."""

    duration: float | None = None


@dataclass(frozen=True)
class ResetAction:
    """Abort the TCP connection with an RST (SO_LINGER 0)."""


@dataclass(frozen=True)
class CloseAction:
    """Close the WebSocket with ``code`` and ``reason``."""

    code: int = 1001
    reason: str = "idle timeout"


@dataclass(frozen=True)
class SendAction:
    """Send one raw message (``str``: text frame, ``bytes``: binary frame)."""

    payload: str | bytes


Action = StallAction | ResetAction | CloseAction | SendAction


@dataclass(frozen=True)
class ScheduledClose:
    """A maintenance close at ``at`` (trio time), warned ``lead`` seconds before."""

    at: float
    code: int
    reason: str
    channel: str | None
    warn: bool
    lead: float | None
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class HttpFault:
    """An HTTP error the REST/login side must answer with.

    Attributes:
      status: HTTP status to answer with.
      retry_after: ``Retry-After`` seconds, or ``None`` for no header.
      count: How many more requests this burst will still fail after this one.
    """

    status: int
    retry_after: float | None = None
    count: int = 0


@dataclass
class _ArmedHttp:
    status: int
    count: int
    retry_after: float | None
    path_prefix: str | None = None
    method: str | None = None


class FaultTarget(Protocol):
    """A live socket session as the controller sees it."""

    @property
    def channel_id(self) -> str:
        """The channel id of the session."""

    def inject(self, action: Action) -> None:
        """Apply ``action`` to the session (non-blocking)."""


# ---------------------------------------------------------------------------
# the controller


class FaultController:
    """Every fault the emulator injects, global or per channel.

    Args:
      rng: The random generator for delays and drops (the emulator passes its
        seeded generator so runs are reproducible).
      max_records: How many :class:`PongRecord` to keep.
    """

    def __init__(self, *, rng: random.Random | None = None, max_records: int = 100_000) -> None:
        self.rng = rng if rng is not None else random.Random(0)
        self._delay: dict[tuple[str | None, PongKind], Delay] = {}
        self._drop: dict[tuple[str | None, PongKind], float] = {}
        self._control_pongs: dict[str | None, bool] = {}
        self._sessions: list[FaultTarget] = []
        self._scheduled: list[ScheduledClose] = []
        self._changed = trio.Event()
        self._login: list[_ArmedHttp] = []
        self._api: list[_ArmedHttp] = []
        self._hangs: list[list[Any]] = []  # [count, channel]
        #: Every pong decision, oldest first (bounded).
        self.pong_records: deque[PongRecord] = deque(maxlen=max_records)

    # -- pong policies ---------------------------------------------------

    def set_pong_delay(
        self, kind: PongKind | Literal["both"], delay: Delay | None, *, channel: str | None = None
    ) -> None:
        """Delay ``kind`` pongs by draws from ``delay`` (``None``: no delay)."""
        for k in _kinds(kind):
            if delay is None:
                self._delay.pop((channel, k), None)
            else:
                self._delay[(channel, k)] = delay

    def set_pong_drop(
        self, kind: PongKind | Literal["both"], fraction: float, *, channel: str | None = None
    ) -> None:
        """Drop ``fraction`` (0..1) of ``kind`` pongs."""
        if not 0.0 <= fraction <= 1.0:
            raise FaultSpecError(f"drop fraction must be in [0, 1], got {fraction}", field="drop")
        for k in _kinds(kind):
            self._drop[(channel, k)] = fraction

    def set_control_pongs(self, enabled: bool | None, *, channel: str | None = None) -> None:
        """Answer control pings or not (``None``: back to the emulator setting)."""
        if enabled is None:
            self._control_pongs.pop(channel, None)
        else:
            self._control_pongs[channel] = enabled

    def clear_pong_faults(self, *, channel: str | None = None) -> None:
        """Remove delays, drops and the control-pong switch for ``channel`` (or globally)."""
        for k in PONG_KINDS:
            self._delay.pop((channel, k), None)
            self._drop.pop((channel, k), None)
        self._control_pongs.pop(channel, None)

    def pong_delay(self, channel_id: str, kind: PongKind) -> Delay | None:
        """The delay distribution in force for ``kind`` pongs on ``channel_id``."""
        return self._delay.get((channel_id, kind), self._delay.get((None, kind)))

    def pong_drop(self, channel_id: str, kind: PongKind) -> float:
        """The drop fraction in force for ``kind`` pongs on ``channel_id``."""
        return self._drop.get((channel_id, kind), self._drop.get((None, kind), 0.0))

    def control_pongs_enabled(self, channel_id: str, default: bool) -> bool:
        """Whether control pings on ``channel_id`` are answered."""
        return self._control_pongs.get(channel_id, self._control_pongs.get(None, default))

    def decide_pong(self, channel_id: str, kind: PongKind, received_at: float) -> PongRecord:
        """Draw the fate of one pong and record it (``delay is None``: drop it)."""
        drop = self.pong_drop(channel_id, kind)
        if drop > 0.0 and self.rng.random() < drop:
            record = PongRecord(channel_id, kind, received_at, None, None)
        else:
            dist = self.pong_delay(channel_id, kind)
            drawn = dist.sample(self.rng) if dist is not None else 0.0
            record = PongRecord(channel_id, kind, received_at, drawn, drawn)
        self.pong_records.append(record)
        return record

    def records_for(self, channel_id: str, kind: PongKind | None = None) -> list[PongRecord]:
        """The recorded pong decisions of one channel (optionally one kind)."""
        return [
            r
            for r in self.pong_records
            if r.channel_id == channel_id and (kind is None or r.kind == kind)
        ]

    # -- live sessions and actions ------------------------------------------

    def register(self, session: FaultTarget) -> None:
        """Called by a socket session when it starts."""
        self._sessions.append(session)

    def unregister(self, session: FaultTarget) -> None:
        """Called by a socket session when it ends."""
        if session in self._sessions:
            self._sessions.remove(session)

    def sessions(self, channel: str | None = None) -> list[FaultTarget]:
        """The live sessions (of one channel, or all)."""
        return [s for s in self._sessions if channel is None or s.channel_id == channel]

    def _apply(self, action: Action, channel: str | None) -> int:
        targets = self.sessions(channel)
        for session in targets:
            session.inject(action)
        return len(targets)

    def stall(self, duration: float | None = None, *, channel: str | None = None) -> int:
        """Half-open stall of the live sockets: nothing read or written for
        ``duration`` seconds (``None``: until they close). Returns how many sockets."""
        return self._apply(StallAction(duration), channel)

    def reset(self, *, channel: str | None = None) -> int:
        """Abort the live sockets' TCP connections with an RST."""
        return self._apply(ResetAction(), channel)

    def close(
        self, code: int = 1001, reason: str = "idle timeout", *, channel: str | None = None
    ) -> int:
        """Close the live sockets with ``code`` and ``reason`` (no warning)."""
        _check_close_code(code)
        return self._apply(CloseAction(code, reason), channel)

    def send_malformed(
        self,
        kind: Literal["not-json", "wrong-shape"] = "not-json",
        *,
        channel: str | None = None,
    ) -> int:
        """Send a message that is not JSON, or JSON of the wrong shape."""
        payload = MALFORMED[kind]
        return self._apply(SendAction(payload), channel)

    def send_oversized(self, size: int = 70_000, *, channel: str | None = None) -> int:
        """Send a JSON text message of ``size`` bytes (default > 64 KiB)."""
        return self._apply(SendAction(oversized_message(size)), channel)

    def send_raw(self, payload: str | bytes, *, channel: str | None = None) -> int:
        """Send any raw message to the live sockets."""
        return self._apply(SendAction(payload), channel)

    # -- scheduled (maintenance) closes ---------------------------------------

    def schedule_close(
        self,
        at_or_in: float,
        *,
        code: int = 1001,
        reason: str = "Socket closing",
        channel: str | None = None,
        warn: bool = True,
        lead: float | None = None,
        absolute: bool = False,
    ) -> ScheduledClose:
        """Close sockets at a time, announced by ``v2.system.socket_closing``.

        Args:
          at_or_in: Seconds from now, or a ``trio.current_time()`` deadline
            when ``absolute`` is true.
          code, reason: The close frame.
          channel: Only this channel (default: every socket open at that time).
          warn: Send ``v2.system.socket_closing`` ``lead`` seconds before.
          lead: Warning lead (default: the emulator's ``socket_closing_lead``).
        """
        _check_close_code(code)
        at = at_or_in if absolute else trio.current_time() + at_or_in
        scheduled = ScheduledClose(at, code, reason, channel, warn, lead)
        self._scheduled.append(scheduled)
        self._notify()
        return scheduled

    def cancel_scheduled_closes(self) -> None:
        """Forget every scheduled close."""
        self._scheduled.clear()
        self._notify()

    def scheduled_closes(self, channel_id: str, after: float) -> list[ScheduledClose]:
        """Scheduled closes that apply to ``channel_id`` and fall after ``after``."""
        return sorted(
            (
                s
                for s in self._scheduled
                if s.at > after and (s.channel is None or s.channel == channel_id)
            ),
            key=lambda s: s.at,
        )

    def changed(self) -> trio.Event:
        """An event set at the next change of the scheduled closes."""
        return self._changed

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # -- armed HTTP faults ---------------------------------------------------

    def fail_login(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Make the next ``count`` token requests fail with ``status``."""
        self._login.append(_ArmedHttp(_check_status(status), _check_count(count), retry_after))

    def fail_api(
        self,
        status: int,
        count: int = 1,
        retry_after: float | None = None,
        path_prefix: str | None = None,
        method: str | None = None,
    ) -> None:
        """Make the next ``count`` REST requests (under ``path_prefix``; of ``method``,
        e.g. ``"POST"`` for channel creation only) fail with ``status``."""
        self._api.append(
            _ArmedHttp(
                _check_status(status),
                _check_count(count),
                retry_after,
                path_prefix,
                method.upper() if method else None,
            )
        )

    def hang_upgrades(self, count: int = 1, channel: str | None = None) -> None:
        """Leave the next ``count`` WebSocket upgrades (of ``channel``) unanswered."""
        self._hangs.append([_check_count(count), channel])

    def take_login_fault(self) -> HttpFault | None:
        """Consume one armed login fault, if any."""
        return _take(self._login, lambda _a: True)

    def take_api_fault(self, path: str, method: str = "") -> HttpFault | None:
        """Consume one armed REST fault matching ``path`` (and ``method``), if any."""
        return _take(
            self._api,
            lambda a: (
                (a.path_prefix is None or path.startswith(a.path_prefix))
                and (a.method is None or a.method == method.upper())
            ),
        )

    def take_upgrade_hang(self, channel_id: str) -> bool:
        """Consume one armed hung upgrade matching ``channel_id``; true if the
        upgrade must never be answered."""
        for entry in self._hangs:
            if entry[1] is None or entry[1] == channel_id:
                entry[0] -= 1
                if entry[0] <= 0:
                    self._hangs.remove(entry)
                return True
        return False

    def armed(self) -> Iterator[str]:
        """Human-readable list of the armed HTTP faults (for logs)."""
        for a in self._login:
            yield f"login-fail={a.status}:{a.count}"
        for a in self._api:
            yield f"api-fail={a.status}:{a.count}" + (
                f":path={a.path_prefix}" if a.path_prefix else ""
            )
        for count, channel in self._hangs:
            yield f"hang-upgrades={count}" + (f":channel={channel}" if channel else "")


def _kinds(kind: str) -> tuple[PongKind, ...]:
    if kind == "both":
        return PONG_KINDS
    if kind == "app":
        return ("app",)
    if kind == "control":
        return ("control",)
    raise FaultSpecError(f"pong kind must be app, control or both, got {kind!r}", field="kind")


def _take(armed: list[_ArmedHttp], match: Callable[[_ArmedHttp], bool]) -> HttpFault | None:
    for entry in armed:
        if match(entry):
            entry.count -= 1
            if entry.count <= 0:
                armed.remove(entry)
            return HttpFault(entry.status, entry.retry_after, max(entry.count, 0))
    return None


def _check_status(status: int) -> int:
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise FaultSpecError(f"status must be an HTTP error status, got {status!r}", field="status")
    return status


def _check_count(count: int) -> int:
    if not isinstance(count, int) or count < 1:
        raise FaultSpecError(f"count must be a positive integer, got {count!r}", field="count")
    return count


def _check_close_code(code: int) -> None:
    if not isinstance(code, int) or not (1000 <= code <= 4999) or code in (1004, 1005, 1006, 1015):
        raise FaultSpecError(
            f"code must be a sendable WebSocket close code, got {code!r}", field="code"
        )


MALFORMED: Mapping[str, str] = {
    "not-json": '{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heart',
    "wrong-shape": json.dumps(["channel.metadata", {"message": 42}]),
}


def oversized_message(size: int) -> str:
    """A valid JSON event message padded to exactly ``size`` bytes."""
    head = '{"topicName":"channel.metadata","eventBody":{"message":"'
    tail = '"}}'
    pad = max(0, size - len(head) - len(tail))
    return head + "x" * pad + tail


# ---------------------------------------------------------------------------
# fault specs (command line and scenarios)


@dataclass(frozen=True)
class _Param:
    name: str
    kind: Literal["delay", "duration", "fraction", "int", "str", "bool", "code", "float"]
    default: Any = None
    required: bool = False


_FAULTS: dict[str, tuple[_Param, ...]] = {
    "app-pong-delay": (_Param("delay", "delay", required=True),),
    "control-pong-delay": (_Param("delay", "delay", required=True),),
    "pong-delay": (_Param("delay", "delay", required=True),),
    "app-pong-drop": (_Param("fraction", "fraction", required=True),),
    "control-pong-drop": (_Param("fraction", "fraction", required=True),),
    "control-pongs": (_Param("enabled", "bool", required=True),),
    "stall": (_Param("duration", "duration"),),
    "reset": (),
    "close": (_Param("code", "code", 1001), _Param("reason", "str", "idle timeout")),
    "malformed": (_Param("kind", "str", "not-json"),),
    "oversized": (_Param("size", "int", 70_000),),
    "schedule-close": (
        _Param("in", "duration", required=True),
        _Param("code", "code", 1001),
        _Param("reason", "str", "Socket closing"),
        _Param("warn", "bool", True),
        _Param("lead", "duration"),
    ),
    "login-fail": (
        _Param("status", "int", required=True),
        _Param("count", "int", 1),
        _Param("retry-after", "float"),
    ),
    "api-fail": (
        _Param("status", "int", required=True),
        _Param("count", "int", 1),
        _Param("retry-after", "float"),
        _Param("path", "str"),
    ),
    "hang-upgrades": (_Param("count", "int", 1),),
}

#: Faults that stay in force (a ``duration`` reverts them); the others act once.
CONTINUOUS = frozenset(
    {
        "app-pong-delay",
        "control-pong-delay",
        "pong-delay",
        "app-pong-drop",
        "control-pong-drop",
        "control-pongs",
    }
)

FAULT_NAMES = tuple(_FAULTS)


@dataclass(frozen=True)
class FaultSpec:
    """One parsed fault: a name, its validated parameters and an optional channel."""

    name: str
    params: Mapping[str, Any]
    channel: str | None = None

    @classmethod
    def from_mapping(cls, name: str, values: Mapping[str, Any], *, where: str = "") -> FaultSpec:
        """Build a spec from named values (a scenario entry), validating each.

        Raises:
          FaultSpecError: naming the offending field (prefixed with ``where``).
        """
        prefix = f"{where}." if where else ""
        if name not in _FAULTS:
            raise FaultSpecError(
                f"{prefix}fault: unknown fault {name!r} (known: {', '.join(FAULT_NAMES)})",
                field=f"{prefix}fault",
            )
        known = {p.name: p for p in _FAULTS[name]}
        params: dict[str, Any] = {}
        channel = values.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise FaultSpecError(f"{prefix}channel: must be a string", field=f"{prefix}channel")
        for key, raw in values.items():
            if key == "channel":
                continue
            norm = key.replace("_", "-")
            if norm not in known:
                raise FaultSpecError(
                    f"{prefix}{key}: unknown parameter for {name!r} "
                    f"(known: {', '.join(known) or 'none'})",
                    field=f"{prefix}{key}",
                )
            params[norm] = _convert(known[norm], raw, f"{prefix}{key}")
        for p in _FAULTS[name]:
            if p.name not in params:
                if p.required:
                    raise FaultSpecError(
                        f"{prefix}{p.name}: required by fault {name!r}", field=f"{prefix}{p.name}"
                    )
                params[p.name] = p.default
        return cls(name, params, channel)

    @property
    def continuous(self) -> bool:
        """True for a policy that stays in force until changed."""
        return self.name in CONTINUOUS

    def apply(self, faults: FaultController) -> Callable[[], None] | None:
        """Apply the fault; for a policy, return a function that reverts it."""
        p = self.params
        ch = self.channel
        if self.name in ("app-pong-delay", "control-pong-delay", "pong-delay"):
            kind: PongKind | Literal["both"] = (
                "both"
                if self.name == "pong-delay"
                else ("app" if self.name[0] == "a" else "control")
            )
            before = {k: faults._delay.get((ch, k)) for k in _kinds(kind)}
            faults.set_pong_delay(kind, p["delay"], channel=ch)

            def revert_delay() -> None:
                for k, d in before.items():
                    faults.set_pong_delay(k, d, channel=ch)

            return revert_delay
        if self.name in ("app-pong-drop", "control-pong-drop"):
            k2: PongKind = "app" if self.name[0] == "a" else "control"
            old = faults._drop.get((ch, k2))
            faults.set_pong_drop(k2, p["fraction"], channel=ch)

            def revert_drop() -> None:
                if old is None:
                    faults._drop.pop((ch, k2), None)
                else:
                    faults._drop[(ch, k2)] = old

            return revert_drop
        if self.name == "control-pongs":
            old_enabled = faults._control_pongs.get(ch)
            faults.set_control_pongs(p["enabled"], channel=ch)
            return lambda: faults.set_control_pongs(old_enabled, channel=ch)
        if self.name == "stall":
            faults.stall(p["duration"], channel=ch)
        elif self.name == "reset":
            faults.reset(channel=ch)
        elif self.name == "close":
            faults.close(p["code"], p["reason"], channel=ch)
        elif self.name == "malformed":
            faults.send_malformed(p["kind"], channel=ch)
        elif self.name == "oversized":
            faults.send_oversized(p["size"], channel=ch)
        elif self.name == "schedule-close":
            faults.schedule_close(
                p["in"],
                code=p["code"],
                reason=p["reason"],
                channel=ch,
                warn=p["warn"],
                lead=p["lead"],
            )
        elif self.name == "login-fail":
            faults.fail_login(p["status"], p["count"], p["retry-after"])
        elif self.name == "api-fail":
            faults.fail_api(p["status"], p["count"], p["retry-after"], p["path"])
        elif self.name == "hang-upgrades":
            faults.hang_upgrades(p["count"], ch)
        return None

    def __str__(self) -> str:
        """The spec as command-line text (parses back with :func:`parse_fault_spec`)."""
        if "delay" in self.params:
            args = [str(self.params["delay"])]
        else:
            args = [f"{k}={v}" for k, v in self.params.items() if v is not None]
        if self.channel:
            args.append(f"channel={self.channel}")
        return self.name + ("=" + ":".join(args) if args else "")


def _convert(param: _Param, raw: Any, where: str) -> Any:
    kind = param.kind
    try:
        if kind == "delay":
            if isinstance(raw, Delay):
                return raw
            if not isinstance(raw, str):
                raise FaultSpecError(
                    f"{where}: expected a delay such as 'normal:20ms:5ms'", field=where
                )
            return parse_delay(raw, field=where)
        if kind == "duration":
            return None if raw is None else parse_duration(raw, field=where)
        if kind == "fraction":
            value = float(raw)
            if not 0.0 <= value <= 1.0:
                raise FaultSpecError(f"{where}: must be between 0 and 1, got {raw!r}", field=where)
            return value
        if kind == "float":
            return None if raw is None else float(raw)
        if kind in ("int", "code"):
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value_i = int(raw)
            if kind == "code":
                _check_close_code(value_i)
            elif param.name == "status":
                _check_status(value_i)
            elif value_i < 1:
                raise FaultSpecError(f"{where}: must be a positive integer", field=where)
            return value_i
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).lower()
            if text in ("on", "true", "yes", "1"):
                return True
            if text in ("off", "false", "no", "0"):
                return False
            raise FaultSpecError(f"{where}: expected on/off, got {raw!r}", field=where)
        if not isinstance(raw, str):
            raise FaultSpecError(f"{where}: expected a string, got {raw!r}", field=where)
        if param.name == "kind" and raw not in MALFORMED:
            raise FaultSpecError(f"{where}: must be one of {sorted(MALFORMED)}", field=where)
        return raw
    except FaultSpecError as exc:
        exc.field = where
        if not str(exc).startswith(where):
            raise FaultSpecError(f"{where}: {exc}", field=where) from None
        raise
    except (TypeError, ValueError):
        raise FaultSpecError(f"{where}: invalid {kind} value {raw!r}", field=where) from None


def parse_fault_spec(text: str) -> FaultSpec:
    """Parse a command-line fault spec such as ``app-pong-delay=normal:20ms:5ms:floor=1ms``.

    Raises:
      FaultSpecError: with a message naming the offending parameter.
    """
    name, _, rest = text.strip().partition("=")
    name = name.strip()
    if name not in _FAULTS:
        raise FaultSpecError(
            f"fault: unknown fault {name!r} (known: {', '.join(FAULT_NAMES)})", field="fault"
        )
    params = _FAULTS[name]
    values: dict[str, Any] = {}
    if rest:
        if params and params[0].kind == "delay":
            # The delay takes all the arguments except a trailing channel=.
            parts = rest.split(":")
            channel_parts = [p for p in parts if p.startswith("channel=")]
            delay_text = ":".join(p for p in parts if not p.startswith("channel="))
            values[params[0].name] = delay_text
            for p in channel_parts:
                values["channel"] = p.partition("=")[2]
        else:
            positional = iter(params)
            for arg in rest.split(":"):
                key, eq, value = arg.partition("=")
                if eq and (key == "channel" or key.replace("_", "-") in {p.name for p in params}):
                    values[key] = value
                    continue
                nxt = next(positional, None)
                while nxt is not None and nxt.name in values:
                    nxt = next(positional, None)
                if nxt is None:
                    raise FaultSpecError(f"{name}: too many arguments in {text!r}", field=name)
                values[nxt.name] = arg
    return FaultSpec.from_mapping(name, values)
