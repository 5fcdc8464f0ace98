"""The sans-I/O frame codec: client frames as wsproto's server side reads them, server
frames parsed incrementally, and every rule a client must enforce."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameDecoder

from genesys_pulse.transport._frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    close_payload,
    encode_frame,
)


def server_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


@pytest.mark.parametrize("size", [0, 1, 5, 125, 126, 1000, 65535, 65536, 70000])
def test_client_frames_decode_with_wsproto(size: int) -> None:
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    decoder = FrameDecoder(client=False)  # the server's view: frames must be masked
    decoder.receive_bytes(encode_frame(OP_BINARY, payload))
    frame = decoder.process_buffer()
    assert frame is not None
    assert frame.opcode.value == OP_BINARY
    assert bytes(frame.payload) == payload  # type: ignore[arg-type]
    assert frame.frame_finished and frame.message_finished


def test_each_frame_gets_a_fresh_mask() -> None:
    a = encode_frame(OP_PING, b"same payload")
    b = encode_frame(OP_PING, b"same payload")
    assert a[2:6] != b[2:6]  # 2**-32 chance of a false failure
    assert encode_frame(OP_PING, b"x", key=b"\0\0\0\0") == b"\x89\x81\0\0\0\0x"


def test_close_payload_codes_and_reason_limit() -> None:
    assert close_payload(1005) == b""
    assert close_payload(1000, "bye") == b"\x03\xe8bye"
    long = close_payload(1001, "é" * 100)  # 200 UTF-8 bytes: cut to 123 at a character
    assert len(long) <= 125
    long[2:].decode("utf-8")


def test_events_in_order_and_the_close() -> None:
    data = (
        server_frame(OP_PONG, b"p1")
        + server_frame(OP_TEXT, "café".encode())
        + server_frame(OP_BINARY, b"\x00\x01")
        + server_frame(OP_PING, b"hi")
        + server_frame(OP_CLOSE, b"\x03\xe9going away")
        + server_frame(OP_TEXT, b"after the close")
    )
    events, failure = FrameReader(1024).feed(data)
    assert failure is None
    assert events == [
        (OP_PONG, b"p1"),
        (OP_TEXT, "café"),
        (OP_BINARY, b"\x00\x01"),
        (OP_PING, b"hi"),
        (OP_CLOSE, (1001, "going away")),
    ]


def test_fragments_with_a_control_frame_between() -> None:
    data = (
        server_frame(OP_TEXT, b"hel", fin=False)
        + server_frame(OP_PONG, b"mid")
        + server_frame(0, b"lo", fin=False)
        + server_frame(0, b"!", fin=True)
    )
    assert FrameReader(1024).feed(data) == ([(OP_PONG, b"mid"), (OP_TEXT, "hello!")], None)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.data())
def test_any_split_gives_the_same_events(data: st.DataObject) -> None:
    frames = data.draw(
        st.lists(
            st.one_of(
                st.binary(max_size=125).map(lambda p: server_frame(OP_PONG, p)),
                st.text(max_size=300).map(lambda t: server_frame(OP_TEXT, t.encode())),
                st.binary(max_size=70000).map(lambda p: server_frame(OP_BINARY, p)),
            ),
            min_size=1,
            max_size=5,
        )
    )
    stream = b"".join(frames)
    whole = FrameReader(1 << 20).feed(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    reader = FrameReader(1 << 20)
    events = []
    prev = 0
    for c in [*cuts, len(stream)]:
        got, failure = reader.feed(stream[prev:c])
        assert failure is None
        events += got
        prev = c
    assert (events, None) == whole
    assert reader.buffered == 0


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x81\x85abcdhello", 1002),  # masked by the server
        (server_frame(OP_TEXT, b"x", rsv=4), 1002),
        (server_frame(3, b"x"), 1002),
        (server_frame(11, b"x"), 1002),
        (server_frame(OP_PING, b"x", fin=False), 1002),
        (server_frame(OP_PING, b"x" * 126), 1002),
        (server_frame(0, b"orphan"), 1002),
        (server_frame(OP_TEXT, b"a", fin=False) + server_frame(OP_TEXT, b"b"), 1002),
        (server_frame(OP_CLOSE, b"\x03"), 1002),
        (server_frame(OP_CLOSE, struct.pack("!H", 1006)), 1002),
        (server_frame(OP_CLOSE, struct.pack("!H", 999)), 1002),
        (server_frame(OP_CLOSE, struct.pack("!H", 5000)), 1002),
        (server_frame(OP_CLOSE, b"\x03\xe8\xff"), 1007),
        (server_frame(OP_TEXT, b"\xff\xfe"), 1007),
        (server_frame(OP_TEXT, b"a", fin=False) + server_frame(0, b"\xc3"), 1007),
        (bytes([0x82, 127]) + struct.pack("!Q", 1 << 63), 1002),
        (server_frame(OP_BINARY, b"x" * 1025), 1009),
        (server_frame(OP_TEXT, b"a" * 600, fin=False) + server_frame(0, b"b" * 600), 1009),
    ],
)
def test_protocol_violations_fail_with_their_code(data: bytes, code: int) -> None:
    reader = FrameReader(1024)
    events, failure = reader.feed(data)
    assert events == []
    assert failure is not None and failure[0] == code and failure[1]
    assert reader.feed(b"more") == ([], failure)  # stays failed


def test_oversize_is_refused_from_the_header_alone() -> None:
    # only the 10-byte header of a 1 GiB frame has arrived: refused at once
    header = bytes([0x82, 127]) + struct.pack("!Q", 1 << 30)
    assert FrameReader(1024).feed(header)[1] == (1009, "message too big")


def test_valid_close_codes_are_accepted() -> None:
    for code in (1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999):
        events, failure = FrameReader(1024).feed(server_frame(OP_CLOSE, struct.pack("!H", code)))
        assert failure is None and events == [(OP_CLOSE, (code, ""))]
    assert FrameReader(1024).feed(server_frame(OP_CLOSE, b"")) == ([(OP_CLOSE, (1005, ""))], None)
