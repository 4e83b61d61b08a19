"""The runtime's own peer messages (write forwards, lease questions, peer info): round trips, and
untrusted input that raises only MalformedInput (hypothesis)."""

from __future__ import annotations

import contextlib

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from senate.errors import MalformedInput
from senate.kv import KeyValue, Result, TxnResult
from senate.kv.txn import GetResult, PutResult
from senate.runtime.forward import (
    FORWARD,
    FORWARD_RESULT,
    Forward,
    ForwardResult,
    register_forward,
)
from senate.runtime.leases import (
    LEASE_KIND,
    LeaseAsk,
    LeaseReply,
    lease_message_from_wire,
    register_lease_messages,
)
from senate.runtime.peerinfo import INFO_KIND, PeerInfo, register_peer_info
from senate.wire.codec import Codec

ids = st.text(min_size=1, max_size=20)
ints = st.integers(min_value=1, max_value=(1 << 63) - 1)
wire = st.recursive(
    st.none() | st.booleans() | st.integers() | st.binary(max_size=16) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=7),
    max_leaves=30,
)


def _codec() -> Codec:
    codec = Codec()
    register_forward(codec)
    register_lease_messages(codec)
    register_peer_info(codec)
    return codec


@given(ids, ids, st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=5))
def test_forward_round_trip(src: str, dst: str, datas: list[bytes]) -> None:
    codec = _codec()
    msg = Forward(src, dst, tuple((f"c{i}", i + 1, d) for i, d in enumerate(datas)))
    envelope = msgpack.unpackb(msgpack.packb(codec.encode_message(FORWARD, msg)))
    assert codec.decode_message(envelope) == msg


@given(ids, ids, st.integers(min_value=1, max_value=2**62), st.booleans())
def test_forward_result_round_trip(src: str, dst: str, seq: int, ok: bool) -> None:
    codec = _codec()
    kv = KeyValue("k", b"v", 1, seq, 1, 0)
    results = (
        ("lane", seq, Result(seq, ok, kv, False, None if ok else "compare failed")),
        ("txn", 1, TxnResult(seq, ok, None, False, None, (PutResult(seq, kv), GetResult(None)))),
    )
    msg = ForwardResult(src, dst, results)
    envelope = msgpack.unpackb(msgpack.packb(codec.encode_message(FORWARD_RESULT, msg)))
    assert codec.decode_message(envelope) == msg


@given(ids, ids, ints, ints, st.booleans(), st.integers(min_value=-1, max_value=10**9))
def test_lease_messages_round_trip(
    src: str, dst: str, rid: int, lease: int, keepalive: bool, ttl: int
) -> None:
    codec = _codec()
    for msg in (LeaseAsk(src, dst, rid, lease, keepalive), LeaseReply(src, dst, rid, ttl, ttl)):
        envelope = msgpack.unpackb(msgpack.packb(codec.encode_message(LEASE_KIND, msg)))
        assert codec.decode_message(envelope) == msg


@given(wire)
def test_garbage_is_malformed_input_only(obj: object) -> None:
    for decode in (
        Forward.from_wire,
        ForwardResult.from_wire,
        lease_message_from_wire,
        PeerInfo.from_wire,
    ):
        with contextlib.suppress(MalformedInput):
            decode(obj)


@given(st.binary(max_size=64))
def test_random_bytes_in_an_envelope(data: bytes) -> None:
    codec = _codec()
    try:
        body = msgpack.unpackb(data)
    except Exception:
        return
    for kind in (FORWARD, LEASE_KIND, INFO_KIND):
        with contextlib.suppress(MalformedInput):
            codec.decode_message([kind, body])


@given(ids, ids, st.integers(min_value=0, max_value=65535))
def test_peer_info_round_trip(src: str, dst: str, port: int) -> None:
    codec = _codec()
    msg = PeerInfo(src, dst, f"127.0.0.1:{port}")
    envelope = msgpack.unpackb(msgpack.packb(codec.encode_message(INFO_KIND, msg)))
    assert codec.decode_message(envelope) == msg
