"""RaftMessage wire form: round trips, and garbage always raises MalformedInput."""

from __future__ import annotations

import contextlib
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, EntryKind, Membership, Snapshot
from senate.errors import MalformedInput
from senate.raft import RaftMessage, message_from_wire
from senate.raft.membership import encode_bootstrap
from senate.raft.messages import MessageType

ids = st.text(min_size=1, max_size=8)
uints = st.integers(min_value=0, max_value=2**40)


@st.composite
def messages(draw: st.DrawFn) -> RaftMessage:
    mtype = draw(st.sampled_from(MessageType))
    index = draw(uints)
    entries: tuple[Entry, ...] = ()
    if mtype == MessageType.APP:
        n = draw(st.integers(0, 4))
        term = draw(st.integers(1, 50))
        out = []
        for i in range(n):
            kind = draw(st.sampled_from(EntryKind))
            if kind == EntryKind.CONF_CHANGE:
                data = ConfChange(ConfChangeOp.PROMOTE, draw(ids)).encode()
            elif kind == EntryKind.CONF_BOOTSTRAP:
                data = encode_bootstrap(Membership(frozenset(draw(st.sets(ids, min_size=1)))))
            else:
                data = draw(st.binary(max_size=20))
            out.append(Entry(index + 1 + i, term, kind, data))
        entries = tuple(out)
    snap = None
    if mtype == MessageType.SNAP:
        snap = Snapshot(
            draw(uints),
            draw(uints),
            Membership(frozenset(draw(st.sets(ids, min_size=1))), frozenset(draw(st.sets(ids)))),
            draw(st.binary(max_size=30)),
        )
    return RaftMessage(
        type=mtype,
        src=draw(ids),
        dst=draw(ids),
        term=draw(uints),
        log_term=draw(uints),
        index=index,
        commit=draw(uints),
        reject=draw(st.booleans()),
        reject_hint=draw(uints),
        seq=draw(uints),
        context=draw(st.binary(max_size=10)),
        entries=entries,
        snapshot=snap,
    )


def _through_msgpack(obj: Any) -> Any:
    return msgpack.unpackb(msgpack.packb(obj), raw=False)


@given(messages())
def test_round_trip_through_msgpack(msg: RaftMessage) -> None:
    assert message_from_wire(_through_msgpack(msg.to_wire())) == msg


garbage = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what msgpack can carry
    | st.floats()
    | st.text(max_size=5)
    | st.binary(max_size=5),
    lambda inner: st.lists(inner, max_size=14),
    max_leaves=30,
)


@given(garbage)
def test_garbage_raises_malformed_input(obj: Any) -> None:
    with contextlib.suppress(MalformedInput):
        assert isinstance(message_from_wire(obj), RaftMessage)


@settings(max_examples=300)
@given(messages(), st.data())
def test_one_corrupted_field_is_refused_or_still_valid(
    msg: RaftMessage, data: st.DataObject
) -> None:
    wire = msg.to_wire()
    pos = data.draw(st.integers(0, len(wire) - 1))
    wire[pos] = data.draw(garbage)
    try:
        decoded = message_from_wire(_through_msgpack(wire))
    except MalformedInput:
        return
    assert isinstance(decoded, RaftMessage)


_NO_VOTERS = msgpack.packb([[], []])  # bootstrap entries: no voters, or one both ways
_OVERLAP = msgpack.packb([["a"], ["a"]])


@pytest.mark.parametrize(
    "wire",
    [
        None,
        [],
        [99, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [], None],
        [0, "a", "b", -1, 0, 0, 0, False, 0, 0, b"", [], None],
        [0, "a", "b", True, 0, 0, 0, False, 0, 0, b"", [], None],
        [0, "", "b", 1, 0, 0, 0, False, 0, 0, b"", [], None],
        [0, "a", "b", 1, 0, 0, 0, 1, 0, 0, b"", [], None],
        [0, "a", "b", 1, 0, 5, 0, False, 0, 0, b"", [[7, 1, 0, b""]], None],
        [0, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [[1, 1, 2, b"junk"]], None],
        [0, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [[1, 1, 3, b"junk"]], None],
        [0, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [[1, 1, 3, _NO_VOTERS]], None],
        [0, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [[1, 1, 3, _OVERLAP]], None],
        [0, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [[1, 2, 0, b""], [2, 1, 0, b""]], None],
        [8, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [], None],
        [8, "a", "b", 1, 0, 0, 0, False, 0, 0, b"", [], [1, 1, [[], []], b""]],
        [0, "a", "b", 1, 0, 0, 0, False, 0, 0, "text", [], None],
    ],
)
def test_specific_malformed_messages(wire: Any) -> None:
    with pytest.raises(MalformedInput):
        message_from_wire(wire)


def test_conf_change_context_round_trips_and_old_entries_still_decode() -> None:
    ctx = msgpack.packb({"peer": "127.0.0.1:7104", "http": "127.0.0.1:8104"})
    cc = ConfChange(ConfChangeOp.ADD_LEARNER, "n4", ctx)
    assert ConfChange.decode(cc.encode()) == cc
    # Without a context the encoding is the original two-element one, byte for byte.
    plain = ConfChange(ConfChangeOp.REMOVE, "n2")
    assert plain.encode() == msgpack.packb([2, "n2"])
    assert ConfChange.decode(msgpack.packb([2, "n2"])) == plain
    for garbage in ([0, "n4", "text"], [0, "n4", b"", 1], [True, "n4"], [0], {"op": 0}):
        with pytest.raises(MalformedInput):
            ConfChange.decode(msgpack.packb(garbage))
