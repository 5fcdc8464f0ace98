"""The Genesys Cloud client: OAuth client credentials and the Notifications REST API.

* :class:`OAuthClient` fetches and caches a client-credentials token and
  refreshes it ahead of expiry (and at once after a REST ``401``);
  ``OAuthClient.keep_fresh`` does so in a task of its own, backing off
  with core ``Backoff`` while the login service fails.
* :class:`NotificationsClient` creates channels and manages subscriptions.
* Regions: :func:`find_region`, :func:`login_base_from_api_base`.

Both clients take an :class:`httpx.AsyncClient`; build it on
:func:`genesys_pulse.transport.httpx_transport` so the same connector (real
sockets, or the emulator's in-memory streams) carries REST and WebSocket.
Nothing here configures logging; tokens and secrets never appear in errors,
reprs or audit events. httpx logs request lines and httpcore logs response
headers at DEBUG, never request headers, so the ``Authorization`` header is
not logged; for defence in depth pass a ``RedactingFilter`` (attached to your
log handlers) as ``OAuthClient(redactor=...)`` and every token is masked.
"""

from ._errors import ApiError, AuthRefused, GenesysError, InvalidResponse
from ._notifications import Channel, ChannelTopic, NotificationsClient, parse_channel
from ._oauth import AccessToken, OAuthClient, SecretRegistry
from ._regions import REGIONS, Region, find_region, login_base_from_api_base
from ._retry import EventHook, RetryPolicy, parse_retry_after

__all__ = [
    "REGIONS",
    "AccessToken",
    "ApiError",
    "AuthRefused",
    "Channel",
    "ChannelTopic",
    "EventHook",
    "GenesysError",
    "InvalidResponse",
    "NotificationsClient",
    "OAuthClient",
    "Region",
    "RetryPolicy",
    "SecretRegistry",
    "find_region",
    "login_base_from_api_base",
    "parse_channel",
    "parse_retry_after",
]
