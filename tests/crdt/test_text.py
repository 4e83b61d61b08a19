"""Text: the API contract, causal buffering, deltas by version, and compaction."""

from __future__ import annotations

import pytest

from senate.clocks import VersionVector
from senate.crdt.text import Text, TextDelta, decode_update, encode_update
from senate.errors import CRDTError


def test_the_documented_api() -> None:
    a = Text(replica="a")
    d = a.insert(0, "hello")
    assert isinstance(d, TextDelta)
    b = a.fork("b")
    assert b.replica == "b" and str(b) == "hello"
    b.merge(d)
    b.merge(a)
    assert str(b) == "hello"
    d2 = a.delete(1, 3)
    assert isinstance(d2, TextDelta) and str(a) == "ho" and len(a) == 2
    b.merge(Text.decode_update(d2.encode()))
    b.merge(decode_update(encode_update(d2)))
    assert str(b) == "ho"
    assert str(Text.decode(a.encode())) == "ho"
    assert Text.decode(a.encode()).replica == "a"
    assert a.version == VersionVector({"a": 8})  # 5 inserted + 3 deleted characters


def test_the_shape_shared_with_the_other_crdts() -> None:
    a = Text("a")
    d = a.insert(0, "ab")
    group = d.copy()
    group.merge(a.insert(2, "c"))
    group.merge(a.delete(0, 1))
    assert len(d) == 2 and len(group) == 4
    b = a.copy()
    assert b.replica == "a" and b.value == a.value == "bc"
    assert b.encode_state() == a.canonical()
    c = Text("c")
    c.merge(group)
    assert c.value == "bc"


def test_positions_count_code_points() -> None:
    a = Text("a")
    a.insert(0, "a😀b")
    a.insert(2, "é")
    assert str(a) == "a😀éb" and len(a) == 4
    a.delete(1, 1)
    assert str(a) == "aéb"
    assert str(Text.decode(a.encode())) == "aéb"


def test_lone_surrogates_survive_encoding() -> None:
    a = Text("a")
    a.insert(0, "x\ud800y")
    assert str(Text.decode(a.encode())) == "x\ud800y"


@pytest.mark.parametrize(
    ("call", "args"),
    [("insert", (-1, "x")), ("insert", (4, "x")), ("delete", (2, 2)), ("delete", (-1, 1)),
     ("delete", (0, -1)), ("insert", (1.5, "x")), ("delete", (0, True)), ("insert", (0, b"x"))],
)
def test_out_of_range_edits_raise(call: str, args: tuple[int, object]) -> None:
    a = Text("a")
    a.insert(0, "abc")
    with pytest.raises(CRDTError):
        getattr(a, call)(*args)
    assert str(a) == "abc"


def test_bad_replica_ids_and_merge_arguments_raise() -> None:
    with pytest.raises(CRDTError):
        Text("")
    with pytest.raises(CRDTError):
        Text("r" * 257)
    a = Text("a")
    with pytest.raises(CRDTError):
        a.fork("a")
    with pytest.raises(CRDTError):
        a.merge("not a delta")  # type: ignore[arg-type]


def test_empty_edits_return_empty_deltas() -> None:
    a = Text("a")
    assert a.insert(0, "").is_empty() and a.delete(0, 0).is_empty()
    assert a.version == VersionVector()


def test_out_of_order_ops_wait_for_their_dependencies() -> None:
    a = Text("a")
    d1 = a.insert(0, "ab")
    d2 = a.insert(1, "X")  # anchored inside d1
    d3 = a.delete(0, 1)
    b = Text("b")
    b.merge(d3)
    b.merge(d2)
    assert str(b) == "" and b.pending_count() == 2
    assert b.version == VersionVector()
    b.merge(d1)
    assert str(b) == str(a) == "Xb" and b.pending_count() == 0
    assert b.canonical() == a.canonical()


def test_waiting_ops_survive_encoding_and_whole_state_merges() -> None:
    a = Text("a")
    d1 = a.insert(0, "ab")
    d2 = a.insert(2, "c")
    b = Text("b")
    b.merge(d2)
    b2 = Text.decode(b.encode())
    assert b2.pending_count() == 1
    c = Text("c")
    c.merge(b2)  # carries the waiting op along
    c.merge(d1)
    assert str(c) == "abc"


