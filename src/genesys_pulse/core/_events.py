"""The typed event contract: the attributes each monitor event carries, and the Sink.

An :class:`~genesys_pulse.core.model.Event` stays a name plus a flat mapping of
attributes (so the JSON lines, the journal and user callbacks see exactly what
they saw before); this module says, per event name, which keys that mapping
holds and what type each value has. The contract is written as
:class:`~typing.TypedDict` classes (one per event name; the functional syntax
where a key is a dotted semantic-convention name or a keyword such as
``from``): emit sites can build their attributes as one of them and be type
checked, and :data:`EVENT_ATTRS` turns them into a runtime table that
:func:`contract_problems` checks any event against. A test runs the
emulator-backed monitor through several scenarios and checks every event it
emits, so the contract cannot drift from the code; consumers (the OTel sink)
read each attribute from the one key the contract names, never guessing.

Value types: ``float`` accepts an ``int`` (JSON and Python numbers), no type
accepts a ``bool`` unless it is ``bool``; a :data:`~typing.Literal` lists the
allowed values. The ``window`` event's keys are ``window_s`` plus
``<probe type>.<key>`` for the keys of :data:`WINDOW_SUMMARY_KEYS`.

The :class:`Sink` protocol lives here too: it is the other half of the same
contract (what receives these events). This module does not use postponed
annotations: on Python 3.11 a TypedDict whose annotations are strings loses
its ``NotRequired`` keys (``__required_keys__`` would list every key).
"""

import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NotRequired, Protocol, TypedDict

if TYPE_CHECKING:
    from .model import AttrValue, Event, Sample

__all__ = [
    "CONNECT_PHASES",
    "EVENT_ATTRS",
    "EVENT_NAMES",
    "E_CONNECT_PHASE",
    "WINDOW_SUMMARY_KEYS",
    "AttrSpec",
    "Sink",
    "contract_problems",
]


class Sink(Protocol):
    """A consumer of samples and events that runs on the probing path.

    Both methods are called synchronously from the task that produced the
    record: they must be cheap and must never block (buffer and hand heavy
    work to a task of your own). Exceptions are caught and counted.
    """

    def on_sample(self, sample: "Sample") -> None:
        """Receive one sample."""

    def on_event(self, event: "Event") -> None:
        """Receive one event."""


ProbeType = Literal["control", "application", "heartbeat"]
LevelName = Literal["ok", "warning", "critical"]
ConnectPhase = Literal["login", "channel", "subscribe", "handshake"]

#: The phases of a connection attempt, in the order they happen.
CONNECT_PHASES: Final[tuple[str, ...]] = typing.get_args(ConnectPhase)

#: The event that reports one phase of a connection attempt when it ends (the
#: event's ``at``), with its measured duration: ``login`` (OAuth token
#: request), ``channel`` (channel creation), ``subscribe`` (the REST
#: subscription), ``handshake`` (the WebSocket upgrade).
E_CONNECT_PHASE: Final = "genesys.connect.phase"


class MonitorStarted(TypedDict):
    targets: int
    config: str


class MonitorStopped(TypedDict):
    failed_targets: int
    config: str


ThresholdChange = TypedDict(
    "ThresholdChange",
    {
        "metric": str,
        "probe": ProbeType,
        "level": LevelName,
        "from": LevelName,
        "value": float | Literal["timeout"],
    },
)


class Timeout(TypedDict):
    probe: ProbeType
    seq: NotRequired[int]
    reason: NotRequired[str]
    silence_s: NotRequired[float]


Reconnect = TypedDict(
    "Reconnect",
    {
        "reason": str,
        "delay_s": float,
        "error": str,
        # the cause of a failed connect (transport.FailureCause)
        "error.type": NotRequired[str],
        "error.message": NotRequired[str],
        "server.address": NotRequired[str],
    },
)


class Rotation(TypedDict):
    reason: str


class TokenIssued(TypedDict):
    expires_in_s: float
    refresh_in_s: float
    duration_s: float


class TokenRefresh(TypedDict):
    reason: str


class TokenFailed(TypedDict):
    reason: str
    status: NotRequired[int]
    kept_old: NotRequired[bool]
    endpoint: NotRequired[str]


HttpRetry = TypedDict(
    "HttpRetry",
    {
        "endpoint": str,
        "status": int,
        "code": str,
        "attempt": int,
        "delay_s": float,
        "retry_after_s": float,
        # the cause of a failed connect (transport.FailureCause)
        "error.type": NotRequired[str],
        "error.message": NotRequired[str],
        "server.address": NotRequired[str],
    },
)


class ChannelCreated(TypedDict):
    expires: str
    duration_s: float


class ChannelExpired(TypedDict):
    status: NotRequired[int]
    result: NotRequired[str]


