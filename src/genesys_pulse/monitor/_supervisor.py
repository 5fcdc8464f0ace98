"""Per-target supervisors: connections, channels, tokens, rotation and reconnects.

A supervisor keeps its target's :class:`~genesys_pulse.monitor._target.TargetProbe`
supplied with a current :class:`~genesys_pulse.monitor._link.Link`.

Genesys targets (``GenesysSupervisor``):

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

Plain WebSocket targets (``WebSocketSupervisor``): connect, reconnect with
backoff; no channels, tokens or rotations.
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
from genesys_pulse.core import E_CONNECT_PHASE, Backoff
from genesys_pulse.core.config import CHANNEL_CAP, TargetConfig
from genesys_pulse.core.model import EVENT_NAMES, AttrValue, ProbeKind
from genesys_pulse.transport import (
    CloseInfo,
    Connector,
    FailureCause,
    HandshakeError,
    failure_cause,
    open_websocket,
)

from ._link import Link
from ._target import TargetProbe

__all__ = [
    "CLOSE_TIMEOUT",
    "CONNECT_CONCURRENCY",
    "CONNECT_TIMEOUT",
    "ROTATE_BEFORE_EXPIRY",
    "GenesysSupervisor",
    "TargetAuthRefused",
    "WebSocketSupervisor",
]

_log = logging.getLogger("genesys_pulse.monitor")

CONNECT_TIMEOUT = 15.0
"""Seconds for one WebSocket connect (TCP + TLS + upgrade), as Genesys's client."""

CONNECT_CONCURRENCY = 64
"""WebSocket connects in flight at once per monitor (``run_monitor`` shares one limiter):
thousands of targets starting together would overflow the server's accept backlog,
and the dropped SYNs would cost each of them a retransmission or a connect timeout."""

CLOSE_TIMEOUT = 1.0
"""Upper bound of one WebSocket close."""

SHUTDOWN_CLOSE_TIMEOUT = 0.5
"""Upper bound of closing the sockets when the monitor stops."""

A_OUTAGE_UNCERTAINTY = "genesys.outage.uncertainty_s"
"""``connection.restored`` attribute (the contract: ``telemetry/_names.py``, docs/telemetry.md)."""

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


