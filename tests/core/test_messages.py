"""Genesys socket message parsing: every shape, and never an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesys_pulse.core._messages import (
    ChannelFailure,
    Heartbeat,
    Malformed,
    Notification,
    Pong,
    ServerMessage,
    SocketClosing,
    SubscribeAck,
    Unknown,
    app_ping_message,
    parse_server_message,
    subscribe_message,
)

HEARTBEAT = '{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}'
PONG = '{"topicName":"channel.metadata","eventBody":{"message":"pong"}}'


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (HEARTBEAT, Heartbeat()),
        (HEARTBEAT.encode(), Heartbeat()),
        (
            '{"topicName":"channel.metadata","version":"2",'
            '"eventBody":{"message":" websocket HEARTBEAT "},"metadata":{"CorrelationId":"x"}}',
            Heartbeat(),
        ),
        (PONG, Pong()),
        ('{ "eventBody" : {"message":"PONG"}, "topicName":"channel.metadata"}', Pong()),
        (
            '{"topicName":"v2.system.socket_closing","version":"2",'
            '"eventBody":{"message":"Socket closing"},"metadata":{"CorrelationId":"u"}}',
            SocketClosing({"message": "Socket closing"}),
        ),
        (
            '{"result":"200","status":"subscribed","correlationId":"abc123"}',
            SubscribeAck("200", "subscribed", "abc123"),
        ),
        (
            '{"result":"400","status":"failure","message":"bad topic"}',
            SubscribeAck("400", "failure", None),
        ),
        ('{"result":404,"message":"channel expired"}', ChannelFailure("404", "channel expired")),
        ('{"result":"404"}', ChannelFailure("404", None)),
        ('{"result":"503","message":"unavailable"}', ChannelFailure("503", "unavailable")),
        ('{"result":"200"}', Unknown('{"result":"200"}')),
        ('{"result":true}', Unknown('{"result":true}')),
        ('{"result":"4x4"}', Unknown('{"result":"4x4"}')),
        (
            '{"topicName":"v2.users.u1.presence","eventBody":{"source":"PURECLOUD"}}',
            Notification("v2.users.u1.presence", {"source": "PURECLOUD"}),
        ),
        (
            '{"topicName":"channel.metadata","eventBody":{"message":"something else"}}',
            Notification("channel.metadata", {"message": "something else"}),
        ),
        ('{"hello":"world"}', Unknown('{"hello":"world"}')),
        ('{"topicName":7}', Unknown('{"topicName":7}')),
        ("[1,2,3]", Malformed("not a JSON object")),
        ('"pong"', Malformed("not a JSON object")),
        ("null", Malformed("not a JSON object")),
        ("{not json", Malformed("not JSON")),
        ("", Malformed("not JSON")),
        (b"\xff\xfe{}", Malformed("not UTF-8")),
    ],
)
def test_shapes(raw: str | bytes, expected: ServerMessage) -> None:
    assert parse_server_message(raw) == expected


def test_subscribe_ack_ok() -> None:
    ack = parse_server_message('{"result":"200","status":"subscribed","correlationId":"c"}')
    assert isinstance(ack, SubscribeAck) and ack.ok
    nack = parse_server_message('{"result":"400","status":"error","correlationId":"c"}')
    assert isinstance(nack, SubscribeAck) and not nack.ok


def test_size_limit_is_enforced_before_decoding() -> None:
    big = '{"topicName":"x","eventBody":"' + "a" * 70_000 + '"}'
    assert parse_server_message(big) == Malformed(f"too large: {len(big)} > 65536")
    assert isinstance(parse_server_message(big.encode()), Malformed)
    assert isinstance(parse_server_message(big, max_size=100_000), Notification)
    assert isinstance(parse_server_message(PONG, max_size=10), Pong)  # fast path: a known text


def test_deep_nesting_does_not_raise() -> None:
    assert parse_server_message("[" * 30_000 + "]" * 30_000) == Malformed("JSON nested too deeply")


def test_unknown_excerpt_is_bounded() -> None:
    msg = parse_server_message(json.dumps({"x": "y" * 1000}))
    assert isinstance(msg, Unknown) and len(msg.raw) == 200


def test_canonical_messages_share_instances() -> None:
    assert parse_server_message(PONG) is parse_server_message(PONG)
    assert parse_server_message(HEARTBEAT) is parse_server_message(HEARTBEAT.encode())


def test_builders() -> None:
    assert app_ping_message() == '{"message":"ping"}'
    text = subscribe_message(("v2.a", "v2.b"), "corr-1")
    assert json.loads(text) == {
        "message": "subscribe",
        "topics": ["v2.a", "v2.b"],
        "correlationId": "corr-1",
    }
    assert json.loads(subscribe_message([])) == {"message": "subscribe", "topics": []}


MESSAGE_TYPES = (
    Heartbeat,
    Pong,
    SocketClosing,
    SubscribeAck,
    ChannelFailure,
    Notification,
    Unknown,
    Malformed,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["topicName", "eventBody", "message", "result", "status", "correlationId", "x"]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(parse_server_message(text), MESSAGE_TYPES)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    assert isinstance(parse_server_message(data), MESSAGE_TYPES)


@settings(max_examples=400, deadline=None)
@given(json_values, st.sampled_from(["channel.metadata", "v2.system.socket_closing", "v2.x"]))
def test_arbitrary_json_never_raises(value: object, topic: str) -> None:
    for doc in (value, {"topicName": topic, "eventBody": value}, {"result": value}):
        text = json.dumps(doc)
        assert isinstance(parse_server_message(text), MESSAGE_TYPES)
        assert isinstance(parse_server_message(text.encode()), MESSAGE_TYPES)
