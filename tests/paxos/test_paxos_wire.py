"""PaxosMessage wire form: round trips, garbage always raises MalformedInput, and an
engine never crashes on a well-formed but hostile message."""

from __future__ import annotations

import contextlib
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paxos_harness import Cluster

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, EntryKind, Membership, Snapshot
from senate.errors import MalformedInput
from senate.paxos import PaxosMessage, message_from_wire
from senate.paxos.messages import MessageType

ids = st.text(min_size=1, max_size=8)
uints = st.integers(min_value=0, max_value=2**40)


@st.composite
def messages(draw: st.DrawFn, nodes: list[str] | None = None) -> PaxosMessage:
    mtype = draw(st.sampled_from(MessageType))
    index = draw(st.integers(0, 40) if nodes else uints)
    log_term = draw(st.integers(0, 2**20))
    entries: tuple[Entry, ...] = ()
    snap = None
    if mtype in (MessageType.ACCEPT, MessageType.PROMISE):
        if draw(st.booleans()):
            member = st.sampled_from(nodes) if nodes else ids
            snap = Snapshot(
                index,
                log_term,
                Membership(frozenset(draw(st.sets(member, min_size=1)))),
                draw(st.binary(max_size=8)) if not nodes else b"\x90",
            )
        term = log_term + draw(st.integers(1, 2**20))
        out = []
        for i in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(EntryKind))
            data = (
                ConfChange(ConfChangeOp.ADD_LEARNER, draw(ids)).encode()
                if kind == EntryKind.CONF_CHANGE
                else draw(st.binary(max_size=20))
            )
            out.append(Entry(index + 1 + i, term, kind, data))
        entries = tuple(out)
    src = draw(st.sampled_from(nodes)) if nodes else draw(ids)
    dst = nodes[0] if nodes else draw(ids)
    return PaxosMessage(
        type=mtype,
        src=src,
        dst=dst,
        ballot=draw(st.integers(0, 2**22) if nodes else uints),
        index=index,
        log_term=log_term,
        commit=draw(st.integers(0, 50) if nodes else uints),
        accepted=draw(uints),
        sync_end=draw(st.integers(0, 50) if nodes else uints),
        hint=draw(uints),
        seq=draw(uints),
        reject=draw(st.booleans()),
        context=draw(st.binary(max_size=10)),
        entries=entries,
        snapshot=snap,
    )


def _through_msgpack(obj: Any) -> Any:
    return msgpack.unpackb(msgpack.packb(obj), raw=False)


@given(messages())
def test_round_trip_through_msgpack(msg: PaxosMessage) -> None:
    assert message_from_wire(_through_msgpack(msg.to_wire())) == msg


garbage = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=5)
    | st.binary(max_size=5),
    lambda inner: st.lists(inner, max_size=16),
    max_leaves=30,
)


@given(garbage)
def test_garbage_raises_malformed_input(obj: Any) -> None:
    with contextlib.suppress(MalformedInput):
        assert isinstance(message_from_wire(obj), PaxosMessage)


@settings(max_examples=300)
@given(messages(), st.data())
def test_one_corrupted_field_is_refused_or_still_valid(
    msg: PaxosMessage, data: st.DataObject
) -> None:
    wire = msg.to_wire()
    pos = data.draw(st.integers(0, len(wire) - 1))
    wire[pos] = data.draw(garbage)
    try:
        decoded = message_from_wire(_through_msgpack(wire))
    except MalformedInput:
        return
    assert isinstance(decoded, PaxosMessage)


_OK = [2, "a", "b", 1, 0, 0, 0, 0, 0, 0, 0, False, b"", [], None]


def _with(**at: Any) -> list[Any]:
    wire = list(_OK)
    for pos, value in at.items():
        wire[int(pos[1:])] = value
    return wire


@pytest.mark.parametrize(
    "wire",
    [
        None,
        [],
        _OK[:-1],
        _with(f0=99),
        _with(f3=-1),
        _with(f3=True),
        _with(f1=""),
        _with(f11=1),
        _with(f12="text"),
        _with(f4=5, f13=[[7, 1, 0, b""]]),  # entries must follow index
        _with(f13=[[1, 1, 2, b"junk"]]),  # a conf change that does not decode
        _with(f13=[[1, 2, 0, b""], [2, 1, 0, b""]]),  # ballots going down
        _with(f5=9, f13=[[1, 2, 0, b""]]),  # entry ballot below the one before
        _with(f0=4, f13=[[1, 1, 0, b""]]),  # a heartbeat carries no entries
        _with(f14=[1, 1, [[], []], b""]),  # snapshot without voters
        _with(f4=3, f5=1, f14=[2, 1, [["a"], []], b""]),  # snapshot not named by index
        _with(f0=0, f4=2, f5=1, f14=[2, 1, [["a"], []], b""]),  # only accepts/promises
    ],
)
def test_specific_malformed_messages(wire: Any) -> None:
    with pytest.raises(MalformedInput):
        message_from_wire(wire)


def test_the_well_formed_example_decodes() -> None:
    assert message_from_wire(_OK).type == MessageType.ACCEPT


@settings(max_examples=150, deadline=None)
@given(st.lists(messages(nodes=["a", "b", "c"]), max_size=12), st.booleans())
def test_an_engine_never_crashes_on_hostile_messages(
    msgs: list[PaxosMessage], as_leader: bool
) -> None:
    c = Cluster(["a", "b", "c"])
    c.campaign("a") if as_leader else c.campaign("b")
    c.propose(c.leader(), b"x", b"y")
    eng = c.engines["a"]
    for m in msgs:
        eng.step(m)
        c.process("a")
        eng.tick()
        c.process("a")
