"""The replication state machine (sans-I/O): causal buffering, acknowledgments trimming
the log, resends to a stalled peer, whole states when the log no longer reaches, and
hostile input on the wire."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.activeactive.sim import cluster

from senate.activeactive.keyspace import decode_op
from senate.activeactive.messages import OPS, STATE, SYNC, CrdtMessage
from senate.errors import DecodeError, MalformedInput
from senate.wire.codec import Codec


def test_ops_wait_for_their_causal_dependencies() -> None:
    a, b, c = cluster()
    a("SADD", "s", "x")
    b.receive(a.ops)
    b("SREM", "s", "x")  # depends on a's op
    c.receive(b.ops)  # b's remove arrives first: it must wait
    assert c.space.vv == {}
    assert len(c.rep.waiting) == 1
    c.receive(a.ops)
    assert c.space.vv == {"n1": 1, "n2": 1}
    assert c("SMEMBERS", "s") == b"*0\r\n"
    c.receive(a.ops + b.ops)  # duplicates are ignored
    assert c.rep.counters["duplicates"] == 2


def test_acks_trim_the_log_and_stalled_peers_get_resends() -> None:
    a, b, _c = cluster()
    for i in range(5):
        a("INCR", f"k{i}")
    a.rep.durable_vv = dict(a.space.vv)
    assert a.rep.log_size == 5
    # b lost every push; with no earlier sync to compare, a resends at once
    (msg,) = a.rep.receive_sync("n2", {}, 1.0)
    assert msg.type == OPS and msg.dst == "n2" and len(msg.body) == 5
    b.receive(list(msg.body))  # type: ignore[arg-type]
    assert b.space.vv == {"n1": 5}
    # acks from both peers trim the log
    a.rep.receive_sync("n2", {"n1": 5}, 1.4)
    assert a.rep.log_size == 5
    a.rep.receive_sync("n3", {"n1": 5}, 1.4)
    assert a.rep.log_size == 0


def test_a_peer_making_progress_gets_no_resend() -> None:
    a, _b, _c = cluster()
    for _ in range(4):
        a("INCR", "k")
    a.rep.durable_vv = dict(a.space.vv)
    a.rep.receive_sync("n2", {"n1": 1}, 1.0)
    assert a.rep.receive_sync("n2", {"n1": 2}, 1.2) == []  # pushes are arriving
    assert len(a.rep.receive_sync("n2", {"n1": 2}, 1.4)[0].body) == 2  # now it stalls


def test_whole_state_when_the_log_no_longer_reaches() -> None:
    a, b, c = cluster()
    for _ in range(3):
        a("SADD", "s", "x")
    a.rep.durable_vv = dict(a.space.vv)
    a.rep.receive_sync("n2", {"n1": 3}, 1.0)
    a.rep.receive_sync("n3", {"n1": 3}, 1.0)  # both acked: log trimmed
    assert a.rep.log_size == 0
    # b comes back from a lost disk knowing nothing
    a.rep.receive_sync("n2", {}, 2.0)
    assert a.rep.receive_sync("n2", {}, 2.2) == []
    assert a.rep.state_wanted == {"n2"}
    vv, keys = a.space.decode_state(a.space.encode_state())
    b.space.join_state(vv, keys)
    b.rep.joined_state([])
    assert b("SMEMBERS", "s") == b"*1\r\n$1\r\nx\r\n"
    # b cannot relay a's old ops from its log: a peer needing them gets a state from b
    b.rep.durable_vv = dict(b.space.vv)
    b.rep.receive_sync("n3", {}, 3.0)
    b.rep.receive_sync("n3", {}, 3.2)
    assert b.rep.state_wanted == {"n3"}
    assert c.space.vv == {}


def test_messages_round_trip_through_the_wire_codec() -> None:
    codec = Codec()
    from senate.activeactive import register_crdt_messages

    register_crdt_messages(codec)
    for msg in (
        CrdtMessage("n1", "n2", OPS, [b"\x01", b"\x02"]),
        CrdtMessage("n1", "n2", SYNC, {"n1": 3, "n2": 0}),
        CrdtMessage("n1", "n2", STATE, b"state"),
    ):
        assert codec.decode_message(codec.encode_message("crdt", msg)) == msg


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-5, 2**64 - 1),
            st.binary(max_size=8),
            st.text(max_size=4),
            st.floats(allow_nan=True),
        ),
        lambda inner: st.lists(inner, max_size=6),
        max_leaves=30,
    )
)
def test_hostile_input_raises_only_malformed_input(obj: object) -> None:
    import msgpack

    with contextlib.suppress(MalformedInput):
        CrdtMessage.from_wire(obj)
    with contextlib.suppress(DecodeError):
        decode_op(msgpack.packb(obj, use_bin_type=True))
    with contextlib.suppress(DecodeError):
        decode_op(msgpack.packb([1, "n1", 1, [], 0, [b"k", obj]], use_bin_type=True))
