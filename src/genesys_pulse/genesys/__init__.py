"""The Genesys Cloud client: OAuth client credentials and the Notifications REST API.

* :class:`OAuthClient` fetches and caches a client-credentials token and
  refreshes it ahead of expiry (and at once after a REST ``401``).
* :class:`NotificationsClient` creates channels and manages subscriptions.
* Regions: :func:`find_region`, :func:`login_base_from_api_base`.

Both clients take an :class:`httpx.AsyncClient`; build it on
:func:`genesys_pulse.transport.httpx_transport` so the same connector (real
sockets, or the emulator's in-memory streams) carries REST and WebSocket.
Nothing here configures logging; tokens and secrets never appear in errors,
reprs or audit events.
"""

from ._errors import ApiError, AuthRefused, GenesysError, InvalidResponse
from ._notifications import Channel, ChannelTopic, NotificationsClient, parse_channel
from ._oauth import AccessToken, OAuthClient
from ._regions import REGIONS, Region, find_region, login_base_from_api_base
from ._retry import EventHook, RetryPolicy, backoff_delay, parse_retry_after

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
    "backoff_delay",
    "find_region",
    "login_base_from_api_base",
    "parse_channel",
    "parse_retry_after",
]
