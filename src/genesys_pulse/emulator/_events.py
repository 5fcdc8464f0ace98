"""Topic event generators for the emulator's streaming socket.

Only topics with a generator produce events; subscribing to any other topic is
accepted but stays silent. Shapes follow ``docs/facts/genesys-cloud.md``
§3-§4: every event is a notification envelope with ``topicName``,
``version``, ``eventBody`` and ``metadata.CorrelationId``.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

__all__ = [
    "event_message",
    "generator_for",
    "heartbeat_message",
    "pong_message",
    "queue_observation",
    "socket_closing_message",
]

_COMPACT = (",", ":")

HEARTBEAT = json.dumps(
    {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}},
    separators=_COMPACT,
)
PONG = json.dumps(
    {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}, separators=_COMPACT
)


def heartbeat_message() -> str:
    """The ``channel.metadata`` "WebSocket Heartbeat" message."""
    return HEARTBEAT


def pong_message() -> str:
    """The ``channel.metadata`` pong answering ``{"message":"ping"}``."""
    return PONG


def socket_closing_message(correlation_id: str | None = None) -> str:
    """The ``v2.system.socket_closing`` warning sent before a scheduled close."""
    return json.dumps(
        {
            "topicName": "v2.system.socket_closing",
            "version": "2",
            "eventBody": {"message": "Socket closing"},
            "metadata": {"CorrelationId": correlation_id or str(uuid.uuid4())},
        },
        separators=_COMPACT,
    )


def event_message(topic: str, body: dict[str, Any], rng: random.Random, version: str = "2") -> str:
    """Wrap ``body`` in the notification envelope for ``topic``."""
    correlation = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return json.dumps(
        {
            "topicName": topic,
            "version": version,
            "eventBody": body,
            "metadata": {"CorrelationId": correlation},
        },
        separators=_COMPACT,
    )


def _iso(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_QUEUE_OBS = re.compile(r"\Av2\.analytics\.queues\.([^.]+)\.observations\Z")

_OBSERVATION_METRICS = ("oAlerting", "oWaiting", "oInteracting", "oOnQueueUsers", "oOffQueueUsers")


def queue_observation(
    queue_id: str, rng: random.Random, now: _dt.datetime | None = None
) -> dict[str, Any]:
    """An ``eventBody`` for ``v2.analytics.queues.{id}.observations``.

    Shaped like the real observation events: ``group`` with the queue id and
    media type, and ``data`` with a point ``interval`` and observation metrics.
    """
    moment = now or _dt.datetime.now(_dt.UTC)
    stamp = _iso(moment)
    return {
        "group": {"queueId": queue_id, "mediaType": rng.choice(("voice", "chat", "email"))},
        "data": [
            {
                "interval": f"{stamp}/{stamp}",
                "metrics": [
                    {"metric": m, "stats": {"count": rng.randint(0, 5)}}
                    for m in _OBSERVATION_METRICS
                ],
            }
        ],
    }


Generator = Callable[[random.Random], dict[str, Any]]


def generator_for(topic: str) -> Generator | None:
    """The event-body generator for ``topic``, or ``None`` when it is silent."""
    match = _QUEUE_OBS.fullmatch(topic)
    if match is not None:
        queue_id = match.group(1)
        return lambda rng: queue_observation(queue_id, rng)
    return None
