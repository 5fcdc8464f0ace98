"""RFC 6455 framing for a WebSocket client, sans I/O.

After the opening handshake (still done with wsproto), a client only needs two
things from the framing layer: to parse the server's frames and to build its
own masked frames. Both are small and fixed, and they sit on the probing path
of every target (two exchanges per probe slot), so they are written here as
plain functions and one incremental parser with no event objects, no
generators and no extension machinery: parsing a pong costs a few byte reads
and one slice.

No sockets, no clocks, no trio: :class:`FrameReader` takes bytes and returns
what they held, :func:`encode_frame` returns bytes; the trio shell in
:mod:`._websocket` does the waiting and the writing.

What the parser enforces (a client must fail the connection otherwise):

* server frames are not masked, RSV bits are 0 (no extension is ever
  negotiated), the opcode is defined (1002);
* control frames are final and carry at most 125 bytes; a Close payload is
  empty or a valid code (1000-1003, 1007-1014, 3000-4999) plus a UTF-8 reason
  (1002, 1007 for the reason);
* fragments: a continuation only inside a message, a new data frame only
  outside one, control frames may come in between (1002);
* text is valid UTF-8 (1007); a message larger than ``max_message_size``
  (bytes; UTF-8 bytes for text) is refused as soon as its declared length
  says so, before its payload is buffered (1009);
* 64-bit lengths have the most significant bit clear (1002).
"""

from __future__ import annotations

import os
from typing import Any, Final, TypeAlias

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameReader",
    "close_payload",
    "encode_frame",
    "parse_close",
]

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

_VALID_CLOSE_CODES: Final = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
"""Codes a peer may send (RFC 6455 §7.4.1; 1004-1006 and 1015 are reserved or local-only)."""

Event: TypeAlias = tuple[int, Any]
"""``(opcode, payload)``: text ``str``, binary/ping/pong ``bytes``, close ``(code, reason)``."""

Failure: TypeAlias = tuple[int, str]
"""``(close code, reason)`` with which the client must fail the connection."""


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    # XOR as one big-integer operation: far cheaper than a loop per byte.
    k = (key * ((n + 3) >> 2))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def encode_frame(opcode: int, payload: bytes = b"", *, key: bytes | None = None) -> bytes:
    """A final, masked client frame (RFC 6455 §5.2).

    Args:
      opcode: one of the ``OP_*`` constants.
      payload: the application data (at most 125 bytes for control frames:
        the caller checks).
      key: the 4-byte masking key; a fresh unpredictable one
        (``os.urandom``) by default, as §5.3 requires per frame.
    """
    if key is None:
        key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return head + key + _mask(payload, key)


def close_payload(code: int, reason: str = "") -> bytes:
    """The payload of a Close frame: the code, then the reason cut to 123 UTF-8 bytes.

    Code 1005 ("no status received") is never sent: its payload is empty.
    """
    if code == 1005:
        return b""
    raw = reason.encode("utf-8")
    if len(raw) > 123:
        raw = raw[:123].decode("utf-8", "ignore").encode("utf-8")
    return code.to_bytes(2, "big") + raw


def parse_close(payload: bytes) -> tuple[int, str, Failure | None]:
    """``(code, reason, None)`` of a peer's Close payload, or ``(0, "", failure)``.

    An empty payload is code 1005 ("no status received").
    """
    if not payload:
        return 1005, "", None
    if len(payload) == 1:
        return 0, "", (1002, "close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code not in _VALID_CLOSE_CODES and not 3000 <= code <= 4999:
        return 0, "", (1002, f"close frame with invalid code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return 0, "", (1007, "close reason is not valid UTF-8")
    return code, reason, None


class FrameReader:
    """Incremental parser of server-to-client frames.

    Feed it the bytes of each read with :meth:`feed`; it returns the events
    they completed and, once the server broke the protocol, the failure (after
    which the reader must not be fed again).

    Args:
      max_message_size: largest message accepted, in bytes (UTF-8 bytes for
        text); a larger one is a 1009 failure.
    """

    __slots__ = ("_buf", "_max", "_opcode", "_parts", "_size", "failed")

    def __init__(self, max_message_size: int) -> None:
        self._max = max_message_size
        self._buf = b""
        self._opcode = -1  # opcode of the fragmented message in progress, -1 for none
        self._parts: list[bytes] = []
        self._size = 0
        self.failed: Failure | None = None
        """The failure once one was found (the reader then stays failed)."""

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray) -> tuple[list[Event], Failure | None]:
        """Parse ``data`` (appended to what was held back).

        Returns:
          The complete events in order, and ``None`` or the ``(code, reason)``
          failure found after them (events before a failure are still valid).
        """
        if self.failed is not None:
            return [], self.failed
        buf = self._buf + data if self._buf else bytes(data)
        n = len(buf)
        pos = 0
        out: list[Event] = []
        fail: Failure | None = None
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            opcode = b0 & 0x0F
            if b1 & 0x80:
                fail = (1002, "masked frame from the server")
                break
            if b0 & 0x70:
                fail = (1002, "reserved bits set (no extension was negotiated)")
                break
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
                if length >> 63:
                    fail = (1002, "64-bit payload length with the top bit set")
                    break
            fin = b0 & 0x80
            if opcode >= 8:
                if opcode > OP_PONG:
                    fail = (1002, f"reserved opcode {opcode:#x}")
                    break
                if not fin:
                    fail = (1002, "fragmented control frame")
                    break
                if length > 125:
                    fail = (1002, "control frame longer than 125 bytes")
                    break
            elif opcode > OP_BINARY:
                fail = (1002, f"reserved opcode {opcode:#x}")
                break
            else:
                if opcode == OP_CONTINUATION:
                    if self._opcode < 0:
                        fail = (1002, "continuation frame outside a message")
                        break
                elif self._opcode >= 0:
                    fail = (1002, "new data frame inside a fragmented message")
                    break
                if self._size + length > self._max:
                    fail = (1009, "message too big")
                    break
            end = pos + head + length
            if end > n:
                break
            payload = buf[pos + head : end]
            pos = end
            if opcode == OP_PONG or opcode == OP_PING:
                out.append((opcode, payload))
            elif opcode == OP_CLOSE:
                code, reason, fail = parse_close(payload)
                if fail is not None:
                    break
                out.append((OP_CLOSE, (code, reason)))
                pos = n  # nothing after a Close is read
                break
            elif fin and opcode != OP_CONTINUATION:
                if opcode == OP_TEXT:
                    try:
                        out.append((OP_TEXT, payload.decode("utf-8")))
                    except UnicodeDecodeError:
                        fail = (1007, "text message is not valid UTF-8")
                        break
                else:
                    out.append((OP_BINARY, payload))
            else:
                if opcode != OP_CONTINUATION:
                    self._opcode = opcode
                self._parts.append(payload)
                self._size += length
                if fin:
                    whole = b"".join(self._parts)
                    op = self._opcode
                    self._parts = []
                    self._size = 0
                    self._opcode = -1
                    if op == OP_TEXT:
                        try:
                            out.append((OP_TEXT, whole.decode("utf-8")))
                        except UnicodeDecodeError:
                            fail = (1007, "text message is not valid UTF-8")
                            break
                    else:
                        out.append((OP_BINARY, whole))
        if fail is not None:
            self.failed = fail
            self._buf = b""
            self._parts = []
        else:
            self._buf = bytes(buf[pos:]) if pos < n else b""
        return out, fail