class _Base:
    """Shared link plumbing: open, read, install, retire, close."""

    def __init__(
        self,
        probe: TargetProbe,
        connector: Connector,
        rng: random.Random,
        *,
        connect_limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        self.probe = probe
        self.cfg: TargetConfig = probe.cfg
        self.connector = connector
        self.rng = rng
        cap = self.cfg.reconnect_max_delay
        self.backoff = Backoff(rng, initial=min(1.0, cap), cap=cap)
        """Reconnecting to an existing channel (a cheap WebSocket connect)."""
        self.rest_backoff = Backoff(rng, initial=1.0, cap=90.0)
        """Attempts that create a channel or log in (REST): slower."""
        self.last_failed_at: float | None = None
        """When the latest reconnect attempt of the current outage failed."""
        self._rest_used = False
        self._generation = 0
        self._wake = trio.Event()
        self._nursery: trio.Nursery | None = None
        self.open_links: set[Link] = set()
        """Links not yet closed (at most two during a rotation; tests check for leaks)."""
        self.lost_at: float | None = None
        self.connect_limiter = connect_limiter
        """Shared by the monitor's supervisors to bound concurrent connects (``None``: unbounded)."""
        self._handshake_s = 0.0
        """Duration of the latest WebSocket upgrade (reported by ``connection.established``)."""
        self._subscribe_s: float | None = None
        """Duration of the latest REST subscription, until reported."""
        self._failing: tuple[str, str] | None = None
        """``(error.type, server.address)`` of the connect failure last logged, while failing."""

    # LinkOwner protocol
    def on_heartbeat(self, link: Link, t: float) -> None:
        """Forward a heartbeat to the probe."""
        self.probe.on_heartbeat(link, t)

    def on_socket_closing(self, link: Link, t: float) -> None:
        """Default: nothing (plain WebSocket)."""

    def on_channel_failure(self, link: Link, detail: str) -> None:
        """Default: the link is dead."""
        link.declare_dead("channel_failure")

    def on_link_dead(self, link: Link) -> None:
        """Wake the supervisor loop."""
        self._wake.set()

    def on_late_answer(self, link: Link, kind: str, seq: int, sent: float, t: float) -> None:
        """Forward a late answer (the true RTT of a timed-out ping) to the probe."""
        self.probe.record_late(link, ProbeKind(kind), seq, sent, t)

    def _classify(self, data: str | bytes) -> tuple[str, str] | None:
        raise NotImplementedError

    async def _open_link(self, url: str, channel_id: str | None = None) -> Link:
        assert self._nursery is not None
        limiter = self.connect_limiter
        if limiter is None:
            started = trio.current_time()
            ws = await open_websocket(
                url, connector=self.connector, connect_timeout=CONNECT_TIMEOUT
            )
        else:
            # the connect timeout starts once a slot is free
            async with limiter:
                started = trio.current_time()
                ws = await open_websocket(
                    url, connector=self.connector, connect_timeout=CONNECT_TIMEOUT
                )
        self._handshake_s = trio.current_time() - started
        self.probe.event(E_CONNECT_PHASE, phase="handshake", duration_s=round(self._handshake_s, 6))
        self._generation += 1
        link = Link(
            ws,
            self._generation,
            opened_at=trio.current_time(),
            timeout=self.cfg.timeout,
            classify=self._classify,
            owner=self,
            channel_id=channel_id,
            spawn=self._nursery.start_soon,
        )
        self.open_links.add(link)
        self._nursery.start_soon(self._read, link)
        return link

    async def _read(self, link: Link) -> None:
        # Shielded: a reader always ends when its link is closed (every link is
        # closed by _close, bounded), so that the close handshake can still be
        # read during shutdown.
        try:
            with trio.CancelScope(shield=True):
                info = await link.ws.run_reader(link.on_message, link.on_pong)
        except Exception as exc:  # a bug in a callback must not kill the monitor
            info = link.ws.close_info or CloseInfo(1006, f"reader error: {type(exc).__name__}")
        link.close_info = info
        link.declare_dead("closed")

    def _install(self, link: Link, *, restored: bool) -> None:
        phases: dict[str, AttrValue] = {"handshake_s": round(self._handshake_s, 6)}
        if self._subscribe_s is not None:
            phases["subscribe_s"] = round(self._subscribe_s, 6)
            self._subscribe_s = None
        self.probe.event("connection.established", restored=restored, **phases)
        if self._failing is not None:
            _log.warning("genesys-pulse: target %s: connected again", self.cfg.id)
            self._failing = None
        self.probe.install_link(link)
        now = trio.current_time()
        if restored and self.lost_at is not None:
            last = max(self.lost_at, self.last_failed_at or self.lost_at)
            self.probe.event(
                "connection.restored",
                outage_s=now - self.lost_at,
                **{A_OUTAGE_UNCERTAINTY: now - last},
            )
        self.lost_at = None
        self.last_failed_at = None
        self.backoff.on_connected(now)
        self.rest_backoff.on_connected(now)

    def _lost(self, link: Link) -> None:
        info = link.close_info or link.ws.close_info
        self.probe.link_lost(link, planned=link.socket_closing)
        self.lost_at = trio.current_time()
        self.probe.event(
            "connection.lost",
            reason=link.dead_reason or "closed",
            code=int(info.code) if info is not None else 0,
            close_reason=info.reason[:123] if info is not None else "",
            planned=link.socket_closing,
        )

    async def close_links(self, code: int = 1001, reason: str = "monitor stopping") -> None:
        """Close every open link, one after the other (each bounded; the target stopped)."""
        with trio.CancelScope(shield=True):
            for link in list(self.open_links):
                await self._close(link, code, reason)

    async def _close(
        self, link: Link, code: int = 1000, reason: str = "", limit: float = CLOSE_TIMEOUT
    ) -> None:
        with trio.CancelScope(shield=True):
            with trio.move_on_after(limit + 0.25):
                await link.ws.aclose(code, reason, timeout=limit)
        self.open_links.discard(link)

    async def close_all(self) -> None:
        """Close every open link concurrently (shutdown), within about half a second."""
        # the target is stopping: the slot in flight is abandoned, not timed out
        self.probe.stop()
        with trio.CancelScope(shield=True):
            async with trio.open_nursery() as nursery:
                for link in list(self.open_links):
                    nursery.start_soon(
                        self._close, link, 1001, "monitor stopping", SHUTDOWN_CLOSE_TIMEOUT
                    )

    async def _retire(self, link: Link) -> None:
        """Take no new probes on ``link``; close it once its in-flight probe is resolved."""
        link.retired = True
        with trio.move_on_after(self.cfg.timeout + 0.05):
            await link.dead.wait()
        await self._close(link, 1000, "rotated")

    async def _wait(self, link: Link, until: float = float("inf")) -> str | None:
        """Wait until ``link`` dies (``None``), a rotation is requested, or ``until``."""
        while True:
            if link.dead.is_set():
                return None
            reason = self._take_rotation(link)
            if reason is not None:
                return reason
            if trio.current_time() >= until:
                return "channel_expiry"
            self._wake = trio.Event()
            with trio.move_on_at(until):
                await self._wake.wait()

    def _take_rotation(self, link: Link) -> str | None:
        return None

    def _next_delay(self, retry_after: float | None = None, *, rest: bool = False) -> float:
        """The next delay of the cheap (or, with ``rest``, the REST) back-off.

        The uptime of the last connection decays the back-off first.
        """
        backoff = self.rest_backoff if rest else self.backoff
        backoff.on_disconnected(trio.current_time())
        return backoff.next_delay(retry_after)

    def _cause(self, exc: BaseException) -> FailureCause:
        """Why a connect failed (``error.type``, host, OS message)."""
        cause = getattr(exc, "cause", None)
        if isinstance(cause, FailureCause):
            return cause
        status = getattr(exc, "status", 0)
        code = getattr(exc, "code", "")
        message = " ".join(str(exc).split())[:200]
        if isinstance(status, int) and status >= 400:
            return FailureCause(str(status), "", message)  # e.g. "503" after the retries
        if isinstance(status, int) and status > 0 and isinstance(code, str) and code:
            return FailureCause(code, "", message)  # e.g. "invalid.response"
        return failure_cause(exc)

    def _report_failure(self, cause: FailureCause) -> None:
        """One WARNING per change of cause (not per retry); ``_install`` logs the recovery."""
        key = (cause.error_type, cause.server_address)
        if key == self._failing:
            return
        self._failing = key
        where = f" {cause.server_address}" if cause.server_address else ""
        _log.warning(
            "genesys-pulse: target %s: cannot connect to%s: %s (%s); retrying with back-off, "
            "logged again only if the cause changes",
            self.cfg.id,
            where or " the service",
            cause.error_type,
            cause.message,
        )

    async def _backoff_sleep(
        self,
        reason: str,
        error: str = "",
        retry_after: float | None = None,
        exc: BaseException | None = None,
        *,
        rest: bool = False,
    ) -> None:
        if reason == "connect_failed":
            self.last_failed_at = trio.current_time()
        delay = self._next_delay(retry_after, rest=rest)
        attrs: dict[str, AttrValue] = {}
        if exc is not None:
            cause = self._cause(exc)
            self._report_failure(cause)
            attrs.update(cause.attributes())
        self.probe.backing_off(reason, error, trio.current_time() + delay)
        self.probe.event("reconnect", reason=reason, delay_s=round(delay, 3), error=error, **attrs)
        await trio.sleep(delay)
        self.probe.connecting()


class WebSocketSupervisor(_Base):
    """Keeps a plain WebSocket target connected."""

    def __init__(
        self,
        probe: TargetProbe,
        connector: Connector,
        rng: random.Random,
        *,
        connect_limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        super().__init__(probe, connector, rng, connect_limiter=connect_limiter)
        ws = self.cfg.websocket
        assert ws is not None
        self.url = ws.url
        self.reply = ws.expected_reply if ws.expected_reply is not None else ws.echo_message

    def _classify(self, data: str | bytes) -> tuple[str, str] | None:
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                return None
        if self.reply is not None and data == self.reply:
            return ("pong", "")
        return None

    async def run(self) -> None:
        """Connect, probe, reconnect, forever (until cancelled)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                await self._loop()
            finally:
                await self.close_all()

    async def _loop(self) -> None:
        restored = False
        while True:
            try:
                link = await self._open_link(self.url)
            except Exception as exc:
                await self._backoff_sleep("connect_failed", type(exc).__name__, exc=exc)
                continue
            self._install(link, restored=restored)
            self.backoff.on_connected(trio.current_time())
            await self._wait(link)
            self._lost(link)
            assert self._nursery is not None
            self._nursery.start_soon(self._close, link)
            restored = True
            await self._backoff_sleep(link.dead_reason or "closed")


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
