"""The peer frame: round trips, and a precise refusal for every kind of damage."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from senate.errors import MalformedInput
from senate.wire.frame import (
    HEADER_SIZE,
    MAGIC,
    FrameDecoder,
    decode_frame,
    encode_frame,
)

SAMPLE = ["raft", [1, "n1", "n2", b"\x00\xff" * 10, {"k": [1.5, None, True]}]]


def test_round_trip_single_frame() -> None:
    frame = encode_frame(SAMPLE)
    assert frame[:2] == MAGIC
    assert decode_frame(frame) == SAMPLE


def test_several_frames_fed_one_byte_at_a_time() -> None:
    objs = [SAMPLE, [1, 2, 3], "x" * 1000, b"y" * 70000]
    data = b"".join(encode_frame(o) for o in objs)
    decoder = FrameDecoder()
    out: list[object] = []
    for i in range(len(data)):
        out.extend(decoder.feed(data[i : i + 1]))
    assert out == objs
    assert decoder.buffered == 0


@given(
    st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary(),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        ),
        min_size=1,
        max_size=5,
    ),
    st.data(),
)
def test_round_trip_any_split(objs: list[object], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(o) for o in objs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    decoder = FrameDecoder()
    out: list[object] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out.extend(decoder.feed(stream[prev:cut]))
        prev = cut
    assert out == objs


def _frame(
    version: int = 1,
    flags: int = 0,
    payload: bytes = b"\x91\x01",
    crc: int | None = None,
    length: int | None = None,
) -> bytes:
    n = len(payload) if length is None else length
    head = struct.pack(">BBI", version, flags, n)
    if crc is None:
        crc = zlib.crc32(payload, zlib.crc32(head))
    return MAGIC + head + struct.pack(">I", crc) + payload


def test_helper_builds_a_valid_frame() -> None:
    assert decode_frame(_frame()) == [1]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GET / HTTP/1.1\r\n", "magic"),
        (b"S", None),  # incomplete, not wrong: no error yet
        (b"SX", "magic"),
        (_frame(version=2), "version 2"),
        (_frame(flags=2), "flags"),
        (_frame(flags=0x81), "flags"),
        (_frame(flags=1), "no data"),  # a fragment too short for its header
        (_frame(payload=b""), "empty"),
        (_frame(crc=0), "CRC"),
        (_frame(payload=b"\xc1"), "undecodable"),  # 0xc1 is never valid msgpack
        (_frame(payload=b"\x01\x02"), "undecodable"),  # extra data after an object
        (_frame(payload=b"\x92\x01"), "undecodable"),  # truncated array
        (_frame(payload=b"\x81\x01\x02"), "undecodable"),  # int map key (strict_map_key)
        (_frame(payload=b"\xd4\x05\x00"), "undecodable"),  # an ext type
    ],
)
def test_bad_frames_are_refused_with_a_reason(data: bytes, reason: str | None) -> None:
    decoder = FrameDecoder()
    if reason is None:
        assert decoder.feed(data) == []
        return
    with pytest.raises(MalformedInput, match=reason):
        decoder.feed(data)
    assert decoder.failed
    with pytest.raises(MalformedInput, match="already failed"):
        decoder.feed(encode_frame([1]))


def test_oversized_length_refused_from_the_header_alone() -> None:
    decoder = FrameDecoder(max_frame_size=1024)
    header = _frame(payload=b"", length=1025)[:HEADER_SIZE]
    with pytest.raises(MalformedInput, match="exceeds the limit"):
        decoder.feed(header)  # no payload byte was sent, nor buffered
    assert decoder.buffered == 0


def test_max_u32_length_refused_with_default_limit() -> None:
    with pytest.raises(MalformedInput, match="exceeds"):
        FrameDecoder().feed(_frame(payload=b"", length=2**32 - 1)[:HEADER_SIZE])


def test_crc_covers_the_length_field() -> None:
    good = bytearray(encode_frame([1, 2, 3, 4]))
    body = bytes(good[HEADER_SIZE:]) + b"\x90"  # one more byte, length bumped to match
    head = bytearray(good[:HEADER_SIZE])
    struct.pack_into(">I", head, 4, len(body))
    with pytest.raises(MalformedInput, match="CRC"):
        decode_frame(bytes(head) + body)


def test_encode_refuses_oversized_and_unencodable_payloads() -> None:
    with pytest.raises(MalformedInput, match="exceeds"):
        encode_frame(b"x" * 2000, max_frame_size=1000)
    with pytest.raises(MalformedInput, match="cannot encode"):
        encode_frame(object())


def test_decode_frame_wants_exactly_one_frame() -> None:
    with pytest.raises(MalformedInput, match="exactly one"):
        decode_frame(encode_frame(1) + encode_frame(2))
    with pytest.raises(MalformedInput, match="exactly one"):
        decode_frame(encode_frame(1)[:-1])


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    payload = b"\x91" * 100_000 + b"\x01"
    with pytest.raises(MalformedInput):
        decode_frame(_frame(payload=payload))
