"""Hypothesis: 10,000+ generated server messages through the monitor's message path.

The path under test is what the monitor does with every message a Genesys
socket delivers: :meth:`genesys_pulse.monitor._link.Link.on_message`, which
classifies it (``core._messages.parse_server_message`` via the supervisor's
classifier) and hands heartbeats, ``socket_closing`` and channel failures to
the real :class:`GenesysSupervisor` / :class:`TargetProbe` (statistics,
thresholds, events). Inputs are Genesys-shaped JSON objects, then mutated
(truncated, spliced, bytes flipped, re-encoded as invalid UTF-8, nested deeply,
padded past 64 KiB).

Properties: nothing raises; every input is either recognised (pong,
heartbeat, socket_closing, channel failure -- each with its visible effect) or
counted as an ignored message, and every rejection carries a reason
(``Malformed.reason`` / ``Unknown.raw``).
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_pulse.core import _messages as msgs
from genesys_pulse.core.config import parse_config
from genesys_pulse.core.model import Event, Sample
from genesys_pulse.monitor import Dispatcher
from genesys_pulse.monitor._genesys_supervisor import GenesysSupervisor
from genesys_pulse.monitor._link import Link
from genesys_pulse.monitor._looplag import LoopLag
from genesys_pulse.monitor._target import TargetProbe

EXAMPLES = 10_000

TOPICS = [
    "channel.metadata",
    "v2.system.socket_closing",
    "v2.users.0a1b2c3d.presence",
    "v2.analytics.queues.q1.observations",
    "v2.system.no_longer_subscribed",
    "",
    "CHANNEL.METADATA",
]
MESSAGES = [
    "pong",
    "WebSocket Heartbeat",
    " PONG ",
    "websocket heartbeat\n",
    "ping",
    "",
    "Socket closing",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
event_body = st.one_of(
    st.fixed_dictionaries({"message": st.one_of(st.sampled_from(MESSAGES), json_scalars)}),
    json_values,
)
notification = st.fixed_dictionaries(
    {"topicName": st.one_of(st.sampled_from(TOPICS), st.text(max_size=30), json_scalars)},
    optional={
        "eventBody": event_body,
        "version": st.sampled_from(["2", 2, None]),
        "metadata": st.fixed_dictionaries({"CorrelationId": st.text(max_size=12)}),
    },
)
result_message = st.fixed_dictionaries(
    {"result": st.one_of(st.sampled_from(["200", "400", "404", "500"]), json_scalars)},
    optional={
        "status": st.one_of(st.sampled_from(["subscribed", "failure", "error"]), json_scalars),
        "correlationId": st.one_of(st.text(max_size=12), json_scalars),
        "message": st.one_of(st.text(max_size=40), json_scalars),
    },
)
genesys_object = st.one_of(
    notification, result_message, st.dictionaries(st.text(max_size=10), json_values, max_size=4)
)

HUGE = "x" * 70_000
CANONICAL = [
    '{"topicName":"channel.metadata","eventBody":{"message":"pong"}}',
    '{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}',
    '{"topicName": "channel.metadata", "eventBody": {"message": " Pong "}, "version": "2"}',
    '{"topicName":"channel.metadata","eventBody":{"message":"websocket heartbeat"},"metadata":{}}',
    '{"topicName":"v2.system.socket_closing","version":"2","eventBody":{"message":"Socket closing"}}',
    '{"result":"404","message":"channel expired"}',
    '{"result":"200","status":"subscribed","correlationId":"abc123"}',
    '{"result":"400","status":"failure","message":"bad topic"}',
]


@st.composite
def mutated(draw: st.DrawFn) -> str | bytes:
    """A Genesys-shaped message (a canonical one or a generated object), then mutated."""
    if draw(st.booleans()):
        text = draw(st.sampled_from(CANONICAL))
    else:
        obj = draw(genesys_object)
        sep = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
        text = json.dumps(obj, allow_nan=True, separators=sep)
    mutation = draw(
        st.sampled_from(
            [
                "none",
                "none",
                "truncate",
                "splice",
                "flip",
                "nest",
                "pad",
                "array",
                "bytes",
                "badutf8",
            ]
        )
    )
    if mutation == "truncate" and text:
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif mutation == "splice":
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.text(max_size=5)) + text[i:]
    elif mutation == "flip" and text:
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + chr(draw(st.integers(0, 0xD7FF))) + text[i + 1 :]
    elif mutation == "nest":
        depth = draw(st.sampled_from([10, 1000, 100_000]))
        text = (
            "[" * depth + "]" * depth
            if draw(st.booleans())
            else '{"a":' * depth + "1" + "}" * depth
        )
    elif mutation == "pad":
        text = text[:-1] + ',"pad":"' + HUGE + '"}' if text.endswith("}") else text + HUGE
    elif mutation == "array":
        text = "[" + text + "]"
    if mutation == "bytes":
        return text.encode()
    if mutation == "badutf8":
        raw = text.encode()
        i = draw(st.integers(0, len(raw)))
        return (
            raw[:i]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00\xfe"]))
            + raw[i:]
        )
    return text


messages = st.one_of(st.sampled_from(CANONICAL), mutated())


class _FakeWs:
    is_open = True
    close_info = None


class _Count:
    def __init__(self) -> None:
        self.samples = 0
        self.events: dict[str, int] = {}

    def on_sample(self, sample: Sample) -> None:
        self.samples += 1

    def on_event(self, event: Event) -> None:
        self.events[event.name] = self.events.get(event.name, 0) + 1


async def test_generated_server_messages_never_break_the_monitor() -> None:
    config = parse_config(
        {
            "targets": [
                {
                    "id": "fuzz-target",
                    "kind": "genesys",
                    "login_url": "http://127.0.0.1:1",
                    "api_url": "http://127.0.0.1:1",
                    "client_id": "fuzz",
                }
            ]
        },
        {"GENESYS_CLOUD_CLIENT_SECRET": "fuzz-secret"},
    )
    tc = config.targets[0]
    sink = _Count()
    dispatcher = Dispatcher([sink])
    probe = TargetProbe(
        tc, phase=0.0, dispatcher=dispatcher, looplag=LoopLag(), window=60.0, heartbeats=True
    )
    sup = GenesysSupervisor(
        probe,
        connector=None,
        rng=random.Random(0),
        wall_anchor=(0.0, 0.0),  # type: ignore[arg-type]
    )
    state: dict[str, Any] = {"link": None, "t": trio.current_time(), "gen": 0}
    tally: dict[str, int] = {}

    def fresh_link() -> Link:
        state["gen"] += 1
        link = Link(
            _FakeWs(),  # type: ignore[arg-type]
            state["gen"],
            opened_at=state["t"],
            timeout=tc.timeout,
            classify=sup._classify,
            owner=sup,
            channel_id="fuzz-channel",
        )
        probe.install_link(link)
        return link

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(messages)
    def feed(data: str | bytes) -> None:
        link: Link = state["link"]
        if link is None or link.dead.is_set():
            link = state["link"] = fresh_link()
        state["t"] += 0.001
        parsed = msgs.parse_server_message(data)
        kind = type(parsed).__name__
        tally[kind] = tally.get(kind, 0) + 1
        before = (link.other_messages, link.heartbeats, link.socket_closing, link.late_pongs)
        link.on_message(data, state["t"])  # must never raise
        # every input has a visible, explained outcome
        if isinstance(parsed, msgs.Malformed):
            assert parsed.reason, data
            assert link.other_messages == before[0] + 1
        elif isinstance(parsed, msgs.Unknown | msgs.Notification | msgs.SubscribeAck):
            assert link.other_messages == before[0] + 1
            if isinstance(parsed, msgs.Unknown):
                assert parsed.raw is not None
        elif isinstance(parsed, msgs.Heartbeat):
            assert link.heartbeats == before[1] + 1
        elif isinstance(parsed, msgs.SocketClosing):
            assert link.socket_closing
        elif isinstance(parsed, msgs.ChannelFailure):
            assert link.dead.is_set() and link.dead_reason == "channel_failure"
            assert link.channel_gone
        else:
            assert isinstance(parsed, msgs.Pong)

    feed()
    total = sum(tally.values())
    print(
        f"\nfuzzed {total} server messages through Link.on_message: {tally}; "
        f"events {sink.events}; links used {state['gen']}",
        file=sys.stderr,
    )
    assert total >= EXAMPLES
    # the generator reaches every outcome
    for kind in ("Malformed", "Unknown", "Notification", "Heartbeat", "Pong", "ChannelFailure"):
        assert tally.get(kind, 0) > 0, (kind, tally)
