"""The network shell: streams, a lean WebSocket client and an httpx transport.

* :class:`Connector` / :class:`NetConnector` open TCP (+TLS, always verified)
  streams, through an HTTP proxy's ``CONNECT`` tunnel when the proxy rules
  say so; the emulator provides an in-memory connector with the same shape.
* :func:`open_websocket` / :class:`WebSocketConnection`: RFC 6455 -- wsproto
  for the opening handshake, then the sans-I/O frame codec of ``_frames`` --
  timestamping frames when they are actually written and read.
* :func:`httpx_transport`: an httpx transport whose connections come from a
  :class:`Connector`, so REST calls share the same seam.
"""

from ._connector import Connector, NetConnector, is_loopback_host
from ._errors import (
    FAILURE_TYPES,
    ConnectError,
    ConnectionClosed,
    FailureCause,
    HandshakeError,
    ProxyError,
    TransportError,
    failure_cause,
)
from ._httpx import ConnectorTransport, httpx_transport
from ._timed import TimedSocketStream, close_inherited_sockets, track_sockets
from ._websocket import (
    DEFAULT_MAX_MESSAGE_SIZE,
    CloseInfo,
    WebSocketConnection,
    open_websocket,
    ping_frame,
    text_frame,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "FAILURE_TYPES",
    "CloseInfo",
    "ConnectError",
    "ConnectionClosed",
    "Connector",
    "ConnectorTransport",
    "FailureCause",
    "HandshakeError",
    "NetConnector",
    "ProxyError",
    "TimedSocketStream",
    "TransportError",
    "WebSocketConnection",
    "close_inherited_sockets",
    "failure_cause",
    "httpx_transport",
    "is_loopback_host",
    "open_websocket",
    "ping_frame",
    "text_frame",
    "track_sockets",
]
