"""The Genesys supervisor: tokens, channels, make-before-break rotation, the two reconnect tiers.

* **Token**: one :class:`~genesys_pulse.genesys.OAuthClient` per target; a
  keeper task asks it for the token when it is due for refresh (the client
  refreshes ahead of expiry); a new token emits ``token.refresh`` and
  requests a rotation, because a channel may be closed when the token that
  created it expires. The probe loop never waits for the token.
  ``AuthRefused`` emits ``token.failed`` and stops the target
  (:class:`TargetAuthRefused`).
* **Rotation is make-before-break**: on ``v2.system.socket_closing``, at
  ``expires - ROTATE_BEFORE_EXPIRY`` of the channel (or half its remaining life
  when that is shorter), and after a token change, the supervisor creates a
  *new* channel (a second socket on the same channel would kick the first
  one off), subscribes, connects, installs the new link as current and only
  then retires the old one: it takes no new probes, keeps reading until its
  in-flight probe is resolved (one timeout), and is closed. If making the new
  connection fails, the old one keeps probing and the rotation is retried with
  backoff.
* **Channel budget** (20 per client): a target holds at most two channels at a
  time (during a rotation). Reconnects after a lost connection reuse the same
  channel (``connectUri``) while it is valid; a new channel is created only
  for rotations and when the old one is gone (upgrade 4xx, channel failure
  message). Genesys has no DELETE for channels: abandoned channels are the
  oldest unconnected ones, which the service evicts first.
* **Reconnect** with core :class:`~genesys_pulse.core.Backoff` (capped,
  jittered, remembered, decayed after a stable period), in two tiers, so that
  the time to notice a recovered endpoint is not measurement error while
  Genesys is still treated politely:

  - the *cheap* attempt -- a WebSocket connect to the channel the target
    already has -- backs off from 1 s to ``reconnect_max_delay`` (default
    5 s, full jitter): recovery is noticed within that bound plus one
    connect;
  - an attempt that needs REST -- creating a channel, logging in -- backs
    off separately, from 1 s to 90 s; a channel is only created when the
    old one is gone, and a token only fetched when needed.

  ``429``/``Retry-After`` is a floor on either delay. ``connection.restored``
  reports ``outage_s`` (loss to restored connection) with
  ``genesys.outage.uncertainty_s``: the time since the last failed attempt, i.e. how
  long the endpoint may already have been back before the monitor saw it.

Its base (:class:`~genesys_pulse.monitor._supervisor._Base`: links, reads, closes,
back-off, failure reports) is shared with the plain WebSocket supervisor.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from genesys_pulse.genesys import AccessToken, Channel, SecretRegistry

from genesys_pulse import core as msgs  # the message types, through the core's face
from genesys_pulse.core import E_CONNECT_PHASE
from genesys_pulse.core.config import CHANNEL_CAP
from genesys_pulse.core.model import EVENT_NAMES, AttrValue
from genesys_pulse.transport import (
    Connector,
    FailureCause,
    HandshakeError,
)

from ._link import Link
from ._supervisor import _Base
from ._target import TargetProbe

__all__ = [
    "ROTATE_BEFORE_EXPIRY",
    "ChannelBudgetExhausted",
    "GenesysSupervisor",
    "TargetAuthRefused",
]

_log = logging.getLogger("genesys_pulse.monitor")


SOCKET_CLOSING_HOLDOFF = 120.0
"""After a ``socket_closing`` rotation, further ``socket_closing`` notices within this
many seconds do not rotate again (the service itself is going down)."""

ROTATE_BEFORE_EXPIRY = 300.0
"""Rotate to a new channel this long before the current one expires."""


_PHASE_OF = {"token.issued": "login", "channel.created": "channel"}
"""The Genesys clients' events that end a connect phase (``genesys.connect.phase``)."""


class ChannelBudgetExhausted(Exception):
    """Creating a channel would leave the OAuth client fewer free slots than the reserve."""

    def __init__(self, count: int, cap: int, reserve: int) -> None:
        super().__init__(
            f"the OAuth client has {count} of {cap} notification channels; creating one "
            f"would leave fewer than the {reserve} kept free (channel_reserve)"
        )
        self.count = count
        self.cap = cap
        self.reserve = reserve


class TargetAuthRefused(Exception):
    """The target's OAuth client was refused (``invalid_client``): the target stopped."""

    def __init__(self, target: str, detail: str) -> None:
        self.target = target
        self.detail = detail
        super().__init__(f"target {target}: authentication refused: {detail}")


