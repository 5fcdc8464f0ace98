"""OAuth and Notifications REST handlers of the emulator.

The handlers are synchronous and do no I/O: the HTTP server (``_server``)
parses a request into a :class:`Request`, calls :func:`handle_request`, and
writes the returned :class:`Response`. Bodies and status codes follow the real
service (``docs/facts/genesys-cloud.md`` sections 1 and 3).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs

from ._state import ChannelState, EmulatorState, SubscriptionError, TokenInfo

if TYPE_CHECKING:
    from ._settings import EmulatorSettings

__all__ = [
    "AVAILABLE_TOPICS",
    "HttpFaultLike",
    "Request",
    "Response",
    "error_body",
    "handle_request",
    "json_response",
]

# A small but realistic catalogue for GET /api/v2/notifications/availabletopics.
AVAILABLE_TOPICS: tuple[dict[str, Any], ...] = (
    {
        "id": "v2.analytics.queues.{id}.observations",
        "description": "Queue observations and aggregates, at most one notification per second.",
        "requiresPermissions": ["analytics:queueObservation:view"],
        "enforced": True,
        "visibility": "Public",
        "transports": ["All"],
        "topicParameters": ["queueId"],
    },
    {
        "id": "v2.users.{id}.presence",
        "description": "Presence changes of a user.",
        "requiresPermissions": [],
        "enforced": False,
        "visibility": "Public",
        "transports": ["All"],
        "topicParameters": ["userId"],
    },
    {
        "id": "v2.users.{id}.routingStatus",
        "description": "Routing status changes of a user.",
        "requiresPermissions": [],
        "enforced": False,
        "visibility": "Public",
        "transports": ["All"],
        "topicParameters": ["userId"],
    },
    {
        "id": "v2.routing.queues.{id}.users",
        "description": "Membership changes of a queue.",
        "requiresPermissions": ["routing:queue:view"],
        "enforced": True,
        "visibility": "Public",
        "transports": ["All"],
        "topicParameters": ["queueId"],
    },
    {
        "id": "v2.users.{id}.workforcemanagement.adherence",
        "description": "Real-time adherence of a user.",
        "requiresPermissions": ["wfm:agentAdherence:view"],
        "enforced": True,
        "visibility": "Public",
        "transports": ["All"],
        "topicParameters": ["userId"],
    },
)

_REASONS = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    426: "Upgrade Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_ERROR_CODES = {
    400: (
        "bad.request",
        "The request could not be understood by the server due to malformed syntax.",
    ),
    401: ("bad.credentials", "Invalid login credentials."),
    403: ("forbidden", "You are not authorized to perform the requested action."),
    404: ("not.found", "The requested resource was not found."),
    405: ("method.not.allowed", "The requested method is not allowed for this resource."),
    408: ("request.timeout", "The request timed out."),
    413: ("request.entity.too.large", "The request entity is larger than 512000 bytes."),
    415: ("unsupported.media.type", "Unsupported media type."),
    426: ("upgrade.required", "This resource requires a WebSocket upgrade."),
    500: ("internal.server.error", "The server encountered an unexpected condition."),
    501: ("not.implemented", "This feature is not implemented."),
    502: ("bad.gateway", "The server received an invalid response from an upstream server."),
    503: ("service.unavailable", "The service is currently unavailable."),
    504: (
        "gateway.timeout",
        "The server did not receive a timely response from an upstream server.",
    ),
}

_CHANNELS = "/api/v2/notifications/channels"
_CHANNEL_RE = re.compile(r"\A/api/v2/notifications/channels/([^/]+)\Z")
_SUBSCRIPTIONS_RE = re.compile(r"\A/api/v2/notifications/channels/([^/]+)/subscriptions\Z")
_AVAILABLE = "/api/v2/notifications/availabletopics"
LOGIN_PATH = "/oauth/token"
SOCKET_RE = re.compile(r"\A/channels/([^/]+)\Z")


def reason_phrase(status: int) -> str:
    """The HTTP reason phrase of ``status``."""
    return _REASONS.get(status, "Unknown")


class HttpFaultLike(Protocol):
    """What the REST side needs of an injected HTTP fault (``_faults.HttpFault``)."""

    @property
    def status(self) -> int: ...

    @property
    def retry_after(self) -> float | None: ...


class FaultSource(Protocol):
    """The part of the fault controller the REST side calls."""

    def take_login_fault(self) -> HttpFaultLike | None: ...

    def take_api_fault(self, path: str, method: str = "") -> HttpFaultLike | None: ...


@dataclass
class Request:
    """A parsed HTTP request.

    Attributes:
      method: Upper-case method.
      path: Path without the query string.
      query: Query parameters (last value wins).
      headers: Lower-case header names to values (the last value wins).
      body: The complete body.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    """An HTTP response to write.

    Attributes:
      status: HTTP status.
      body: Body bytes (written as-is; not for HEAD).
      headers: Extra headers; ``Content-Type``/``Content-Length`` are added by
        the server.
      content_type: Body media type, or ``None`` for no body.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json"


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), headers or [])


def error_body(
    status: int, correlation_id: str, message: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """A Genesys-style platform API error body."""
    default_code, default_message = _ERROR_CODES.get(status, ("error", reason_phrase(status)))
    return {
        "message": message or default_message,
        "code": code or default_code,
        "status": status,
        "contextId": correlation_id,
        "details": [],
        "errors": [],
    }


def error_response(
    status: int, correlation_id: str, message: str | None = None, code: str | None = None
) -> Response:
    """A Genesys-style platform API error response."""
    return json_response(status, error_body(status, correlation_id, message, code))


def bad_credentials() -> Response:
    """The 401 of a missing, unknown or expired Bearer token (exact real body)."""
    return json_response(
        401, {"message": "Invalid login credentials.", "code": "bad.credentials", "status": 401}
    )


def too_many_requests(retry_after: int, correlation_id: str) -> Response:
    """The normalised 429 (announced 2021-11-10) with ``Retry-After`` in seconds."""
    body = {
        "message": f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        "code": "too.many.requests.retry.after",
        "status": 429,
        "contextId": correlation_id,
        "details": [],
        "errors": [],
    }
    return json_response(429, body, [("Retry-After", str(retry_after))])


def _invalid_client() -> Response:
    body = {
        "error": "invalid_client",
        "description": "authentication failed",
        "error_description": "authentication failed",
    }
    return json_response(401, body, [("WWW-Authenticate", 'Basic realm="oauth"')])


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(
        status, {"error": error, "description": description, "error_description": description}
    )


def fault_response(fault: HttpFaultLike, correlation_id: str, *, login: bool) -> Response:
    """The response of an injected HTTP fault, shaped as the real service's."""
    status = fault.status
    retry: int | None = None
    if fault.retry_after is not None:
        retry = max(0, round(fault.retry_after))
    if status == 429:
        return too_many_requests(60 if retry is None else retry, correlation_id)
    if status == 401:
        response = _invalid_client() if login else bad_credentials()
    else:
        response = error_response(status, correlation_id)
    if retry is not None:
        response.headers.append(("Retry-After", str(retry)))
    return response


