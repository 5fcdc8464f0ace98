"""The emulator's in-memory world: clients, tokens, channels, subscriptions.

Nothing here does I/O or reads a clock: every method that depends on time
takes ``now`` (a ``trio.current_time()`` value). The only trio objects are the
:class:`trio.Event` of each channel, which the streaming side waits on.
"""

from __future__ import annotations

import fnmatch
import math
import random
import secrets
import string
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trio

from ._settings import EmulatorSettings

__all__ = [
    "ChannelState",
    "ChannelTopic",
    "EmulatorState",
    "RateWindow",
    "SubscriptionError",
    "TokenInfo",
]

_ID_ALPHABET = string.ascii_lowercase + string.digits
_RATE_WINDOW = 60.0
_MAX_RATE_WINDOWS = 10_000


class SubscriptionError(Exception):
    """A subscription request the real service refuses as a whole.

    Attributes:
      status: HTTP status (400 or 403).
      code: Genesys error code (``bad.request``, ``forbidden``, ...).
      message: Human readable text, as it goes into the JSON body.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class TokenInfo:
    """An issued access token. The value itself is never in the repr."""

    value: str = field(repr=False)
    client_id: str
    issued_at: float
    expires_at: float

    def valid(self, now: float) -> bool:
        """Whether the token is still accepted at ``now``."""
        return now < self.expires_at


@dataclass
class RateWindow:
    """A fixed one-minute request window (what ``inin-ratelimit-*`` report)."""

    started_at: float
    count: int = 0

    def reset_in(self, now: float) -> int:
        """Whole seconds until the window resets (at least 1)."""
        return max(1, math.ceil(self.started_at + _RATE_WINDOW - now))


@dataclass
class ChannelTopic:
    """One subscription of a channel, as the ``ChannelTopic`` model.

    Attributes:
      id: The topic string.
      state: ``"Permitted"`` or ``"Rejected"``.
      rejection_reason: Why a topic was rejected.
      missing_permissions: Permissions the client lacks for a rejected topic.
    """

    id: str
    state: str = "Permitted"
    rejection_reason: str | None = None
    missing_permissions: list[str] = field(default_factory=list)

    def to_json(self, channel_id: str) -> dict[str, Any]:
        """The camelCase JSON object of the ``ChannelTopic`` model."""
        out: dict[str, Any] = {"id": self.id, "state": self.state}
        if self.rejection_reason is not None:
            out["rejectionReason"] = self.rejection_reason
        if self.missing_permissions:
            out["missingPermissions"] = list(self.missing_permissions)
        out["selfUri"] = f"/api/v2/notifications/channels/{channel_id}/subscriptions"
        return out


@dataclass(eq=False)
class ChannelState:
    """A notification channel.

    Attributes:
      id: ``streaming-<n>-<26 lowercase alphanumerics>``.
      client_id: OAuth client that created it.
      connect_uri: ``ws://HOST:PORT/channels/{id}``.
      created_at: ``trio.current_time()`` of creation.
      expires_at: When the channel closes; moved to ``now + channel_ttl`` by
        every (re)subscription, REST or socket.
      topics: Subscribed topics in subscription order.
      last_used: Last creation, subscription or socket activity.
      session: The active socket (set by the streaming side), or ``None``.
      closed: Set once the channel is gone (expired, evicted or replaced);
        ``close_reason`` says why. Expiry is detected lazily: use
        :meth:`wait_closed` to wait for it.
    """

    id: str
    client_id: str
    connect_uri: str
    created_at: float
    expires_at: float
    token: str = field(repr=False)
    topics: dict[str, ChannelTopic] = field(default_factory=dict)
    last_used: float = 0.0
    session: object | None = None
    closed: trio.Event = field(default_factory=trio.Event, repr=False)
    close_reason: str | None = None

    def is_open(self, now: float) -> bool:
        """Whether the channel exists and has not expired at ``now``."""
        return not self.closed.is_set() and now < self.expires_at

    def close(self, reason: str) -> None:
        """Mark the channel gone (idempotent; the first reason wins)."""
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()

    async def wait_closed(self) -> str:
        """Wait until the channel expires or is removed; return the reason.

        ``expires_at`` may move forward while waiting (re-subscription); the
        wait follows it.
        """
        while not self.closed.is_set():
            with trio.move_on_at(self.expires_at):
                await self.closed.wait()
            if trio.current_time() >= self.expires_at:
                self.close("expired")
        return self.close_reason or "closed"


class EmulatorState:
    """Clients, tokens and channels of one emulator, with the real limits.

    Args:
      settings: The emulator settings.
      rng: Random source for channel ids and correlation ids.
      api_url: Base URL for ``selfUri`` values.
      ws_url: Base URL of ``connectUri`` values (``ws://HOST:PORT``).
      clock_origin: ``trio.current_time()`` matching ``wall_origin``; used to
        render trio times as ISO-8601 ``expires`` values.
      wall_origin: ``time.time()`` at ``clock_origin``.
    """

    def __init__(
        self,
        settings: EmulatorSettings,
        rng: random.Random,
        *,
        api_url: str,
        ws_url: str,
        clock_origin: float,
        wall_origin: float | None = None,
    ) -> None:
        self.settings = settings
        self.rng = rng
        self.api_url = api_url
        self.ws_url = ws_url
        self._clock_origin = clock_origin
        self._wall_origin = time.time() if wall_origin is None else wall_origin
        self.clients: dict[str, str] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.channels: dict[str, ChannelState] = {}
        self.rate_windows: dict[str, RateWindow] = {}
        self.evicted: list[str] = []
        self.evictions: list[tuple[str, str]] = []
        """``(evicted channel id, token whose channel creation evicted it)``, in order."""
        self.channels_created = 0
        """Channels created since start (``POST /api/v2/notifications/channels``)."""
        self._channel_counter = rng.randrange(0, 10)

    # -- clients and tokens -------------------------------------------------

    def add_client(self, client_id: str, client_secret: str) -> None:
        """Register an OAuth client that may log in."""
        self.clients[client_id] = client_secret

    def authenticate(self, client_id: str, client_secret: str) -> bool:
        """Check client credentials in constant time."""
        expected = self.clients.get(client_id)
        if expected is None:
            secrets.compare_digest(client_secret.encode(), client_secret.encode())
            return False
        return secrets.compare_digest(expected.encode(), client_secret.encode())

    def issue_token(self, client_id: str, now: float) -> TokenInfo:
        """Issue an opaque access token valid for ``settings.token_ttl``."""
        self._purge_tokens(now)
        value = secrets.token_urlsafe(64)
        info = TokenInfo(value, client_id, now, now + self.settings.token_ttl)
        self.tokens[value] = info
        return info

    def check_token(self, value: str, now: float) -> TokenInfo | None:
        """The token's info if it is known and unexpired, else ``None``."""
        info = self.tokens.get(value)
        if info is None or not info.valid(now):
            return None
        return info

    def _purge_tokens(self, now: float) -> None:
        # Keep expired tokens for one extra TTL so they are rejected as expired,
        # not leaked forever.
        horizon = now - self.settings.token_ttl
        for value in [v for v, t in self.tokens.items() if t.expires_at < horizon]:
            del self.tokens[value]
            self.rate_windows.pop(value, None)

    # -- rate limiting ------------------------------------------------------

    def take_rate(self, key: str, limit: int | None, now: float) -> tuple[bool, RateWindow]:
        """Count one request against ``key``'s one-minute window.

        Returns ``(allowed, window)``; a refused request is not counted.
        ``limit=None`` never refuses.
        """
        window = self.rate_windows.get(key)
        if window is None and len(self.rate_windows) >= _MAX_RATE_WINDOWS:
            # Bound memory against clients spraying ids: forget finished windows.
            for stale in [
                k for k, w in self.rate_windows.items() if now >= w.started_at + _RATE_WINDOW
            ]:
                del self.rate_windows[stale]
        if window is None or now >= window.started_at + _RATE_WINDOW:
            window = RateWindow(started_at=now)
            self.rate_windows[key] = window
        if limit is not None and window.count >= limit:
            return False, window
        window.count += 1
        return True, window

    # -- channels -----------------------------------------------------------

    def wall_time(self, at: float) -> datetime:
        """The wall-clock time corresponding to trio time ``at``."""
        return datetime.fromtimestamp(self._wall_origin + (at - self._clock_origin), tz=UTC)

    def iso(self, at: float) -> str:
        """``at`` as the service writes datetimes: ``2020-08-12T12:41:54.707Z``."""
        text = self.wall_time(at).strftime("%Y-%m-%dT%H:%M:%S.%f")
        return text[:-3] + "Z"

    def _new_channel_id(self) -> str:
        self._channel_counter += 1
        suffix = "".join(self.rng.choice(_ID_ALPHABET) for _ in range(26))
        return f"streaming-{self._channel_counter % 10}-{suffix}"

    def _purge_channels(self, now: float) -> None:
        for channel in list(self.channels.values()):
            if not channel.is_open(now):
                channel.close("expired")
                del self.channels[channel.id]

    def create_channel(self, token: TokenInfo, now: float) -> ChannelState:
        """Create a channel for ``token``'s client, evicting if at the limit.

        At ``settings.max_channels`` channels, the oldest channel (by last use)
        without an active connection is removed; if all are connected, the
        oldest by last use is.
        """
        self._purge_channels(now)
        own = [c for c in self.channels.values() if c.client_id == token.client_id]
        while len(own) >= self.settings.max_channels:
            idle = [c for c in own if c.session is None]
            victim = min(idle or own, key=lambda c: (c.last_used, c.created_at))
            self.evictions.append((victim.id, token.value))
            self.remove_channel(victim, "evicted")
            own.remove(victim)
        channel_id = self._new_channel_id()
        while channel_id in self.channels:
            channel_id = self._new_channel_id()
        channel = ChannelState(
            id=channel_id,
            client_id=token.client_id,
            connect_uri=f"{self.ws_url}/channels/{channel_id}",
            created_at=now,
            expires_at=now + self.settings.channel_ttl,
            token=token.value,
            last_used=now,
        )
        self.channels[channel_id] = channel
        self.channels_created += 1
        return channel

    def remove_channel(self, channel: ChannelState, reason: str) -> None:
        """Remove a channel and wake whoever waits for its end.

        An evicted channel's active socket is told to disconnect (through its
        ``disconnect(code, reason)`` method, if the session has one).
        """
        if self.channels.get(channel.id) is channel:
            del self.channels[channel.id]
        if reason == "evicted":
            self.evicted.append(channel.id)
            disconnect = getattr(channel.session, "disconnect", None)
            if callable(disconnect):
                disconnect(1000, "channel evicted")
        channel.close(reason)

    def get_channel(self, channel_id: str, now: float) -> ChannelState | None:
        """The open channel with this id, or ``None`` (unknown or expired)."""
        channel = self.channels.get(channel_id)
        if channel is None:
            return None
        if not channel.is_open(now):
            self.remove_channel(channel, "expired")
            return None
        return channel

    def list_channels(self, token: TokenInfo, include: str, now: float) -> list[ChannelState]:
        """Open channels of the token (``include="token"``) or of its client."""
        self._purge_channels(now)
        if include == "oauthclient":
            return [c for c in self.channels.values() if c.client_id == token.client_id]
        return [c for c in self.channels.values() if c.token == token.value]

    def channel_json(self, channel: ChannelState) -> dict[str, Any]:
        """The camelCase JSON object of the ``Channel`` model."""
        return {
            "connectUri": channel.connect_uri,
            "id": channel.id,
            "expires": self.iso(channel.expires_at),
        }

    # -- sessions (called by the streaming side) ----------------------------

    def attach_session(self, channel: ChannelState, session: object) -> object | None:
        """Make ``session`` the channel's socket; return the one it replaces.

        The caller closes the returned previous session (a second socket on a
        channel disconnects the first).
        """
        previous = channel.session
        channel.session = session
        return previous if previous is not session else None

    def detach_session(self, channel: ChannelState, session: object) -> None:
        """Forget ``session`` if it is still the channel's active socket."""
        if channel.session is session:
            channel.session = None

    def touch(self, channel: ChannelState, now: float) -> None:
        """Record use of a channel (affects which channel is evicted)."""
        channel.last_used = max(channel.last_used, now)

    # -- subscriptions ------------------------------------------------------

    def is_forbidden(self, topic: str) -> bool:
        """Whether ``topic`` matches one of ``settings.forbidden_topics``."""
        return any(fnmatch.fnmatchcase(topic, p) for p in self.settings.forbidden_topics)

    def _validate_topics(self, topics: Sequence[str]) -> None:
        for topic in topics:
            if not isinstance(topic, str) or not topic.strip():
                raise SubscriptionError(400, "bad.request", "Topic id must be a non-empty string")
            if len(topic) > self.settings.max_topic_length:
                raise SubscriptionError(
                    400,
                    "bad.request",
                    f"Topic name is longer than {self.settings.max_topic_length} characters",
                )

    def add_topics(
        self,
        channel: ChannelState,
        topics: Sequence[str],
        replace: bool,
        ignore_errors: bool,
        now: float,
    ) -> list[dict[str, Any]]:
        """Subscribe ``channel`` to ``topics`` (PUT: ``replace``; POST: add).

        Forbidden topics make the whole request a 403 unless ``ignore_errors``,
        in which case they come back ``Rejected`` and are not subscribed. More
        than ``max_topics`` resulting topics is a 400. A success moves
        ``expires_at`` to ``now + channel_ttl``.

        Returns:
          The ``ChannelTopic`` JSON objects: every subscribed topic of the
          channel, followed by the rejected ones of this request.

        Raises:
          SubscriptionError: the request is refused as a whole.
        """
        self._validate_topics(topics)
        unique = list(dict.fromkeys(topics))
        forbidden = [t for t in unique if self.is_forbidden(t)]
        if forbidden and not ignore_errors:
            raise SubscriptionError(
                403,
                "missing.any.permissions",
                f"Unable to subscribe to topic(s) {', '.join(forbidden)}: missing permissions",
            )
        permitted = [t for t in unique if t not in forbidden]
        base: dict[str, ChannelTopic] = {} if replace else dict(channel.topics)
        for topic in permitted:
            base.setdefault(topic, ChannelTopic(topic))
        if len(base) > self.settings.max_topics:
            raise SubscriptionError(
                400,
                "bad.request",
                f"Too many topics. The maximum number of topics per channel is {self.settings.max_topics}",
            )
        channel.topics = base
        channel.expires_at = now + self.settings.channel_ttl
        self.touch(channel, now)
        out = [t.to_json(channel.id) for t in channel.topics.values()]
        for topic in forbidden:
            rejected = ChannelTopic(
                topic,
                state="Rejected",
                rejection_reason="Missing permissions",
                missing_permissions=["wfm:agentAdherence:view"],
            )
            out.append(rejected.to_json(channel.id))
        return out

    def remove_topics(self, channel: ChannelState, topics: Iterable[str], now: float) -> None:
        """Unsubscribe ``channel`` from ``topics`` (unknown ones are ignored)."""
        for topic in topics:
            channel.topics.pop(topic, None)
        self.touch(channel, now)

    def clear_topics(self, channel: ChannelState, now: float) -> None:
        """Remove every subscription of ``channel`` (REST DELETE)."""
        channel.topics.clear()
        self.touch(channel, now)

    def topics_json(self, channel: ChannelState) -> list[dict[str, Any]]:
        """The channel's subscriptions as ``ChannelTopic`` JSON objects."""
        return [t.to_json(channel.id) for t in channel.topics.values()]
