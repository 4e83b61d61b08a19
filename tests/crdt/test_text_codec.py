"""The Text binary format: round trips, versioning, and fuzzing with untrusted bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senate.crdt.text import DeleteRun, InsertRun, Text, TextDelta, decode_update, encode_update
from senate.crdt.text.codec import FORMAT, MAGIC
from senate.errors import CRDTError, DecodeError


def sample() -> tuple[Text, list[TextDelta]]:
    a = Text("alice")
    deltas = [a.insert(0, "Hello, wörld 😀!"), a.delete(3, 2)]
    b = a.fork("bob")
    deltas += [b.insert(5, "XY"), a.insert(1, "zz"), b.delete(0, 1)]
    a.merge(b)
    return a, deltas


def test_document_and_update_round_trip() -> None:
    a, deltas = sample()
    again = Text.decode(a.encode())
    assert str(again) == str(a) and again.canonical() == a.canonical()
    assert again.version == a.version and again.replica == "alice"
    fresh = Text("c")
    for d in deltas:
        back = decode_update(encode_update(d))
        assert back == d
        fresh.merge(back)
    assert fresh.canonical() == a.canonical()


def test_header_is_checked() -> None:
    a, deltas = sample()
    doc, upd = a.encode(), deltas[0].encode()
    assert doc[:4] == MAGIC and doc[4] == FORMAT
    with pytest.raises(DecodeError, match="magic"):
        Text.decode(b"JUNK" + doc[4:])
    with pytest.raises(DecodeError, match="format"):
        Text.decode(doc[:4] + bytes([FORMAT + 1]) + doc[5:])
    with pytest.raises(DecodeError, match="expected a text document"):
        Text.decode(upd)
    with pytest.raises(DecodeError, match="expected a text update"):
        decode_update(doc)
    with pytest.raises(DecodeError, match="trailing"):
        Text.decode(doc + b"\x00")
    with pytest.raises(DecodeError, match="canonical"):
        Text.decode(a.canonical())
    with pytest.raises(DecodeError):
        Text.decode("text")  # type: ignore[arg-type]


def exercise(data: bytes) -> None:
    """Decode untrusted bytes; if they decode, use the result. Only our errors may leak."""
    for decode in (Text.decode, decode_update):
        try:
            obj = decode(data)
        except DecodeError as e:
            assert str(e)
            continue
        try:
            target = Text("probe")
            target.merge(obj)
            str(target)
            target.insert(len(target), "!")
            if len(target) > 1:
                target.delete(0, 1)
            if isinstance(obj, Text):
                str(obj)
                Text.decode(obj.encode())
                obj.delta_since({})
                obj.compact(obj.version)
        except CRDTError:
            pass


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    exercise(data)
    exercise(MAGIC + bytes([FORMAT, 0]) + data)
    exercise(MAGIC + bytes([FORMAT, 1]) + data)


VALID = [sample()[0].encode(), *(d.encode() for d in sample()[1])]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(0, 10_000),
)
def test_mutated_encodings_never_crash(
    data: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    raw = bytearray(data)
    for i, b in edits:
        raw[i % len(raw)] = b
    exercise(bytes(raw))
    exercise(bytes(raw[: cut % len(raw)]))
    exercise(data[: cut % len(data)])


agent = st.sampled_from(["a", "b", "c"])
char_id = st.one_of(st.none(), st.tuples(agent, st.integers(0, 12)))
hostile_insert = st.builds(
    lambda a, s, n, d, left, right: InsertRun(a, s, n, "" if d else "q" * n, d, left, right),
    agent, st.integers(0, 12), st.integers(1, 4), st.booleans(), char_id, char_id,
)
hostile_delete = st.builds(
    lambda a, s, n, t: DeleteRun(a, s, n, tuple(t)),
    agent, st.integers(0, 12), st.integers(1, 4),
    st.lists(st.tuples(agent, st.integers(0, 12), st.integers(1, 4)), max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(hostile_insert, hostile_delete), max_size=25), st.booleans())
def test_well_formed_but_hostile_ops_never_crash(
    ops: list[InsertRun | DeleteRun], compact: bool
) -> None:
    # Ops a decoder would accept but whose ids, origins and targets make no sense
    # (reused ids, origins after the op, self-references, unknown targets).
    doc = Text("a")
    doc.insert(0, "hello")
    doc.delete(1, 2)
    for op in ops:
        delta = TextDelta([op]) if isinstance(op, InsertRun) else TextDelta(deletes=[op])
        with contextlib.suppress(CRDTError):
            doc.merge(decode_update(encode_update(delta)))
    try:
        str(doc)
        doc.insert(len(doc), "z")
        Text.decode(doc.encode())
        doc.delta_since({})
        if compact:
            doc.compact(doc.version)
        other = Text("u")
        other.merge(doc)
        str(other)
    except CRDTError:
        pass