@dataclass
class Context:
    """What a handler gets besides the request."""

    state: EmulatorState
    settings: EmulatorSettings
    faults: FaultSource | None
    now: float
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    rate_headers: list[tuple[str, str]] = field(default_factory=list)


def _set_rate_headers(ctx: Context, count: int, allowed: int, reset: int) -> None:
    ctx.rate_headers[:] = [
        ("inin-ratelimit-count", str(count)),
        ("inin-ratelimit-allowed", str(allowed)),
        ("inin-ratelimit-reset", str(reset)),
    ]


def _parse_basic(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return client_id, secret


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _login(req: Request, ctx: Context) -> Response:
    settings = ctx.settings
    creds = _parse_basic(req.headers.get("authorization"))
    key = f"login:{creds[0]}" if creds else "login:anonymous"
    allowed, window = ctx.state.take_rate(key, settings.login_rate_limit_per_minute, ctx.now)
    limit = settings.login_rate_limit_per_minute or settings.rate_limit_per_minute
    _set_rate_headers(ctx, window.count, limit, window.reset_in(ctx.now))
    if not allowed:
        return too_many_requests(window.reset_in(ctx.now), ctx.correlation_id)
    if ctx.faults is not None:
        fault = ctx.faults.take_login_fault()
        if fault is not None:
            return fault_response(fault, ctx.correlation_id, login=True)
    content_type = req.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        form = parse_qs(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "malformed request body")
    if content_type != "application/x-www-form-urlencoded" and req.body:
        return _oauth_error(400, "invalid_request", "unsupported content type")
    grants = form.get("grant_type", [])
    if len(grants) != 1 or not grants[0]:
        return _oauth_error(400, "invalid_request", "missing grant_type")
    if grants[0] != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "unsupported grant type")
    if creds is None:
        if "client_id" in form and "client_secret" in form:
            creds = (form["client_id"][0], form["client_secret"][0])
        else:
            return _invalid_client()
    if not ctx.state.authenticate(*creds):
        return _invalid_client()
    token = ctx.state.issue_token(creds[0], ctx.now)
    return json_response(
        200,
        {"access_token": token.value, "token_type": "bearer", "expires_in": settings.token_ttl},
        [("Cache-Control", "no-store"), ("Pragma", "no-cache")],
    )


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "false").strip().lower() == "true"


def _parse_topic_body(req: Request, ctx: Context) -> list[str] | Response:
    try:
        data = json.loads(req.body.decode("utf-8")) if req.body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error_response(
            400, ctx.correlation_id, "Unable to parse the request body as JSON.", "bad.request"
        )
    if not isinstance(data, list):
        return error_response(
            400,
            ctx.correlation_id,
            "The request body must be an array of ChannelTopic.",
            "bad.request",
        )
    topics: list[str] = []
    for item in data:
        topic = item.get("id") if isinstance(item, dict) else None
        if not isinstance(topic, str):
            return error_response(
                400, ctx.correlation_id, "Each ChannelTopic needs a string id.", "bad.request"
            )
        topics.append(topic)
    return topics


