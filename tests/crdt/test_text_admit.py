"""Untrusted updates: merge refuses what can never become valid, changing nothing, and
whatever it keeps waiting drains once the missing seqs arrive (hypothesis).

The property, for a replica D and an update U that is any byte string or a valid
update of a related replica with bytes or fields mutated:

    decode_update(U) raises DecodeError; or D.merge(U) raises CRDTError and D's
    encoding (state, version, waiting ops) is byte-for-byte what it was; or the
    merge succeeds, and then delivering an op at every seq in D.wanted() (here a
    tombstone insert with no origins, the least an honest peer could send), repeated
    while ops wait, empties the waiting buffer in a bounded number of rounds.

So no update can leave ops waiting forever (a cycle, a wait on its own future, a wait
for a character that is a delete) and every later op of their replicas with them.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senate.crdt.text import (
    DeleteRun,
    InsertRun,
    Text,
    TextDelta,
    admit,
    decode_update,
    encode_update,
)
from senate.errors import CRDTError, DecodeError

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def history() -> tuple[Text, Text, list[TextDelta]]:
    """A replica `d` that saw the start of a session, and the deltas it missed."""
    s = Text("s")
    t = Text("t")
    s.insert(0, "hello world")
    t.merge(s)
    t.insert(5, " there")
    s.delete(0, 1)
    s.merge(t)
    d = s.fork("d")
    d.insert(0, ">")
    deltas = [s.insert(3, "XY"), t.delete(2, 3), s.delete(4, 2)]
    deltas.append(t.insert(1, "q"))
    deltas.append(s.delta_since({}))
    deltas.append(s.delta_since(d.version))
    return d, s, deltas


BASE, SOURCE, DELTAS = history()


def drains(doc: Text) -> None:
    """Deliver the seqs waiting ops want until none waits; fail if that cannot work."""
    for _ in range(20):
        if not doc.pending_count():
            return
        wanted = doc.wanted()
        assert wanted, "ops wait but want nothing: they can never apply"
        for agent, start, end in wanted:
            doc.merge(TextDelta([InsertRun(agent, start, end - start, "", True, None, None)]))
    assert not doc.pending_count(), "the waiting buffer did not drain"


def exercise(doc: Text, update: bytes | TextDelta) -> None:
    before = doc.encode()
    text = str(doc)
    try:
        delta = update if isinstance(update, TextDelta) else decode_update(update)
    except DecodeError as e:
        assert str(e)
        return
    try:
        doc.merge(delta)
    except CRDTError as e:
        assert str(e)
        assert doc.encode() == before and str(doc) == text
        return
    drains(doc)
    doc.insert(len(doc), "!")
    assert str(Text.decode(doc.encode())) == str(doc)


@SETTINGS
@given(st.binary(max_size=120))
def test_any_bytes(data: bytes) -> None:
    for prefix in (b"", b"SNTX\x01\x01"):
        exercise(Text.decode(BASE.encode()), prefix + data)


@SETTINGS
@given(
    st.sampled_from(DELTAS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_byte_mutated_updates(delta: TextDelta, edits: list[tuple[int, int]]) -> None:
    raw = bytearray(delta.encode())
    for i, b in edits:
        raw[6 + i % (len(raw) - 6)] = b  # keep the header: reach the ops
    exercise(Text.decode(BASE.encode()), bytes(raw))


agents = st.sampled_from(["s", "t", "d", "x"])
seqs = st.integers(0, 30)
ids = st.one_of(st.none(), st.tuples(agents, seqs))


def mutate_op(data: st.DataObject, op: InsertRun | DeleteRun) -> InsertRun | DeleteRun:
    field = data.draw(st.sampled_from(["agent", "seq", "length", "a", "b"]))
    if field == "agent":
        return op._replace(agent=data.draw(agents))
    if field == "seq":
        return op._replace(seq=data.draw(seqs))
    if field == "length":
        n = data.draw(st.integers(1, 6))
        if isinstance(op, InsertRun):
            return op._replace(length=n, text="" if op.deleted else ("z" * n))
        return op._replace(length=n)
    if isinstance(op, InsertRun):
        return op._replace(**{"left" if field == "a" else "right": data.draw(ids)})
    targets = list(op.targets)
    new = (data.draw(agents), data.draw(seqs), data.draw(st.integers(1, 5)))
    if targets and field == "a":
        targets[data.draw(st.integers(0, len(targets) - 1))] = new
    else:
        targets.append(new)
    return op._replace(targets=tuple(targets))


@SETTINGS
@given(st.data())
def test_field_mutated_updates(data: st.DataObject) -> None:
    """Valid updates with ids, seqs, origins and targets changed: well-formed bytes
    that reach the merge (byte flips mostly stop at the decoder)."""
    doc = Text.decode(BASE.encode())
    for _ in range(data.draw(st.integers(1, 3))):  # a few updates in a row
        delta = data.draw(st.sampled_from(DELTAS)).copy()
        ops: list[InsertRun | DeleteRun] = [*delta.inserts, *delta.deletes]
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(ops) - 1))
            ops[i] = mutate_op(data, ops[i])
        mutated = TextDelta(
            [o for o in ops if isinstance(o, InsertRun)],
            [o for o in ops if isinstance(o, DeleteRun)],
        )
        exercise(doc, encode_update(mutated))


def test_delete_of_own_future_is_refused() -> None:
    # The reported case: a delete targeting its own replica's later seqs would wait
    # forever, and every later op of that replica behind it.
    doc = Text("d")
    doc.insert(0, "abc")
    bad = TextDelta(deletes=[DeleteRun("e", 0, 1, (("e", 5, 1),))])
    before = doc.encode()
    with pytest.raises(CRDTError, match="cannot have seen"):
        doc.merge(decode_update(encode_update(bad)))
    assert doc.encode() == before and doc.pending_count() == 0
    e = Text("e")
    e.merge(doc)
    doc.merge(e.insert(0, "E"))  # e's real ops still flow
    assert str(doc) == "Eabc"


def test_what_can_never_be_valid_is_refused_and_changes_nothing() -> None:
    a = Text("a")
    a.insert(0, "ab")
    a.delete(0, 1)  # a:2 is a delete op, not a character
    cases = [
        # an insert anchored on a delete op's seq
        TextDelta([InsertRun("b", 0, 1, "x", False, ("a", 2), None)]),
        # a delete of a seq the same update makes a delete op
        TextDelta(deletes=[DeleteRun("c", 0, 1, (("c", 0, 1),))]),
        TextDelta(deletes=[DeleteRun("b", 1, 1, (("c", 1, 1),)), DeleteRun("c", 0, 2, ())]),
        # one seq claimed as an insert and as a delete
        TextDelta(
            [InsertRun("b", 0, 2, "xy", False, None, None)], [DeleteRun("b", 1, 1, (("a", 0, 1),))]
        ),
        # an op that overlaps what is applied here as the other kind (one wholly
        # applied already is skipped: merging is idempotent)
        TextDelta([InsertRun("a", 2, 2, "zz", False, None, None)]),
        # two waiting ops that wait on each other
        TextDelta(
            [
                InsertRun("b", 0, 1, "x", False, ("c", 0), None),
                InsertRun("c", 0, 1, "y", False, ("b", 0), None),
            ]
        ),
        # an origin in the author's own future
        TextDelta([InsertRun("b", 0, 1, "x", False, ("b", 3), None)]),
    ]
    for bad in cases:
        before = a.encode()
        with pytest.raises(CRDTError, match=r"refused|cannot have seen|both"):
            a.merge(bad)
        assert a.encode() == before, bad


def test_a_cycle_through_the_waiting_buffer_is_refused() -> None:
    a = Text("a")
    a.merge(TextDelta([InsertRun("b", 0, 1, "x", False, ("c", 0), None)]))  # waits for c:0
    assert a.wanted() == [("c", 0, 1)]
    before = a.encode()
    with pytest.raises(CRDTError, match="cycle"):
        a.merge(TextDelta([InsertRun("c", 0, 1, "y", False, ("b", 0), None)]))
    assert a.encode() == before
    a.merge(TextDelta([InsertRun("c", 0, 1, "y", False, None, None)]))
    assert str(a) == "yx" and a.pending_count() == 0


def test_a_waiting_op_revealed_invalid_is_dropped_not_blocking() -> None:
    a = Text("a")
    a.merge(TextDelta([InsertRun("b", 0, 1, "x", False, ("c", 1), None)]))
    # c:1 turns out to be a delete: b:0 can never apply; c's ops go through anyway.
    c = Text("c")
    c.insert(0, "q")
    c.delete(0, 1)
    a.merge(c)
    assert a.pending_count() == 0 and a.version.get("c") == 2


def test_the_waiting_buffer_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert admit.MAX_PENDING >= 10_000
    monkeypatch.setattr(admit, "MAX_PENDING", 50)
    a = Text("a")
    far = [InsertRun("b", 2 * i + 1, 1, "x", False, None, None) for i in range(50)]
    a.merge(TextDelta(far))
    assert a.pending_count() == 50
    before = a.encode()
    with pytest.raises(CRDTError, match="at most"):
        a.merge(TextDelta([InsertRun("c", 1, 1, "y", False, None, None)]))
    assert a.encode() == before
    a.merge(TextDelta([InsertRun("b", 0, 1, "x", False, None, None)]))  # one drains
    assert a.pending_count() == 49
