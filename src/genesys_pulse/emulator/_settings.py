"""Tunable behaviour of the Genesys Cloud emulator.

Every default mirrors the real service where it is known (see
``docs/facts/genesys-cloud.md``); behaviour the reference marks as
unverified is a setting rather than a guess baked into code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["EmulatorSettings"]


@dataclass(frozen=True)
class EmulatorSettings:
    """Settings of one emulator instance.

    All durations are in seconds of ``trio.current_time()``, so they follow a
    :class:`trio.testing.MockClock` in tests.

    Attributes:
      heartbeat_period: Period of the ``channel.metadata`` "WebSocket Heartbeat"
        message on a streaming socket (real service: about 30 s).
      token_ttl: Lifetime of an access token, reported as ``expires_in``
        (real default 86400; Genesys allows 300-172800, the emulator allows
        any positive value so tests can use short ones).
      channel_ttl: How long a channel lives after its creation or its last
        (re)subscription (real: 24 h).
      socket_closing_lead: How long before a scheduled close the streaming side
        sends ``v2.system.socket_closing`` (real: about one minute).
      control_pongs: Whether RFC 6455 control pings are answered.
      max_channels: Channels per OAuth client (real: 20); creating one more
        evicts the oldest channel without an active connection.
      max_topics: Topics per channel (real: 1000); more is answered with 400.
      max_topic_length: Longest accepted topic name (streaming client: 200).
      rate_limit_per_minute: Requests per token per minute (real default 300);
        more is answered with 429 and ``Retry-After``.
      login_rate_limit_per_minute: Token requests per client id per minute, or
        ``None`` for no limit (the real figure is unknown).
      max_body: Largest accepted request body in bytes (real
        ``request.bytes.max`` 512000); larger is answered with 413.
      max_ws_message: Largest WebSocket message the streaming side accepts.
      event_rate: Topic events per second per subscribed analytics topic.
      seed: Seed of the emulator's random generator (``None``: random).
      forbidden_topics: ``fnmatch`` patterns of topics the client may not see:
        subscribing to one is a 403 for the whole request unless
        ``ignoreErrors=true``, which reports it as ``Rejected`` instead.
      idle_timeout: How long a keep-alive HTTP connection may sit idle
        between requests before the emulator closes it.
      request_timeout: How long the emulator waits for the rest of a request
        once it has started, and for a response to be written.
      expired_upgrade_status: HTTP status of a WebSocket upgrade to an unknown
        or expired channel (404; the real behaviour is unverified).
    """

    heartbeat_period: float = 30.0
    token_ttl: int = 86400
    channel_ttl: float = 86400.0
    socket_closing_lead: float = 60.0
    control_pongs: bool = True
    max_channels: int = 20
    max_topics: int = 1000
    max_topic_length: int = 200
    rate_limit_per_minute: int = 300
    login_rate_limit_per_minute: int | None = None
    max_body: int = 512000
    max_ws_message: int = 65536
    event_rate: float = 1.0
    seed: int | None = None
    forbidden_topics: tuple[str, ...] = ("v2.users.*.workforcemanagement.adherence",)
    idle_timeout: float = 120.0
    request_timeout: float = 30.0
    expired_upgrade_status: int = 404

    def __post_init__(self) -> None:
        positive = (
            "heartbeat_period",
            "token_ttl",
            "channel_ttl",
            "max_channels",
            "max_topics",
            "max_topic_length",
            "rate_limit_per_minute",
            "max_body",
            "max_ws_message",
            "idle_timeout",
            "request_timeout",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(f"EmulatorSettings.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"EmulatorSettings.{name} must be positive and finite, got {value!r}"
                )
        if self.socket_closing_lead < 0 or self.event_rate < 0:
            raise ValueError("socket_closing_lead and event_rate must not be negative")
        if self.login_rate_limit_per_minute is not None and self.login_rate_limit_per_minute <= 0:
            raise ValueError("login_rate_limit_per_minute must be positive or None")
        if not 400 <= self.expired_upgrade_status <= 499:
            raise ValueError("expired_upgrade_status must be a 4xx status")
        if isinstance(self.forbidden_topics, str):
            raise TypeError("forbidden_topics must be a tuple of patterns, not a string")
        object.__setattr__(self, "forbidden_topics", tuple(self.forbidden_topics))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all settings, in declaration order."""
        return tuple(f.name for f in fields(cls))