def _subscriptions(req: Request, ctx: Context, channel: ChannelState) -> Response:
    state = ctx.state
    if req.method == "GET":
        state.touch(channel, ctx.now)
        return json_response(200, {"entities": state.topics_json(channel)})
    if req.method == "DELETE":
        state.clear_topics(channel, ctx.now)
        return Response(204, content_type=None)
    parsed = _parse_topic_body(req, ctx)
    if isinstance(parsed, Response):
        return parsed
    try:
        entities = state.add_topics(
            channel,
            parsed,
            replace=req.method == "PUT",
            ignore_errors=_flag(req.query, "ignoreErrors"),
            now=ctx.now,
        )
    except SubscriptionError as exc:
        return error_response(exc.status, ctx.correlation_id, exc.message, exc.code)
    return json_response(200, {"entities": entities})


def _api(
    req: Request, ctx: Context, route: Callable[[Request, Context, TokenInfo], Response]
) -> Response:
    token_value = _bearer(req.headers.get("authorization"))
    token = ctx.state.check_token(token_value, ctx.now) if token_value else None
    if token is None:
        return bad_credentials()
    allowed, window = ctx.state.take_rate(token.value, ctx.settings.rate_limit_per_minute, ctx.now)
    _set_rate_headers(
        ctx, window.count, ctx.settings.rate_limit_per_minute, window.reset_in(ctx.now)
    )
    if not allowed:
        return too_many_requests(window.reset_in(ctx.now), ctx.correlation_id)
    return route(req, ctx, token)


def _route_channels(req: Request, ctx: Context, token: TokenInfo) -> Response:
    state = ctx.state
    if req.method == "POST":
        channel = state.create_channel(token, ctx.now)
        return json_response(200, state.channel_json(channel))
    include = req.query.get("includechannels", "token").strip().lower()
    if include not in ("token", "oauthclient"):
        return error_response(
            400, ctx.correlation_id, "includechannels must be token or oauthclient"
        )
    channels = state.list_channels(token, include, ctx.now)
    return json_response(200, {"entities": [state.channel_json(c) for c in channels]})


def _owned_channel(ctx: Context, token: TokenInfo, channel_id: str) -> ChannelState | None:
    channel = ctx.state.get_channel(channel_id, ctx.now)
    if channel is None or channel.client_id != token.client_id:
        return None
    return channel


def handle_request(req: Request, ctx: Context) -> Response:
    """Route and answer one OAuth or Notifications REST request.

    The caller adds ``ININ-Correlation-Id`` (``ctx.correlation_id``) and the
    rate-limit headers (``ctx.rate_headers``) to the response.
    """
    path = req.path
    if path == LOGIN_PATH:
        if req.method != "POST":
            return _method_not_allowed(ctx, "POST")
        return _login(req, ctx)

    channel_id: str | None = None
    if path == _CHANNELS:
        methods: tuple[str, ...] = ("GET", "POST")
    elif path == _AVAILABLE:
        methods = ("GET",)
    elif m := _SUBSCRIPTIONS_RE.fullmatch(path):
        methods = ("GET", "PUT", "POST", "DELETE")
        channel_id = m.group(1)
    elif m := _CHANNEL_RE.fullmatch(path):
        methods = ("HEAD",)
        channel_id = m.group(1)
    elif SOCKET_RE.fullmatch(path):
        # A channel's connectUri without a WebSocket upgrade.
        response = error_response(426, ctx.correlation_id)
        response.headers.append(("Upgrade", "websocket"))
        return response
    else:
        return error_response(404, ctx.correlation_id, f"No resource found at {path[:200]}")
    if req.method not in methods:
        return _method_not_allowed(ctx, *methods)

    if ctx.faults is not None:
        fault = ctx.faults.take_api_fault(path, req.method)
        if fault is not None:
            return fault_response(fault, ctx.correlation_id, login=False)

    def route(req: Request, ctx: Context, token: TokenInfo) -> Response:
        if path == _CHANNELS:
            return _route_channels(req, ctx, token)
        if path == _AVAILABLE:
            return json_response(200, {"entities": list(AVAILABLE_TOPICS)})
        assert channel_id is not None
        channel = _owned_channel(ctx, token, channel_id)
        if channel is None:
            return error_response(
                404, ctx.correlation_id, f"Channel {channel_id[:100]} was not found."
            )
        if req.method == "HEAD":
            ctx.state.touch(channel, ctx.now)
            return Response(200, content_type=None)
        return _subscriptions(req, ctx, channel)

    return _api(req, ctx, route)


def _method_not_allowed(ctx: Context, *allowed: str) -> Response:
    response = error_response(405, ctx.correlation_id)
    response.headers.append(("Allow", ", ".join(allowed)))
    return response
