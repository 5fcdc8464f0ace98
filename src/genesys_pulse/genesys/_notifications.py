"""The Notifications REST API: channels and subscriptions.

Every call carries ``Authorization: Bearer`` from the :class:`OAuthClient`.
On a ``401`` the token is invalidated and the call is retried once with a
fresh one; ``429`` honours ``Retry-After``; ``5xx`` and network errors are
retried with capped, jittered backoff (see :mod:`._retry`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import trio

from ._errors import ApiError, InvalidResponse
from ._oauth import AccessToken, OAuthClient
from ._retry import EventHook, RetryPolicy, _error_from_response, send_with_retry

__all__ = ["Channel", "ChannelTopic", "NotificationsClient", "parse_channel"]


@dataclass(frozen=True, slots=True)
class Channel:
    """A notification channel.

    Attributes:
      id: The channel id (a capability: do not put it in metrics or logs).
      connect_uri: The WebSocket URI to connect to, exactly as returned.
      expires: When the channel expires (timezone-aware, UTC).
    """

    id: str
    connect_uri: str
    expires: datetime

    def __repr__(self) -> str:
        return f"Channel(id='{self.id[:12]}…', expires={self.expires.isoformat()})"


@dataclass(frozen=True, slots=True)
class ChannelTopic:
    """One topic subscription as reported by the server.

    Attributes:
      id: The topic, e.g. ``"v2.users.{id}.presence"``.
      state: ``"Permitted"`` or ``"Rejected"`` (``None`` if not reported).
      rejection_reason: Why it was rejected, if it was.
    """

    id: str
    state: str | None = None
    rejection_reason: str | None = None

    @property
    def rejected(self) -> bool:
        """Whether the server rejected this topic."""
        return self.state is not None and self.state.lower() == "rejected"


def _parse_datetime(value: object, status: int, where: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise InvalidResponse(status, where, "missing or not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidResponse(status, where, f"not an ISO-8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Genesys always sends Z; be lenient on naive
    return parsed.astimezone(UTC)


def parse_channel(data: object, *, status: int = 200, where: str = "") -> Channel:
    """Parse a ``Channel`` JSON object strictly.

    Raises:
      InvalidResponse: naming the missing or invalid field.
    """
    prefix = f"{where}." if where else ""
    if not isinstance(data, Mapping):
        raise InvalidResponse(status, where or "<body>", "not a JSON object")
    cid = data.get("id")
    if not isinstance(cid, str) or not cid:
        raise InvalidResponse(status, prefix + "id", "missing or not a non-empty string")
    uri = data.get("connectUri")
    if not isinstance(uri, str) or not uri.lower().startswith(("ws://", "wss://")):
        raise InvalidResponse(status, prefix + "connectUri", "missing or not a ws(s):// URI")
    expires = _parse_datetime(data.get("expires"), status, prefix + "expires")
    return Channel(id=cid, connect_uri=uri, expires=expires)


def _parse_topics(body: object, status: int) -> list[ChannelTopic]:
    if not isinstance(body, Mapping):
        raise InvalidResponse(status, "<body>", "not a JSON object")
    entities = body.get("entities", [])
    if not isinstance(entities, list):
        raise InvalidResponse(status, "entities", "not a list")
    topics = []
    for i, item in enumerate(entities):
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise InvalidResponse(status, f"entities[{i}].id", "missing or not a string")
        state = item.get("state")
        reason = item.get("rejectionReason")
        topics.append(
            ChannelTopic(
                id=item["id"],
                state=state if isinstance(state, str) else None,
                rejection_reason=reason if isinstance(reason, str) else None,
            )
        )
    return topics


class NotificationsClient:
    """Client of ``/api/v2/notifications``.

    Args:
      http: The HTTP client.
      api_url: The API base, e.g. ``https://api.mypurecloud.com``.
      oauth: Supplies bearer tokens.
      rng: Source of backoff jitter.
      policy: Retry policy of each call.
      on_event: Audit hook ``(name, attrs)``: ``http.retry``,
        ``token.failed`` (reason ``"rest_401"``), ``channel.created``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_url: str,
        oauth: OAuthClient,
        *,
        rng: random.Random,
        policy: RetryPolicy | None = None,
        on_event: EventHook | None = None,
    ) -> None:
        self._http = http
        self.api_url = api_url.rstrip("/")
        self._oauth = oauth
        self._rng = rng
        self._policy = policy or RetryPolicy()
        self._on_event = on_event

    def __repr__(self) -> str:
        return f"NotificationsClient(api_url={self.api_url!r})"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one authorised request (with retries and one re-auth on 401)."""
        url = self.api_url + path
        for auth_attempt in (1, 2):
            tok: AccessToken = await self._oauth.token()
            headers = {"Authorization": tok.authorization(), "Accept": "application/json"}

            async def send() -> httpx.Response:
                return await self._http.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=headers,  # noqa: B023 - used before the loop moves on
                    timeout=self._policy.attempt_timeout,
                )

            resp = await send_with_retry(
                send,
                policy=self._policy,
                rng=self._rng,
                endpoint=endpoint,
                on_event=self._on_event,
                server_address=httpx.URL(self.api_url).host,
            )
            if resp.status_code == 401 and auth_attempt == 1:
                self._emit("token.failed", {"reason": "rest_401", "endpoint": endpoint})
                self._oauth.invalidate(tok)
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(self, resp: httpx.Response) -> ApiError:
        return _error_from_response(resp, None)

    def _json(self, resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise InvalidResponse(resp.status_code, "<body>", "not JSON") from None

    async def create_channel(self) -> Channel:
        """``POST /api/v2/notifications/channels``: a new channel."""
        started = trio.current_time()
        resp = await self._call(
            "POST", "/api/v2/notifications/channels", endpoint="channels.create"
        )
        if resp.status_code not in (200, 201):
            raise self._fail(resp)
        channel = parse_channel(self._json(resp), status=resp.status_code)
        self._emit(
            "channel.created",
            {
                "expires": channel.expires.isoformat(),
                "duration_s": round(trio.current_time() - started, 6),
            },
        )
        return channel

    async def list_channels(self, include: str = "token") -> list[Channel]:
        """``GET /api/v2/notifications/channels``: the channels of this token, or with
        ``include="oauthclient"`` of every token of this OAuth client (what the
        20-channel cap counts)."""
        if include not in ("token", "oauthclient"):
            raise ValueError("include must be 'token' or 'oauthclient'")
        resp = await self._call(
            "GET",
            "/api/v2/notifications/channels",
            endpoint="channels.list",
            params={"includechannels": include},
        )
        if resp.status_code != 200:
            raise self._fail(resp)
        body = self._json(resp)
        if not isinstance(body, Mapping):
            raise InvalidResponse(resp.status_code, "<body>", "not a JSON object")
        entities = body.get("entities", [])
        if not isinstance(entities, list):
            raise InvalidResponse(resp.status_code, "entities", "not a list")
        return [
            parse_channel(e, status=resp.status_code, where=f"entities[{i}]")
            for i, e in enumerate(entities)
        ]

    async def head_channel(self, channel_id: str) -> bool:
        """``HEAD /api/v2/notifications/channels/{id}``: whether the channel exists and is valid."""
        resp = await self._call(
            "HEAD", f"/api/v2/notifications/channels/{_seg(channel_id)}", endpoint="channels.head"
        )
        if resp.status_code in (200, 204):
            return True
        if resp.status_code == 404:
            return False
        raise self._fail(resp)

    async def put_subscriptions(self, channel_id: str, topics: Iterable[str]) -> list[ChannelTopic]:
        """``PUT .../channels/{id}/subscriptions?ignoreErrors=true``: replace all subscriptions.

        Returns:
          The server's view of every topic (check :attr:`ChannelTopic.rejected`).
        """
        resp = await self._call(
            "PUT",
            f"/api/v2/notifications/channels/{_seg(channel_id)}/subscriptions",
            endpoint="subscriptions.put",
            json=[{"id": t} for t in topics],
            params={"ignoreErrors": "true"},
        )
        if resp.status_code != 200:
            raise self._fail(resp)
        return _parse_topics(self._json(resp), resp.status_code)

    async def get_subscriptions(self, channel_id: str) -> list[ChannelTopic]:
        """``GET .../channels/{id}/subscriptions``."""
        resp = await self._call(
            "GET",
            f"/api/v2/notifications/channels/{_seg(channel_id)}/subscriptions",
            endpoint="subscriptions.get",
        )
        if resp.status_code != 200:
            raise self._fail(resp)
        return _parse_topics(self._json(resp), resp.status_code)

    async def delete_subscriptions(self, channel_id: str) -> None:
        """``DELETE .../channels/{id}/subscriptions``: remove every subscription."""
        resp = await self._call(
            "DELETE",
            f"/api/v2/notifications/channels/{_seg(channel_id)}/subscriptions",
            endpoint="subscriptions.delete",
        )
        if resp.status_code not in (200, 202, 204):
            raise self._fail(resp)

    def _emit(self, name: str, attrs: dict[str, Any]) -> None:
        if self._on_event is not None:
            self._on_event(name, attrs)


def _seg(value: str) -> str:
    return quote(value, safe="")