ChannelBudgetExhausted = TypedDict(
    "ChannelBudgetExhausted",
    {
        "genesys.channel.count": int,
        "genesys.channel.limit": int,
        "genesys.channel.reserve": int,
        "level": LevelName,
    },
)


class ConnectionLost(TypedDict):
    reason: str
    code: int
    close_reason: str
    planned: bool


class ConnectionEstablished(TypedDict):
    restored: bool
    handshake_s: float
    subscribe_s: NotRequired[float]


ConnectionRestored = TypedDict(
    "ConnectionRestored", {"outage_s": float, "genesys.outage.uncertainty_s": float}
)


class SocketClosingNotice(TypedDict):
    rotate: bool


class LocalStall(TypedDict):
    lateness_s: float
    duration_s: float


class Window(TypedDict):
    window_s: float


class CallbackFailed(TypedDict):
    source: str
    error: str
    failures: int
    total_failures: int


class ConnectPhaseEnded(TypedDict):
    phase: ConnectPhase
    duration_s: float


#: Event name -> the TypedDict of its attributes.
EVENT_TYPES: Final[Mapping[str, type]] = {
    "monitor.started": MonitorStarted,
    "monitor.stopped": MonitorStopped,
    "threshold.breach": ThresholdChange,
    "threshold.clear": ThresholdChange,
    "timeout": Timeout,
    "reconnect": Reconnect,
    "rotation": Rotation,
    "token.issued": TokenIssued,
    "token.refresh": TokenRefresh,
    "token.failed": TokenFailed,
    "http.retry": HttpRetry,
    "channel.created": ChannelCreated,
    "channel.expired": ChannelExpired,
    "channel.budget_exhausted": ChannelBudgetExhausted,
    "connection.lost": ConnectionLost,
    "connection.established": ConnectionEstablished,
    "connection.restored": ConnectionRestored,
    "socket_closing": SocketClosingNotice,
    "local_stall": LocalStall,
    "window": Window,
    "callback.failed": CallbackFailed,
    E_CONNECT_PHASE: ConnectPhaseEnded,
}

#: Every event name the monitor emits.
EVENT_NAMES: Final = frozenset(EVENT_TYPES)

#: ``window`` event keys after ``<probe type>.``: the window summary of
#: ``core.ProbeStats.window_attributes`` (control, application) and of the
#: heartbeat statistics; keys with no value are omitted.
WINDOW_SUMMARY_KEYS: Final[Mapping[str, type]] = {
    "count": int,
    "timeouts": int,
    "consecutive_timeouts": int,
    "late": int,
    "late_max_s": float,
    "p50_s": float,
    "p95_s": float,
    "p99_s": float,
    "min_s": float,
    "max_s": float,
    "pdv_s": float,
    "jitter_rfc3550_s": float,
    "stability": float,
    "gap_max_s": float,
}


class AttrSpec(typing.NamedTuple):
    """One attribute of one event: its value type and whether it is always there."""

    type: Any
    required: bool


def _specs(td: type) -> dict[str, AttrSpec]:
    hints = typing.get_type_hints(td)
    required: frozenset[str] = td.__required_keys__  # type: ignore[attr-defined]
    return {key: AttrSpec(hint, key in required) for key, hint in hints.items()}


#: Event name -> attribute key -> :class:`AttrSpec` (the runtime form of the contract).
EVENT_ATTRS: Final[Mapping[str, Mapping[str, AttrSpec]]] = {
    name: _specs(td) for name, td in EVENT_TYPES.items()
}

_PROBE_TYPES: Final = frozenset(typing.get_args(ProbeType))


def _matches(value: object, hint: Any) -> bool:
    """Whether *value* is of the contract type *hint* (see the module docstring)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return any(type(value) is type(v) and value == v for v in typing.get_args(hint))
    if origin is not None:  # a union (X | Y)
        return any(_matches(value, h) for h in typing.get_args(hint))
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    return isinstance(value, hint)


def contract_problems(name: str, attributes: "Mapping[str, AttrValue]") -> list[str]:
    """What is wrong with an event of *name* carrying *attributes* ([] when it fits).

    One line per problem: an unknown event name, a missing required key, a key
    the contract does not list, a value of the wrong type.
    """
    specs = EVENT_ATTRS.get(name)
    if specs is None:
        return [f"{name}: not an event name of the contract"]
    out = []
    for key, spec in specs.items():
        if spec.required and key not in attributes:
            out.append(f"{name}: missing {key!r}")
    for key, value in attributes.items():
        found = specs.get(key)
        hint: Any
        if found is not None:
            hint = found.type
        elif name == "window":
            probe, _, summary_key = key.partition(".")
            hint = WINDOW_SUMMARY_KEYS.get(summary_key) if probe in _PROBE_TYPES else None
        else:
            hint = None
        if hint is None:
            out.append(f"{name}: {key!r} is not in the contract")
        elif not _matches(value, hint):
            out.append(f"{name}: {key!r}={value!r} is not {hint}")
    return out
