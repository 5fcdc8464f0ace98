"""Genesys Cloud notification-socket messages, sans I/O.

:func:`parse_server_message` turns one WebSocket message (text or binary)
into one typed value and never raises. Shapes (see
``docs/facts/genesys-cloud.md`` §3):

* heartbeat: ``{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}``
  (message compared case-insensitively, surrounding blanks ignored) -> :class:`Heartbeat`
* pong: ``{"topicName":"channel.metadata","eventBody":{"message":"pong"}}`` -> :class:`Pong`
* ``{"topicName":"v2.system.socket_closing",...}`` -> :class:`SocketClosing`
* any other ``topicName`` -> :class:`Notification`
* subscribe acknowledgement: ``{"result":"200","status":"subscribed","correlationId":"abc"}``
  and its failures ``{"result":"400","status":"failure"|"error","message":...}``:
  an object with ``result`` and (``status`` or ``correlationId``) -> :class:`SubscribeAck`
  (check :attr:`SubscribeAck.ok`)
* channel failure: ``{"result":"404","message":"..."}`` (``result`` without
  ``status``/``correlationId``) -> :class:`ChannelFailure`
* any other JSON object -> :class:`Unknown`; anything that is not a JSON
  object (bad UTF-8, bad JSON, arrays, scalars, too deep, too large) ->
  :class:`Malformed`.

The canonical heartbeat and pong texts are recognised by an exact string
comparison before any JSON decoding and return shared instances, so the two
messages the probing path sees most cost no allocation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "APP_PING",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "ChannelFailure",
    "Heartbeat",
    "Malformed",
    "Notification",
    "Pong",
    "ServerMessage",
    "SocketClosing",
    "SubscribeAck",
    "Unknown",
    "app_ping_message",
    "parse_server_message",
    "subscribe_message",
]

DEFAULT_MAX_MESSAGE_SIZE = 65536
"""Default ``max_size`` of :func:`parse_server_message` (64 KiB)."""

METADATA_TOPIC = "channel.metadata"
SOCKET_CLOSING_TOPIC = "v2.system.socket_closing"
_EXCERPT = 200

APP_PING = '{"message":"ping"}'
"""The Genesys application-level health-check ping (Java SDK ``sendPing()``)."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The server's periodic ``channel.metadata`` "WebSocket Heartbeat"."""


@dataclass(frozen=True, slots=True)
class Pong:
    """The ``channel.metadata`` "pong" answering an application ping (no correlation id)."""


@dataclass(frozen=True, slots=True)
class SocketClosing:
    """``v2.system.socket_closing``: the server will close this socket in about a minute."""

    body: object = None


@dataclass(frozen=True, slots=True)
class SubscribeAck:
    """Answer to a WebSocket ``subscribe``/``unsubscribe`` message."""

    result: str
    status: str | None
    correlation_id: str | None

    @property
    def ok(self) -> bool:
        """True for a 2xx ``result``."""
        return self.result.startswith("2")


@dataclass(frozen=True, slots=True)
class ChannelFailure:
    """``{"result":"404","message":...}``: channel expired, replaced, or its token expired."""

    result: str
    message: str | None


@dataclass(frozen=True, slots=True)
class Notification:
    """A topic notification (``topicName``, ``eventBody``)."""

    topic: str
    body: object


@dataclass(frozen=True, slots=True)
class Unknown:
    """A JSON object of no known shape; ``raw`` is an excerpt (first 200 characters)."""

    raw: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """Input that is not a JSON object within limits; ``reason`` says why."""

    reason: str


ServerMessage = (
    Heartbeat
    | Pong
    | SocketClosing
    | SubscribeAck
    | ChannelFailure
    | Notification
    | Unknown
    | Malformed
)

HEARTBEAT = Heartbeat()
PONG = Pong()

_FAST: dict[str, ServerMessage] = {
    '{"topicName":"channel.metadata","eventBody":{"message":"pong"}}': PONG,
    '{"topicName": "channel.metadata", "eventBody": {"message": "pong"}}': PONG,
    '{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}': HEARTBEAT,
    '{"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}': HEARTBEAT,
}


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return None


def parse_server_message(
    data: str | bytes, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE
) -> ServerMessage:
    """Classify one message from the notification socket. Never raises.

    Args:
      data: the message as received (text frame as ``str``, binary as ``bytes``).
      max_size: larger inputs are :class:`Malformed` without being decoded
        (counted in characters for ``str``, bytes for ``bytes``).
    """
    try:
        return _parse(data, max_size)
    except Exception as exc:  # pragma: no cover - defensive: the contract is "never raises"
        return Malformed(f"unexpected {type(exc).__name__}")


def _parse(data: str | bytes, max_size: int) -> ServerMessage:
    if isinstance(data, str):
        fast = _FAST.get(data)
        if fast is not None:
            return fast
        if len(data) > max_size:
            return Malformed(f"too large: {len(data)} > {max_size}")
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        if len(data) > max_size:
            return Malformed(f"too large: {len(data)} > {max_size}")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            return Malformed("not UTF-8")
        fast = _FAST.get(text)
        if fast is not None:
            return fast
    else:
        return Malformed(f"unsupported type {type(data).__name__}")
    try:
        obj = json.loads(text)
    except RecursionError:
        return Malformed("JSON nested too deeply")
    except ValueError:
        return Malformed("not JSON")
    if not isinstance(obj, dict):
        return Malformed("not a JSON object")
    topic = obj.get("topicName")
    if isinstance(topic, str):
        body = obj.get("eventBody")
        if topic == METADATA_TOPIC:
            message = body.get("message") if isinstance(body, dict) else None
            if isinstance(message, str):
                m = message.strip().lower()
                if m == "pong":
                    return PONG
                if m == "websocket heartbeat":
                    return HEARTBEAT
            return Notification(topic, body)
        if topic == SOCKET_CLOSING_TOPIC:
            return SocketClosing(body)
        return Notification(topic, body)
    if "result" in obj:
        result = _str_or_none(obj.get("result"))
        if result is not None:
            if "status" in obj or "correlationId" in obj:
                return SubscribeAck(
                    result, _str_or_none(obj.get("status")), _str_or_none(obj.get("correlationId"))
                )
            if result.isascii() and result.isdigit() and 400 <= int(result) <= 599:
                # Only an error result means the channel is gone; a bare
                # {"result":"200"} (or a non-numeric one) is not a failure.
                return ChannelFailure(result, _str_or_none(obj.get("message")))
    return Unknown(text[:_EXCERPT])


def app_ping_message() -> str:
    """The application-level ping text: ``{"message":"ping"}``."""
    return APP_PING


def subscribe_message(topics: Iterable[str], correlation_id: str | None = None) -> str:
    """``{"message":"subscribe","topics":[...],"correlationId":...}`` (topics as strings)."""
    payload: dict[str, object] = {"message": "subscribe", "topics": list(topics)}
    if correlation_id is not None:
        payload["correlationId"] = correlation_id
    return json.dumps(payload, separators=(",", ":"))
