"""The network shell: streams, a lean WebSocket client and an httpx transport.

* :class:`Connector` / :class:`NetConnector` open TCP (+TLS, always verified)
  streams; the emulator provides an in-memory connector with the same shape.
* :func:`open_websocket` / :class:`WebSocketConnection`: RFC 6455 on wsproto,
  timestamping frames when they are actually written and read.
* :func:`httpx_transport`: an httpx transport whose connections come from a
  :class:`Connector`, so REST calls share the same seam.
"""

from ._connector import Connector, NetConnector, is_loopback_host
from ._errors import ConnectError, ConnectionClosed, HandshakeError, TransportError
from ._httpx import ConnectorTransport, httpx_transport
from ._timed import TimedSocketStream, close_inherited_sockets, track_sockets
from ._websocket import (
    DEFAULT_MAX_MESSAGE_SIZE,
    CloseInfo,
    WebSocketConnection,
    open_websocket,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "CloseInfo",
    "ConnectError",
    "ConnectionClosed",
    "Connector",
    "ConnectorTransport",
    "HandshakeError",
    "NetConnector",
    "TimedSocketStream",
    "TransportError",
    "WebSocketConnection",
    "close_inherited_sockets",
    "httpx_transport",
    "is_loopback_host",
    "open_websocket",
    "track_sockets",
]
