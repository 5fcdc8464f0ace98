"""Hypothesis: 10,000+ generated WebSocket frames (5,000 streams) into the transport's reader.

Raw server-to-client bytes -- valid frames, then mutated: bad and reserved
opcodes, RSV bits, masked server frames, bad and huge lengths, fragmented
and oversized control frames, continuation without a start, interleaved
fragments, invalid UTF-8 in text and close reasons, invalid close codes,
messages over the size limit, random byte flips and truncation -- are fed to
:meth:`genesys_pulse.transport.WebSocketConnection.run_reader` over an
in-memory stream, after a real wsproto handshake.

Properties: ``run_reader`` never raises and always returns a
:class:`~genesys_pulse.transport.CloseInfo`; a rejection by us is explained
(a protocol-error, invalid-data or too-big code: 1002, 1007 or 1009 with a
reason, and a Close frame with that code is sent to the peer); a stream that
just ends is a 1006 with a reason; text messages delivered are ``str`` and
binary ones ``bytes`` within the size limit.
"""

from __future__ import annotations

import struct
import sys

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request
from wsproto.frame_protocol import FrameDecoder

from genesys_pulse.transport import CloseInfo
from genesys_pulse.transport._websocket import WebSocketConnection

EXAMPLES = 5_000  # streams of 1-6 frames each: well over 10,000 frames in all
MIN_FRAMES = 10_000
FRAMES = [0]
LIMIT = 1024  # a small message limit keeps "oversized" examples cheap


class _Stream(trio.abc.Stream):
    """Server bytes in (then EOF); client bytes collected."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)
        self.sent = bytearray()
        self.closed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        if self.closed:
            raise trio.ClosedResourceError
        self.sent += data

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        if self.closed:
            raise trio.ClosedResourceError
        return self._chunks.pop(0) if self._chunks else b""

    async def aclose(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


def _open_client() -> WSConnection:
    client = WSConnection(ConnectionType.CLIENT)
    request = client.send(Request(host="127.0.0.1", target="/channels/fuzz"))
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(request)
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection()))
    assert isinstance(next(client.events()), AcceptConnection)
    return client


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = False,
    length: int | None = None,
) -> bytes:
    """One raw frame; ``length`` overrides the declared payload length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | (opcode & 0x0F)])
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n & 0xFFFFFFFFFFFFFFFF)
    if mask:
        key = b"\x01\x02\x03\x04"
        head += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


text_payloads = st.one_of(
    st.text(max_size=40).map(str.encode),
    st.sampled_from(
        [
            b'{"topicName":"channel.metadata","eventBody":{"message":"pong"}}',
            b"\xff\xfe",
            b"\xc3",
            b"\xed\xa0\x80",
            b"caf\xc3\xa9",
        ]
    ),
    st.binary(max_size=40),
)
close_payloads = st.one_of(
    st.just(b""),
    st.just(b"\x03"),
    st.tuples(
        st.sampled_from([1000, 1001, 1002, 1005, 1006, 1011, 1015, 999, 0, 2999, 3000, 4999, 5000]),
        st.sampled_from([b"", b"bye", b"\xff\xfe", b"x" * 124]),
    ).map(lambda t: struct.pack("!H", t[0]) + t[1]),
)


