"""Messages larger than one frame: fragment frames, their reassembly and its limits."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senate.errors import MalformedInput
from senate.wire.frame import (
    FLAG_FRAGMENT,
    FRAGMENT_HEADER,
    FRAGMENT_HEADER_SIZE,
    HEADER,
    HEADER_SIZE,
    MAGIC,
    FrameDecoder,
    encode_frame,
    encode_frames,
    pack_payload,
)

FRAME = 256  # a small frame limit keeps every test tiny
BIG = {"data": bytes(range(256)) * 8}  # ~2 KiB payload: several fragments
SMALL = ["raft", [1, "n1", "n2", b"\x00\xff" * 10]]


def frag(
    msg_id: int, index: int, count: int, total: int, chunk: bytes, *, crc: int | None = None
) -> bytes:
    body = FRAGMENT_HEADER.pack(msg_id, index, count, total) + chunk
    head = struct.pack(">BBI", 1, FLAG_FRAGMENT, len(body))
    if crc is None:
        crc = zlib.crc32(body, zlib.crc32(head))
    return MAGIC + head + struct.pack(">I", crc) + body


def fragments(payload: bytes, chunk: int, msg_id: int = 7) -> list[bytes]:
    count = -(-len(payload) // chunk)
    return [
        frag(msg_id, i, count, len(payload), payload[i * chunk : (i + 1) * chunk])
        for i in range(count)
    ]


def feed_all(decoder: FrameDecoder, frames: list[bytes], step: int = 0) -> list[object]:
    data = b"".join(frames)
    step = step or len(data) or 1
    out: list[object] = []
    for i in range(0, len(data), step):
        out.extend(decoder.feed(data[i : i + step]))
    return out


def test_small_messages_are_the_same_single_frame_as_before() -> None:
    for obj in (SMALL, "x" * 1000, b"y" * 70000, {"k": [1.5, None, True]}):
        frame = encode_frame(obj)
        assert encode_frames(obj) == [frame]
        assert frame[3] == 0  # flags
    # A payload exactly at the limit is still one plain frame.
    payload = pack_payload(b"z" * 200)
    assert encode_frames(b"z" * 200, len(payload)) == [encode_frame(b"z" * 200, len(payload))]


def test_a_large_message_splits_into_bounded_fragments_and_reassembles() -> None:
    frames = encode_frames(BIG, FRAME, fragment_size=100)
    payload = pack_payload(BIG)
    assert len(frames) == -(-len(payload) // 100) >= 2
    ids = set()
    for i, f in enumerate(frames):
        _magic, _version, flags, length, _crc = HEADER.unpack_from(f)
        assert flags == FLAG_FRAGMENT and length <= FRAME and len(f) == HEADER_SIZE + length
        msg_id, index, count, total = FRAGMENT_HEADER.unpack_from(f, HEADER_SIZE)
        assert (index, count, total) == (i, len(frames), len(payload))
        ids.add(msg_id)
    assert len(ids) == 1
    for step in (1, 7, 300, 0):
        decoder = FrameDecoder(FRAME)
        assert feed_all(decoder, [encode_frame(SMALL), *frames, encode_frame(SMALL)], step) == [
            SMALL,
            BIG,
            SMALL,
        ]
        assert decoder.buffered == 0


def test_fragment_size_is_clamped_to_the_frame_limit() -> None:
    frames = encode_frames(BIG, FRAME, fragment_size=1 << 30)
    assert all(len(f) == HEADER_SIZE + FRAME for f in frames[:-1])
    assert feed_all(FrameDecoder(FRAME), frames) == [BIG]


def test_the_sender_refuses_a_message_over_the_message_limit() -> None:
    with pytest.raises(MalformedInput, match="exceeds the limit"):
        encode_frames(BIG, FRAME, max_message_size=1000)


def test_a_declared_size_over_the_bound_is_refused_before_buffering() -> None:
    decoder = FrameDecoder(FRAME, max_message_size=10_000)
    with pytest.raises(MalformedInput, match="exceeds the limit"):
        decoder.feed(frag(1, 0, 2, 10_001, b"x"))
    assert decoder.failed and decoder.buffered == 0
    # A huge declared size costs only what arrived: nothing is preallocated.
    decoder = FrameDecoder(FRAME, max_message_size=1 << 30)
    assert decoder.feed(frag(1, 0, 1 << 20, 1 << 30, b"x" * 100)) == []
    assert decoder.buffered == 100


PAYLOAD = pack_payload({"v": b"q" * 50})  # 57 bytes


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([frag(1, 1, 2, len(PAYLOAD), PAYLOAD[:30])], "without its first"),
        ([frag(1, 0, 1, len(PAYLOAD), PAYLOAD)], "of 1 fragments"),
        ([frag(1, 0, 0, len(PAYLOAD), PAYLOAD)], "of 0 fragments"),
        ([frag(1, 0, 3, 2, b"ab")], "cannot fill"),
        ([frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30]), encode_frame(SMALL)], "interrupted"),
        (
            [frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30]), frag(2, 1, 2, len(PAYLOAD), PAYLOAD[30:])],
            "inside message",
        ),
        (
            [frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30]), frag(1, 1, 3, len(PAYLOAD), PAYLOAD[30:])],
            "inside message",
        ),
        (
            [frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30]), frag(1, 1, 2, 99, PAYLOAD[30:])],
            "inside message",
        ),
        (
            [frag(1, 0, 3, len(PAYLOAD), PAYLOAD[:20]), frag(1, 2, 3, len(PAYLOAD), PAYLOAD[20:])],
            "where 1 was due",
        ),
        (
            [frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30]), frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30])],
            "where 1 was due",
        ),
        ([frag(1, 0, 2, len(PAYLOAD), PAYLOAD)], "brings"),  # nothing left for fragment 1
        (
            [
                frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30]),
                frag(1, 1, 2, len(PAYLOAD), PAYLOAD[30:-1]),
            ],
            "brings",
        ),
        (
            [
                frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30]),
                frag(1, 1, 2, len(PAYLOAD), PAYLOAD[30:] + b"!"),
            ],
            "brings",
        ),
        ([frag(1, 0, 2, len(PAYLOAD), PAYLOAD[:30], crc=0)], "CRC"),
        ([*fragments(b"\xc1" * 60, 30)], "undecodable"),  # reassembled, then not msgpack
    ],
)
def test_bad_fragment_streams_are_refused_with_a_reason(frames: list[bytes], reason: str) -> None:
    decoder = FrameDecoder(FRAME)
    with pytest.raises(MalformedInput, match=reason):
        feed_all(decoder, frames)
    assert decoder.failed
    assert decoder.buffered == 0
    with pytest.raises(MalformedInput, match="already failed"):
        decoder.feed(encode_frame(SMALL))


def test_hand_built_fragments_reassemble() -> None:
    assert feed_all(FrameDecoder(FRAME), fragments(PAYLOAD, 10)) == [{"v": b"q" * 50}]


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ints = st.sampled_from([0, 1, 2, 3, 5, 57, 58, 2**31, 2**32 - 1])


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.sampled_from([1, 2]), ints, ints, ints, st.binary(min_size=0, max_size=40)
            ),
            st.just(None),  # a plain frame in between
            st.integers(0, 8),  # a valid fragment of PAYLOAD (split in 8-byte chunks)
        ),
        max_size=12,
    ),
    st.lists(st.integers(1, 64), min_size=1, max_size=4),
)
def test_fuzzed_fragment_streams_only_raise_malformed_input(
    parts: list[object], steps: list[int]
) -> None:
    good = fragments(PAYLOAD, 8, msg_id=1)
    frames: list[bytes] = []
    for part in parts:
        if part is None:
            frames.append(encode_frame(SMALL))
        elif isinstance(part, int):
            frames.append(good[min(part, len(good) - 1)])
        else:
            assert isinstance(part, tuple)
            frames.append(frag(*part))
    data = b"".join(frames)
    decoder = FrameDecoder(FRAME, max_message_size=1000)
    pos = 0
    try:
        for i in range(len(data)):
            step = steps[i % len(steps)]
            if pos >= len(data):
                break
            for obj in decoder.feed(data[pos : pos + step]):
                assert obj in (SMALL, {"v": b"q" * 50})
            pos += step
    except MalformedInput:
        assert decoder.failed and decoder.buffered == 0
    assert decoder.buffered <= 1000 + FRAME + HEADER_SIZE


@FUZZ
@given(st.binary(min_size=1, max_size=600), st.integers(1, 64), st.data())
def test_any_payload_round_trips_through_any_fragmentation(
    blob: bytes, chunk: int, data: st.DataObject
) -> None:
    frames = encode_frames(blob, 64, fragment_size=chunk)
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    decoder = FrameDecoder(64)
    out: list[object] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out.extend(decoder.feed(stream[prev:cut]))
        prev = cut
    assert out == [blob] and decoder.buffered == 0
    assert all(len(f) <= HEADER_SIZE + 64 for f in frames)
    assert len(frames) == 1 or all(f[3] == FLAG_FRAGMENT for f in frames)
    assert FRAGMENT_HEADER_SIZE == 24
