"""Per-target supervisors: connections, channels, tokens, rotation and reconnects.

A supervisor keeps its target's :class:`~genesys_pulse.monitor._target.TargetProbe`
supplied with a current :class:`~genesys_pulse.monitor._link.Link`.

Genesys targets: :class:`~genesys_pulse.monitor._genesys_supervisor.GenesysSupervisor`
(tokens, channels, rotation, the channel budget, the two-tier reconnect).

Plain WebSocket targets (``WebSocketSupervisor``): connect, reconnect with
backoff; no channels, tokens or rotations.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    pass

from genesys_pulse.core import E_CONNECT_PHASE, Backoff
from genesys_pulse.core.config import TargetConfig
from genesys_pulse.core.model import AttrValue, ProbeKind
from genesys_pulse.transport import (
    CloseInfo,
    Connector,
    FailureCause,
    failure_cause,
    open_websocket,
)

from ._link import Link
from ._target import TargetProbe

__all__ = [
    "CLOSE_TIMEOUT",
    "CONNECT_CONCURRENCY",
    "CONNECT_TIMEOUT",
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
