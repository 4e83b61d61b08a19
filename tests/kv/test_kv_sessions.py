"""Client sessions: a retried command applies once; the table is bounded."""

from __future__ import annotations

from senate.kv import Delete, KVStore, Put, Request, encode_request
from senate.kv.store import STALE


def req(client: str, seq: int, op: Put | Delete) -> bytes:
    return encode_request(Request(client, seq, op))


def test_duplicate_seq_applies_once_and_returns_the_first_result() -> None:
    s = KVStore()
    first = s.apply(1, req("c", 1, Put("a", b"1")))
    s.apply(2, req("d", 1, Put("a", b"other")))
    again = s.apply(3, req("c", 1, Put("a", b"1")))
    assert again == first and again.revision == 1
    assert s.get("a") is not None and s.get("a").value == b"other"  # type: ignore[union-attr]
    assert s.revision == 2 and s.applied_index == 3


def test_duplicate_of_a_failed_cas_stays_failed() -> None:
    s = KVStore()
    s.apply(1, req("c", 1, Put("a", b"1")))
    failed = s.apply(2, req("c", 2, Put("a", b"2", prev_revision=0)))
    assert not failed.succeeded
    s.apply(3, req("d", 1, Delete("a")))
    # Now the compare would hold, but the retry must answer what happened the first time.
    assert s.apply(4, req("c", 2, Put("a", b"2", prev_revision=0))) == failed
    assert s.get("a") is None


def test_older_seq_is_stale() -> None:
    s = KVStore()
    s.apply(1, req("c", 5, Put("a", b"1")))
    r = s.apply(2, req("c", 4, Put("a", b"old")))
    assert r.error == STALE and not r.succeeded and r.revision == 1
    assert s.get("a") is not None and s.get("a").value == b"1"  # type: ignore[union-attr]
    assert s.apply(3, req("c", 9, Put("a", b"2"))).succeeded  # gaps are allowed


def test_eviction_drops_the_session_with_the_oldest_last_index() -> None:
    s = KVStore(max_sessions=3)
    s.apply(1, req("a", 1, Put("k", b"a")))
    s.apply(2, req("b", 1, Put("k", b"b")))
    s.apply(3, req("c", 1, Put("k", b"c")))
    s.apply(4, req("a", 1, Put("k", b"a")))  # a retry is activity: "a" is now newest
    s.apply(5, req("d", 1, Put("k", b"d")))  # evicts "b"
    assert [x.client_id for x in s.sessions] == ["c", "a", "d"]
    assert s.sessions.get("b") is None
    # "b" lost its protection: its retry applies again (the documented cost of the bound).
    assert s.apply(6, req("b", 1, Put("k", b"b"))).revision == 5
    assert [x.client_id for x in s.sessions] == ["a", "d", "b"]


def test_sessions_survive_snapshot_and_restore() -> None:
    s = KVStore(max_sessions=3)
    for i, client in enumerate(["a", "b", "c", "d"], start=1):
        s.apply(i, req(client, 1, Put(client, b"v")))
    restored = KVStore.restore(s.snapshot(), max_sessions=3)
    assert [x.client_id for x in restored.sessions] == ["b", "c", "d"]
    first = s.sessions.get("c")
    assert first is not None
    assert restored.apply(5, req("c", 1, Put("c", b"v"))) == first.result
    assert restored.revision == 4
    # The eviction order survives too: the next new client evicts "b".
    restored.apply(6, req("e", 1, Put("e", b"v")))
    assert [x.client_id for x in restored.sessions] == ["d", "c", "e"]


def test_restore_with_a_smaller_bound_keeps_the_newest() -> None:
    s = KVStore()
    for i in range(1, 6):
        s.apply(i, req(f"c{i}", 1, Put("k", b"v")))
    small = KVStore.restore(s.snapshot(), max_sessions=2)
    assert [x.client_id for x in small.sessions] == ["c4", "c5"]