@st.composite
def one_frame(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            [
                "text",
                "text",
                "binary",
                "ping",
                "pong",
                "close",
                "fragmented",
                "bad_opcode",
                "rsv",
                "masked",
                "control_long",
                "control_fragmented",
                "continuation",
                "big_length",
                "oversized",
                "garbage",
            ]
        )
    )
    if kind == "text":
        return frame(1, draw(text_payloads))
    if kind == "binary":
        return frame(2, draw(st.binary(max_size=64)))
    if kind == "ping":
        return frame(9, draw(st.binary(max_size=125)))
    if kind == "pong":
        return frame(10, draw(st.binary(max_size=125)))
    if kind == "close":
        return frame(8, draw(close_payloads))
    if kind == "fragmented":
        op = draw(st.sampled_from([1, 2]))
        parts = draw(st.lists(text_payloads, min_size=1, max_size=3))
        out = frame(op, parts[0], fin=len(parts) == 1)
        for i, p in enumerate(parts[1:], 1):
            if draw(st.booleans()):
                out += frame(9, b"mid")  # a control frame between fragments is legal
            out += frame(0, p, fin=i == len(parts) - 1)
        return out
    if kind == "bad_opcode":
        return frame(draw(st.sampled_from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15])), b"x")
    if kind == "rsv":
        return frame(1, b"hello", rsv=draw(st.integers(1, 7)))
    if kind == "masked":
        return frame(1, b"masked by the server", mask=True)
    if kind == "control_long":
        return frame(draw(st.sampled_from([8, 9, 10])), b"p" * draw(st.integers(126, 300)))
    if kind == "control_fragmented":
        return frame(9, b"half", fin=False) + frame(0, b"ping", fin=True)
    if kind == "continuation":
        return frame(0, b"orphan", fin=draw(st.booleans()))
    if kind == "big_length":
        return frame(
            draw(st.sampled_from([1, 2])),
            b"short",
            length=draw(st.sampled_from([126, 65535, 65536, 2**31, 2**63 - 1, 2**64 - 1])),
        )
    if kind == "oversized":
        op = draw(st.sampled_from([1, 2]))
        n = draw(st.integers(LIMIT + 1, 3 * LIMIT))
        if draw(st.booleans()):
            half = n // 2
            return frame(op, b"a" * half, fin=False) + frame(0, b"b" * (n - half))
        return frame(op, b"a" * n)
    return draw(st.binary(min_size=1, max_size=30))


@st.composite
def streams(draw: st.DrawFn) -> list[bytes]:
    frames = draw(st.lists(one_frame(), min_size=1, max_size=6))
    FRAMES[0] += len(frames)
    data = b"".join(frames)
    mutation = draw(st.sampled_from(["none", "none", "none", "flip", "truncate", "insert"]))
    if mutation == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    elif mutation == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif mutation == "insert":
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    # delivered in 1..3 reads, split anywhere
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=2)))
    chunks, prev = [], 0
    for c in [*cuts, len(data)]:
        if c > prev:
            chunks.append(data[prev:c])
        prev = c
    return chunks


def _sent_close_code(sent: bytes) -> int | None:
    """The code of the first Close frame the client sent (client frames are masked);
    1005 for a Close without a code, ``None`` if no Close was sent."""
    decoder = FrameDecoder(client=False)
    decoder.receive_bytes(sent)
    while True:
        f = decoder.process_buffer()
        if f is None:
            return None
        if f.opcode.value == 8:
            payload = bytes(f.payload)  # type: ignore[arg-type]
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


async def _feed(chunks: list[bytes]) -> tuple[CloseInfo, list[object], bytes]:
    stream = _Stream(chunks)
    _open_client()  # a real handshake first: the connection starts OPEN
    ws = WebSocketConnection(stream, LIMIT, trio.current_time())
    got: list[object] = []
    with trio.fail_after(5):
        info = await ws.run_reader(lambda d, _t: got.append(d), lambda p, _t: got.append(p))
    return info, got, bytes(stream.sent)


def test_generated_frames_never_break_the_reader() -> None:
    tally: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(streams())
    def feed(chunks: list[bytes]) -> None:
        info, got, sent = trio.run(_feed, chunks)
        key = f"{info.code}{' (ours)' if info.local else ''}"
        tally[key] = tally.get(key, 0) + 1
        assert isinstance(info, CloseInfo)
        for item in got:
            assert isinstance(item, str | bytes)
            if isinstance(item, str):
                assert len(item.encode()) <= LIMIT
            else:
                assert len(item) <= LIMIT
        if info.local:
            # we rejected the peer's data: say why, with a standard code, to the peer too
            assert info.code in (1002, 1007, 1009), info
            assert info.reason, info
            assert _sent_close_code(sent) == info.code, (info, sent[:40])
        elif info.code == 1006:
            assert info.reason, info  # "connection closed without a close frame", ...
        else:
            # the peer's Close: answered with a Close
            assert _sent_close_code(sent) is not None, info

    FRAMES[0] = 0
    feed()
    total = sum(tally.values())
    print(
        f"\nfuzzed {FRAMES[0]} generated frames in {total} streams through run_reader: "
        f"close codes {tally}",
        file=sys.stderr,
    )
    assert total >= EXAMPLES
    assert FRAMES[0] >= MIN_FRAMES, FRAMES[0]
    for code in ("1002 (ours)", "1007 (ours)", "1009 (ours)", "1006"):
        assert tally.get(code, 0) > 0, (code, tally)
