"""Fuzzing every wire decoder: hostile bytes only ever raise MalformedInput.

Random mutations of valid frames mostly die at the CRC, so a second family wraps
random payload bytes in frames with a correct CRC, which drives msgpack's decoder
and the envelope decoders with garbage too.
"""

from __future__ import annotations

import contextlib
import struct
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senate.errors import MalformedInput
from senate.wire.codec import Codec, decode_handshake
from senate.wire.frame import MAGIC, FrameDecoder, encode_frame
from senate.wire.probe import PROBE, Probe, register_probe

CODEC = Codec()
register_probe(CODEC)
VALID = [
    CODEC.encode_message(PROBE, Probe("n1", "n2", 1, b"abc")),
    CODEC.encode_message(PROBE, Probe("n2", "n1", 2**40, b"")),
    ["hello", [1, "cluster", "n3"]],
]
VALID_STREAM = b"".join(encode_frame(v) for v in VALID)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def _consume(data: bytes, cuts: list[int], max_frame_size: int = 1 << 20) -> None:
    """Feed `data` in chunks and decode whatever comes out; only MalformedInput may escape."""
    decoder = FrameDecoder(max_frame_size)
    try:
        for chunk in _chunks(data, cuts):
            for obj in decoder.feed(chunk):
                with contextlib.suppress(MalformedInput):
                    CODEC.decode_message(obj)
                with contextlib.suppress(MalformedInput):
                    decode_handshake(obj)
    except MalformedInput:
        assert decoder.failed


def _fresh_decoder_still_works() -> None:
    assert FrameDecoder().feed(VALID_STREAM) == VALID


def _wrap(payload: bytes) -> bytes:
    head = struct.pack(">BBI", 1, 0, len(payload))
    return MAGIC + head + struct.pack(">I", zlib.crc32(payload, zlib.crc32(head))) + payload


cuts = st.lists(st.integers(0, 4096), max_size=8)


@FUZZ
@given(st.binary(max_size=2048), cuts)
def test_random_bytes(data: bytes, chunk_cuts: list[int]) -> None:
    _consume(data, chunk_cuts)
    _consume(MAGIC + data, chunk_cuts)
    _fresh_decoder_still_works()


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(VALID_STREAM) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, len(VALID_STREAM)),
    st.binary(max_size=16),
    cuts,
)
def test_mutated_valid_frames(
    flips: list[tuple[int, int]], insert_at: int, inserted: bytes, chunk_cuts: list[int]
) -> None:
    data = bytearray(VALID_STREAM)
    for pos, value in flips:
        data[pos] = value
    data[insert_at:insert_at] = inserted
    _consume(bytes(data), chunk_cuts)
    _consume(bytes(data[: len(data) // 2]), chunk_cuts)  # truncated too
    _fresh_decoder_still_works()


@FUZZ
@given(st.lists(st.binary(min_size=1, max_size=512), min_size=1, max_size=4), cuts)
def test_random_payloads_in_frames_with_valid_crc(
    payloads: list[bytes], chunk_cuts: list[int]
) -> None:
    _consume(b"".join(_wrap(p) for p in payloads), chunk_cuts)
    _fresh_decoder_still_works()


wire_objects = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.sampled_from(["probe", "hello", "reject", "raft", "n1", "n2"]),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=15,
)


@FUZZ
@given(wire_objects)
def test_random_objects_through_the_envelope_decoders(obj: object) -> None:
    frame = encode_frame(obj)
    _consume(frame, [])
    for candidate in (obj, ["probe", obj], ["hello", obj], ["reject", obj]):
        with contextlib.suppress(MalformedInput):
            CODEC.decode_message(candidate)
        with contextlib.suppress(MalformedInput):
            decode_handshake(candidate)


def test_the_fuzzer_can_fail() -> None:
    # Guard against a harness that swallows everything: a valid stream decodes, and a
    # bad one does raise MalformedInput from the decoder.
    _fresh_decoder_still_works()
    decoder = FrameDecoder()
    try:
        decoder.feed(b"\x00" * 16)
    except MalformedInput:
        assert decoder.failed
    else:
        raise AssertionError("garbage was accepted")
