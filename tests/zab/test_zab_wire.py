"""The wire form: every message type round-trips, and untrusted input that is
malformed in any field raises MalformedInput (never another exception)."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, EntryKind, Membership, Snapshot
from senate.errors import MalformedInput
from senate.zab import message_from_wire
from senate.zab.messages import MessageType, ServerState, SyncMode, ZabMessage

MT = MessageType
SNAP = Snapshot(5, 2, Membership(frozenset({"a", "b"}), frozenset({"c"})), b"state")
CC = ConfChange(ConfChangeOp.ADD_LEARNER, "d").encode()

SAMPLES = [
    ZabMessage(
        MT.NOTIFY,
        "a",
        "b",
        round=3,
        state=ServerState.LEADING,
        peer="a",
        epoch=2,
        zxid_epoch=2,
        zxid_index=9,
        flag=True,
    ),
    ZabMessage(MT.FOLLOWERINFO, "b", "a", attempt=77, epoch=4),
    ZabMessage(MT.NEWEPOCH, "a", "b", attempt=77, seq=0, epoch=5),
    ZabMessage(
        MT.ACKEPOCH,
        "b",
        "a",
        attempt=77,
        epoch=4,
        zxid_epoch=4,
        zxid_index=12,
        commit=8,
        runs=((3, 10), (4, 12)),
    ),
    ZabMessage(
        MT.SYNC,
        "a",
        "b",
        attempt=77,
        seq=1,
        mode=SyncMode.TRUNC,
        index=9,
        entries=(Entry(10, 5, EntryKind.NORMAL, b"x"), Entry(11, 5, EntryKind.CONF_CHANGE, CC)),
        commit=9,
    ),
    ZabMessage(
        MT.SYNC,
        "a",
        "b",
        attempt=77,
        seq=1,
        mode=SyncMode.SNAP,
        index=5,
        snapshot=SNAP,
        entries=(Entry(6, 3, EntryKind.NOOP, b""),),
    ),
    ZabMessage(MT.NEWLEADER, "a", "b", attempt=77, seq=2, epoch=5),
    ZabMessage(MT.ACK, "b", "a", attempt=77, index=11, flag=True),
    ZabMessage(
        MT.PROPOSAL, "a", "b", attempt=77, seq=3, entries=(Entry(12, 5, EntryKind.NORMAL, b"y"),)
    ),
    ZabMessage(MT.COMMIT, "a", "b", attempt=77, seq=4, commit=12),
    ZabMessage(MT.PING, "a", "b", attempt=77, seq=5, round=9, commit=12),
    ZabMessage(MT.PING_ACK, "b", "a", attempt=77, round=9),
    ZabMessage(MT.READ, "b", "a", context=b"ctx"),
    ZabMessage(MT.READ_RESP, "a", "b", index=12, context=b"ctx"),
    ZabMessage(MT.TRANSFER, "a", "b"),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=[m.type.name + str(i) for i, m in enumerate(SAMPLES)])
def test_round_trip_through_msgpack(msg: ZabMessage) -> None:
    wire = msgpack.unpackb(msgpack.packb(msg.to_wire()))
    assert message_from_wire(wire) == msg


def _with(i: int, value: Any, base: ZabMessage = SAMPLES[4]) -> list[Any]:
    wire = base.to_wire()
    wire[i] = value
    return wire


BAD: list[Any] = [
    None,
    b"bytes",
    [],
    SAMPLES[0].to_wire()[:-1],
    _with(0, 99),  # unknown type
    _with(0, True),
    _with(1, ""),  # empty src
    _with(2, 7),
    _with(3, -1),  # negative epoch
    _with(4, 1 << 64),
    _with(5, "1"),
    _with(7, 9),  # unknown state
    _with(8, 5),
    _with(13, 0),  # a SYNC without a mode
    _with(14, 1),  # flag not a bool
    _with(15, "ctx"),
    _with(16, [[1, 2]]),  # runs on a SYNC
    _with(17, [[10, 5, 0]]),  # short entry
    _with(17, [[10, 5, 9, b""]]),  # unknown entry kind
    _with(17, [[10, 5, 0, b""], [12, 5, 0, b""]]),  # a gap
    _with(17, [[10, 5, 0, b""], [11, 4, 0, b""]]),  # epochs go down
    _with(17, [[11, 5, 0, b""]]),  # does not follow the sync point
    _with(17, [[10, 5, 2, b"\xff"]]),  # garbage conf change
    _with(18, [5, 2, [["a"], []], b""]),  # a snapshot on a TRUNC
    _with(16, [[3, 10], [3, 12]], SAMPLES[3]),  # runs must rise
    _with(8, "", SAMPLES[0]),  # a notify votes for nobody
    _with(17, [[12, 5, 0, b""], [13, 5, 0, b""]], SAMPLES[8]),  # two entries in a proposal
    _with(18, [5, 2, [[], []], b""], SAMPLES[5]),  # snapshot without voters
    _with(18, [5, 2, "members", b""], SAMPLES[5]),
    _with(13, 1, SAMPLES[9]),  # a mode on a COMMIT
]


@pytest.mark.parametrize("wire", BAD, ids=[str(i) for i in range(len(BAD))])
def test_malformed_input_is_refused(wire: Any) -> None:
    with pytest.raises(MalformedInput):
        message_from_wire(wire)


@given(
    st.integers(0, 18),
    st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.binary(),
        st.lists(st.integers(), max_size=3),
        st.booleans(),
    ),
)
def test_any_field_garbage_raises_only_malformed_input(i: int, value: Any) -> None:
    wire = random.Random(i).choice(SAMPLES).to_wire()
    wire[i] = value
    with contextlib.suppress(MalformedInput):
        message_from_wire(wire)
