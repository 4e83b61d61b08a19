"""The KV state machine: revisions, compare-and-set, range, and index discipline."""

from __future__ import annotations

import pytest

from senate.kv import Delete, KeyValue, KVStore, Put, Request, Result, encode_request


class Client:
    """Feeds one store from consecutive log indexes, one client id, rising seqs."""

    def __init__(self, store: KVStore, client_id: str = "c") -> None:
        self.store, self.client_id, self.seq = store, client_id, 0

    def do(self, op: Put | Delete) -> Result:
        self.seq += 1
        data = encode_request(Request(self.client_id, self.seq, op))
        return self.store.apply(self.store.applied_index + 1, data)


def test_put_get_revisions_like_etcd() -> None:
    s = KVStore()
    c = Client(s)
    assert s.revision == 0 and s.get("a") is None
    r1 = c.do(Put("a", b"1"))
    assert r1 == Result(revision=1, succeeded=True)
    assert s.get("a") == KeyValue("a", b"1", create_revision=1, mod_revision=1, version=1)
    c.do(Put("b", b"x"))
    r3 = c.do(Put("a", b"2"))
    assert r3.revision == 3 and r3.prev == KeyValue("a", b"1", 1, 1, 1)
    assert s.get("a") == KeyValue("a", b"2", create_revision=1, mod_revision=3, version=2)
    assert s.revision == 3 and s.applied_index == 3


def test_delete_bumps_revision_only_when_something_is_deleted() -> None:
    s = KVStore()
    c = Client(s)
    c.do(Put("a", b"1"))
    r = c.do(Delete("a"))
    assert r == Result(2, True, prev=KeyValue("a", b"1", 1, 1, 1), deleted=True)
    assert s.get("a") is None and s.range("") == []
    r = c.do(Delete("a"))
    assert r == Result(2, True, deleted=False)
    assert s.revision == 2 and s.applied_index == 3
    # Recreating starts a new life: new create_revision, version back to 1.
    c.do(Put("a", b"again"))
    assert s.get("a") == KeyValue("a", b"again", 3, 3, 1)


def test_cas_on_revision() -> None:
    s = KVStore()
    c = Client(s)
    assert c.do(Put("a", b"1", prev_revision=0)).succeeded  # must not exist: ok
    failed = c.do(Put("a", b"2", prev_revision=0))  # now it exists
    assert not failed.succeeded and failed.revision == 1 and failed.error is None
    assert failed.prev == KeyValue("a", b"1", 1, 1, 1)
    assert s.get("a") is not None and s.get("a").value == b"1"  # type: ignore[union-attr]
    assert not c.do(Put("a", b"2", prev_revision=5)).succeeded
    assert c.do(Put("a", b"2", prev_revision=1)).succeeded
    assert not c.do(Put("a", b"3", prev_revision=1)).succeeded  # stale revision
    assert not c.do(Put("zz", b"3", prev_revision=1)).succeeded  # missing key
    assert not c.do(Delete("a", prev_revision=1)).succeeded
    assert c.do(Delete("a", prev_revision=2)).deleted
    assert s.revision == 3


def test_cas_on_value() -> None:
    s = KVStore()
    c = Client(s)
    assert not c.do(Put("a", b"x", prev_value=b"")).succeeded  # absent is not b""
    c.do(Put("a", b""))
    assert c.do(Put("a", b"x", prev_value=b"")).succeeded
    assert not c.do(Put("a", b"y", prev_value=b"")).succeeded
    assert not c.do(Delete("a", prev_value=b"y")).succeeded
    assert s.get("a") is not None
    assert c.do(Delete("a", prev_value=b"x")).deleted


def test_cas_on_both_needs_both() -> None:
    s = KVStore()
    c = Client(s)
    c.do(Put("a", b"x"))
    assert not c.do(Put("a", b"y", prev_revision=1, prev_value=b"no")).succeeded
    assert not c.do(Put("a", b"y", prev_revision=9, prev_value=b"x")).succeeded
    assert c.do(Put("a", b"y", prev_revision=1, prev_value=b"x")).succeeded
    # prev_revision=0 with a prev_value can never hold.
    assert not c.do(Put("n", b"y", prev_revision=0, prev_value=b"x")).succeeded


def test_delete_missing_with_must_not_exist_succeeds_without_deleting() -> None:
    s = KVStore()
    r = Client(s).do(Delete("a", prev_revision=0))
    assert r.succeeded and not r.deleted and s.revision == 0


def test_range_by_prefix_sorted() -> None:
    s = KVStore()
    c = Client(s)
    for k in ["b/2", "a", "b/1", "b", "c", "b/10", "ba", "é", "z"]:
        c.do(Put(k, k.encode()))
    c.do(Delete("b/1"))
    assert [kv.key for kv in s.range("b/")] == ["b/10", "b/2"]
    assert [kv.key for kv in s.range("b")] == ["b", "b/10", "b/2", "ba"]
    assert [kv.key for kv in s.range("")] == ["a", "b", "b/10", "b/2", "ba", "c", "z", "é"]
    assert s.range("q") == [] and s.range("é") == [s.get("é")]
    assert len(s) == 8


def test_malformed_command_changes_only_applied_index() -> None:
    s = KVStore()
    c = Client(s)
    c.do(Put("a", b"1"))
    before = s.snapshot()
    r = s.apply(2, b"\x93\xa1c\x01\x95\x00\xa0\xc4\x00\xc0\xc0")  # empty key
    assert r.error is not None and "key" in r.error and not r.succeeded and r.revision == 1
    r = s.apply(3, b"garbage")
    assert r.error is not None and "malformed" in r.error
    assert s.applied_index == 3
    after = KVStore.restore(s.snapshot())
    assert after.items() == KVStore.restore(before).items()
    assert after.revision == 1


def test_value_bound_applies_in_store() -> None:
    s = KVStore(max_value_bytes=3)
    r = s.apply(1, encode_request(Request("c", 1, Put("k", b"1234"))))
    assert r.error is not None and s.get("k") is None
    assert s.apply(2, encode_request(Request("c", 2, Put("k", b"123")))).succeeded


def test_index_must_increase() -> None:
    s = KVStore()
    data = encode_request(Request("c", 1, Put("a", b"1")))
    s.apply(5, data)  # gaps are fine: no-op and membership entries are not KV commands
    with pytest.raises(ValueError, match="must exceed"):
        s.apply(5, data)
    with pytest.raises(ValueError):
        s.apply(4, data)
    with pytest.raises(ValueError):
        s.skip(5)
    s.skip(6)
    assert s.applied_index == 6 and s.revision == 1