def test_delta_since_sends_exactly_what_is_missing() -> None:
    a = Text("a")
    a.insert(0, "hello world")
    b = a.fork("b")
    a.insert(5, ",")
    a.delete(0, 1)
    b.insert(0, ">")
    d = a.delta_since(b.version)
    assert len(d) == 2  # one inserted and one deleted character
    b.merge(d)
    a.merge(a.delta_since(VersionVector()))  # everything again: a no-op
    a.merge(b.delta_since(a.version))
    assert str(a) == str(b) == ">ello, world"
    assert a.delta_since(a.version).is_empty()
    assert a.delta_since({"a": 0, "b": 0}).inserts  # plain mappings work too


def test_partly_known_runs_are_trimmed_not_duplicated() -> None:
    a = Text("a")
    a.insert(0, "abc")
    b = a.fork("b")
    a.insert(3, "def")
    whole = a.delta_since(VersionVector())  # "abcdef" as one run
    assert len(whole.inserts) == 1
    b.merge(whole)
    assert str(b) == "abcdef"


def test_compaction_drops_stable_tombstones_and_keeps_converging() -> None:
    a = Text("a")
    a.insert(0, "the quick brown fox")
    a.delete(4, 6)
    b = a.fork("b")
    b.delete(0, 4)
    a.merge(b)
    stable = a.version
    assert b.version == stable
    size = len(a.encode())
    assert a.compact(stable) == 10
    assert b.compact(stable) == 10
    assert str(a) == str(b) == "brown fox"
    assert len(a.encode()) < size
    assert a.canonical() == b.canonical()
    a.insert(0, "A ")
    b.insert(9, "!")
    a.merge(b.delta_since(a.version))
    b.merge(a.delta_since(b.version))
    assert str(a) == str(b) == "A brown fox!"
    assert Text.decode(a.encode()).canonical() == a.canonical()


def test_compaction_rules_are_enforced() -> None:
    a = Text("a")
    a.insert(0, "abc")
    with pytest.raises(CRDTError):
        a.compact({"a": 4})  # beyond what a has seen: not stable
    b = a.fork("b")
    a.delete(1, 1)
    b.merge(a)
    late = b.insert(1, "X")  # b anchors on the tombstone "b" (its left origin) ...
    assert a.compact(a.version) == 1  # ... which a compacts into a placeholder
    a.merge(late)  # the placeholder keeps the tombstone's id resolvable
    assert str(a) == str(b) == "aXc"
    with pytest.raises(CRDTError, match="compaction floor"):
        a.delta_since(VersionVector())
    fresh = Text("f")
    with pytest.raises(CRDTError, match="compacted"):
        fresh.merge(a)  # behind the floor: it must take the whole document
    fresh = Text.decode(a.encode())
    assert str(fresh) == "aXc"


def test_late_delete_of_a_compacted_tombstone_is_a_no_op() -> None:
    a = Text("a")
    a.insert(0, "abc")
    b = a.fork("b")
    c = a.fork("c")
    da = a.delete(1, 1)
    dc = c.delete(1, 1)  # the same character, concurrently
    b.merge(da)
    a.merge(b)
    a.compact({"a": 4})  # a's delete is stable; c's is not seen yet
    a.merge(dc)
    assert str(a) == "ac" and a.version.get("c") == 1


def test_typing_forward_keeps_one_run() -> None:
    a = Text("a")
    keystrokes = [a.insert(i, ch) for i, ch in enumerate("hello world")]
    assert a.run_count() == 1
    b = Text("b")
    for d in keystrokes:  # the receiving side grows the run in place too
        b.merge(d)
    assert str(b) == "hello world" and b.run_count() == 1


def test_backspacing_leaves_one_tombstone_run() -> None:
    a = Text("a")
    a.insert(0, "abcdef")
    for pos in range(5, 1, -1):
        a.delete(pos, 1)
    assert str(a) == "ab" and a.run_count() == 2  # "ab" and the tombstone "cdef"


def test_compaction_with_overlapping_concurrent_deletes_removes_every_tombstone() -> None:
    # Found by the compaction property: a and b delete overlapping ranges concurrently;
    # b's shorter range must not resurrect the half of c's run that a's range doomed.
    a, b, c = Text("a"), Text("b"), Text("c")
    a.insert(0, "p")
    b.insert(0, "p")
    c.insert(0, "pp")
    a.merge(c)
    b.merge(a)
    a.delete(0, 3)
    b.delete(0, 3)
    for x in (a, b, c):
        for y in (a, b, c):
            x.merge(y)
    assert a.compact(a.version) == 4
    # One placeholder per replica's id range is left (c's two characters joined), no
    # origins, no delete log.
    assert a.run_count() == 3 and str(a) == ""
    assert all(r.left is None and r.right is None for r in a._rl.runs()) and not a._dels