def _classify_genesys(data: str | bytes) -> tuple[str, str] | None:
    m = msgs.parse_server_message(data)
    if m is msgs.PONG or isinstance(m, msgs.Pong):
        return ("pong", "")
    if m is msgs.HEARTBEAT or isinstance(m, msgs.Heartbeat):
        return ("heartbeat", "")
    if isinstance(m, msgs.SocketClosing):
        return ("socket_closing", "")
    if isinstance(m, msgs.ChannelFailure):
        return ("channel_failure", m.result)
    return None


class GenesysSupervisor(_Base):
    """Keeps a Genesys Cloud target connected to a notification channel."""

    def __init__(
        self,
        probe: TargetProbe,
        connector: Connector,
        rng: random.Random,
        *,
        wall_anchor: tuple[float, float],
        redactor: SecretRegistry | None = None,
        connect_limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        super().__init__(probe, connector, rng, connect_limiter=connect_limiter)
        self._redactor = redactor
        g = self.cfg.genesys
        assert g is not None
        self.settings = g
        self._rotation: tuple[str, float] | None = None
        self._closing_rotated_at = -float("inf")
        self._closing_reconnected = False
        self._wall_anchor = wall_anchor
        self.token_issued_at: float | None = None
        self.channels_created = 0
        self.rotations = 0
        self.rotate_at = float("inf")
        self.http_retries = 0
        self.channels_reused = 0
        self._token_of: dict[str, AccessToken] = {}
        """Channel id -> the token it was created under (our own channels)."""
        self._spares: list[tuple[Channel, AccessToken]] = []
        """Our own idle channels (left by a rotation) and their tokens: reused first."""

    def _classify(self, data: str | bytes) -> tuple[str, str] | None:
        return _classify_genesys(data)

    def _wall_now(self) -> float:
        mono0, wall0 = self._wall_anchor
        return wall0 + (trio.current_time() - mono0)

    def on_socket_closing(self, link: Link, t: float) -> None:
        """The server will close ``link`` in about a minute: rotate now.

        If the socket we rotated to is announced as closing too, within
        :data:`SOCKET_CLOSING_HOLDOFF` of the last such rotation, the whole
        service is going down: no new rotation (it would only churn channels);
        the close is then handled as a planned reconnect.
        """
        now = trio.current_time()
        rotate = link is self.probe.link and now - self._closing_rotated_at >= (
            SOCKET_CLOSING_HOLDOFF
        )
        self.probe.event("socket_closing", rotate=rotate)
        if rotate:
            self._closing_rotated_at = now
            self._closing_reconnected = False
            self.request_rotation("socket_closing")

    def on_channel_failure(self, link: Link, detail: str) -> None:
        """The channel is gone: the link is dead and the channel must be replaced."""
        self.probe.event("channel.expired", result=detail)
        link.channel_gone = True
        link.declare_dead("channel_failure")
        self._wake.set()

    def request_rotation(self, reason: str) -> None:
        """Ask the connection loop to rotate make-before-break."""
        if self._rotation is None:
            self._rotation = (reason, trio.current_time())
        self._wake.set()

    def _take_rotation(self, link: Link) -> str | None:
        r = self._rotation
        self._rotation = None
        if r is None or r[1] < link.opened_at:
            return None  # already satisfied: the link is newer than the request
        return r[0]

    def _hook(self, name: str, attrs: dict[str, Any]) -> None:
        """Audit hook of the Genesys clients: forward their events to the target."""
        self.http_retries += name == "http.retry"
        error_type = attrs.get("error.type")
        if name == "http.retry" and isinstance(error_type, str):
            # a network failure is named at its first attempt, not after the
            # REST retry budget is spent (that can take minutes)
            self._report_failure(
                FailureCause(
                    error_type,
                    str(attrs.get("server.address", "")),
                    str(attrs.get("error.message", "")),
                )
            )
        if name not in EVENT_NAMES:
            return
        if name == "token.refresh" and attrs.get("reason") == "initial":
            return  # the first fetch is reported as token.issued only
        clean: dict[str, AttrValue] = {}
        for key, value in attrs.items():
            if isinstance(value, str | int | float | bool):
                clean[key] = value
        # a connect phase ends with these (a token refreshed while connected is none)
        phase = _PHASE_OF.get(name)
        if phase is not None and (phase == "channel" or self.probe.connection_state != "connected"):
            duration = clean.get("duration_s")
            duration = duration if isinstance(duration, float) else 0.0
            self.probe.event(E_CONNECT_PHASE, phase=phase, duration_s=duration)
        self.probe.event(name, **clean)

    async def run(self) -> None:
        """Authenticate, connect, rotate and reconnect forever (until cancelled).

        Raises:
          TargetAuthRefused: the OAuth client was refused.
        """
        import httpx

        from genesys_pulse.genesys import AuthRefused, NotificationsClient, OAuthClient
        from genesys_pulse.transport import httpx_transport

        g = self.settings
        assert g.client_id is not None and g.client_secret is not None
        async with httpx.AsyncClient(transport=httpx_transport(self.connector)) as http:
            oauth = OAuthClient(
                http,
                g.login_url,
                g.client_id,
                g.client_secret,
                rng=self.rng,
                on_event=self._hook,
                redactor=self._redactor,
            )
            api = NotificationsClient(http, g.api_url, oauth, rng=self.rng, on_event=self._hook)
            self._oauth = oauth
            self._api = api
            refused: list[AuthRefused] = []

            async def guard(fn: Callable[[], Awaitable[None]]) -> None:
                try:
                    await fn()
                except AuthRefused as exc:
                    refused.append(exc)
                    nursery.cancel_scope.cancel()

            async with trio.open_nursery() as readers:
                self._nursery = readers
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(guard, self._token_keeper)
                        nursery.start_soon(guard, self._connection_loop)
                finally:
                    await self.close_all()
            if refused:
                self.probe.auth_refused()
                raise TargetAuthRefused(self.cfg.id, str(refused[0]))

    async def _token_keeper(self) -> None:
        """Keep the token fresh ahead of expiry; a new token requests a rotation.

        The OAuth client's keeper (``OAuthClient.keep_fresh``) backs off with
        core ``Backoff`` while refreshing fails; the connection loop reports
        the failures.
        """
        await self._oauth.keep_fresh(lambda _tok: self.request_rotation("token"))

    def _take_spare(self, listed: dict[str, Channel], token: AccessToken) -> Channel | None:
        """One of this target's own idle channels to reuse, or ``None``.

        A rotation leaves the old channel behind (Genesys has no call to delete
        one; it lingers until it expires), and those count against the client's
        cap like any other. Reusing them instead of creating more keeps the
        monitor from filling its own budget. Only a channel the client still
        lists, created under the current token (a channel may end with its
        token), and with more than two rotation leads of life left.
        """
        now = self._wall_now()
        best = None
        for entry in list(self._spares):
            channel, owner = entry
            fresh = listed.get(channel.id)
            if fresh is None or owner is not token:
                self._spares.remove(entry)
                continue
            left = fresh.expires.timestamp() - now if isinstance(fresh.expires, datetime) else 0.0
            if left > 2 * ROTATE_BEFORE_EXPIRY and (
                best is None or fresh.expires > best[1].expires
            ):
                best = (entry, fresh)
        if best is None:
            return None
        self._spares.remove(best[0])
        return best[1]

    def _check_channel_budget(self, count: int) -> None:
        """Refuse to create a channel that would eat into the OAuth client's reserve.

        Genesys allows :data:`CHANNEL_CAP` channels per user/OAuth client and
        makes room for one more by removing the least recently used channel,
        unconnected ones first: possibly a channel of the integration this
        monitor watches, while it reconnects. So the client's channels are
        listed first (``includechannels=oauthclient``, every token of the
        client) and a channel is created only if the count stays within
        ``CHANNEL_CAP - channel_reserve``. Otherwise the event says so, with
        the counts, and the caller retries after its back-off.

        Raises:
          ChannelBudgetExhausted: creating a channel would cross the budget.
        """
        reserve = self.settings.channel_reserve
        budget = CHANNEL_CAP - reserve
        if count + 1 > budget:
            attrs: dict[str, AttrValue] = {
                # the telemetry contract's names (telemetry/_names.py)
                "genesys.channel.count": count,
                "genesys.channel.limit": CHANNEL_CAP,
                "genesys.channel.reserve": reserve,
                "level": "critical",
            }
            self.probe.event("channel.budget_exhausted", **attrs)
            raise ChannelBudgetExhausted(count, CHANNEL_CAP, reserve)

    async def _new_channel(self) -> Channel:
        """A channel for a new link: an idle one of our own, else a new one within the
        budget (the client's channels are listed first); subscribed if topics are set."""
        self._rest_used = True
        listed = {c.id: c for c in await self._api.list_channels("oauthclient")}
        token = await self._oauth.token()
        channel = self._take_spare(listed, token)
        if channel is None:
            self._check_channel_budget(len(listed))
            channel = await self._api.create_channel()
            self.channels_created += 1
        else:
            self.channels_reused += 1
        self._token_of[channel.id] = token
        if self.settings.topics:
            started = trio.current_time()
            await self._api.put_subscriptions(channel.id, list(self.settings.topics))
            self._subscribe_s = trio.current_time() - started
            self.probe.event(
                E_CONNECT_PHASE, phase="subscribe", duration_s=round(self._subscribe_s, 6)
            )
        return channel

    def _rotation_deadline(self, channel: Channel) -> float:
        expires = channel.expires
        if isinstance(expires, datetime):
            remaining = expires.timestamp() - self._wall_now()
        else:  # pragma: no cover - defensive
            return float("inf")
        lead = min(ROTATE_BEFORE_EXPIRY, max(remaining, 0.0) * 0.5)
        return trio.current_time() + max(remaining - lead, 1.0)

    async def _connect(self, channel: Channel | None) -> tuple[Link, Channel]:
        """Open a link on ``channel`` (or on a new channel when ``None``)."""
        fresh = channel is None
        if channel is None:
            channel = await self._new_channel()
        try:
            link = await self._open_link(channel.connect_uri, channel.id)
        except HandshakeError as exc:
            if not fresh and 400 <= exc.status < 500:
                # the channel is gone (expired, evicted): replace it
                self.probe.event("channel.expired", status=exc.status)
                channel = await self._new_channel()
                link = await self._open_link(channel.connect_uri, channel.id)
                fresh = True
            else:
                raise
        if fresh:
            self.rotate_at = self._rotation_deadline(channel)
        return link, channel

    async def _connection_loop(self) -> None:
        from genesys_pulse.genesys import AuthRefused

        channel: Channel | None = None
        restored = False
        while True:
            self._rest_used = False
            try:
                link, channel = await self._connect(channel)
            except AuthRefused:
                raise
            except Exception as exc:
                channel = None if isinstance(exc, HandshakeError) else channel
                retry_after = getattr(exc, "retry_after", None)
                await self._backoff_sleep(
                    "connect_failed",
                    type(exc).__name__,
                    retry_after if isinstance(retry_after, int | float) else None,
                    exc=exc,
                    # the next attempt needs REST (or this one failed there): slow tier
                    rest=self._rest_used or channel is None,
                )
                continue
            self._install(link, restored=restored)
            self.backoff.on_connected(trio.current_time())
            restored = True
            while True:
                reason = await self._wait(link, self.rotate_at)
                if reason is None:
                    break
                link, channel = await self._rotate(link, channel, reason)
            # the link died
            self._lost(link)
            if link.channel_gone:
                if channel is not None:
                    self._token_of.pop(channel.id, None)
                channel = None
            # close in the background: a stalled peer must not delay the reconnect
            assert self._nursery is not None
            self._nursery.start_soon(self._close, link)
            if link.socket_closing and not self._closing_reconnected:
                # planned (announced) close: reconnect at once, to the same channel
                # (the channel outlives its socket; Genesys's SDKs do the same)
                self._closing_reconnected = True
                self.probe.event("reconnect", reason="socket_closing", delay_s=0.0, error="")
            else:
                await self._backoff_sleep(link.dead_reason or "closed", rest=channel is None)

    async def _rotate(self, old: Link, channel: Channel, reason: str) -> tuple[Link, Channel]:
        """Make-before-break: a new channel and link are current before ``old`` is closed.

        Returns the link and channel now current (``old`` if the rotation could
        not be made before ``old`` died; the caller then sees it dead).
        """
        from genesys_pulse.genesys import AuthRefused

        self.probe.rotating()
        while True:
            try:
                new, new_channel = await self._connect(None)
                break
            except AuthRefused:
                raise
            except Exception as exc:
                if old.dead.is_set():
                    return old, channel
                delay = self._next_delay(rest=True)
                self.probe.event(
                    "reconnect",
                    reason=f"rotation_failed:{reason}",
                    delay_s=round(delay, 3),
                    error=type(exc).__name__,
                    **self._cause(exc).attributes(),
                )
                with trio.move_on_after(delay):
                    await old.dead.wait()
                if old.dead.is_set():
                    return old, channel
        self.rotations += 1
        owner = self._token_of.pop(channel.id, None)
        if channel is not None and owner is not None:
            self._spares.append((channel, owner))  # idle now: reusable by a later link
        self._install(new, restored=False)
        self.probe.event("rotation", reason=reason)
        assert self._nursery is not None
        self._nursery.start_soon(self._retire, old)
        self.backoff.on_connected(trio.current_time())
        return new, new_channel
