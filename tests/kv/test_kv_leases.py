"""Leases in the state machine: grant, attach, detach, revoke at one revision, snapshots."""

from __future__ import annotations

import random

import msgpack
import pytest
from kv_client import Client

from senate.errors import MalformedInput
from senate.kv import (
    LEASE_EXISTS,
    LEASE_NOT_FOUND,
    TOO_MANY_LEASES,
    Command,
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    KeyValue,
    KVStore,
    Lease,
    LeaseAction,
    LeaseGrant,
    LeaseResult,
    LeaseRevoke,
    Put,
    Request,
    Txn,
    TxnResult,
    decode_request,
    encode_request,
    new_lease_id,
)
from senate.kv.leases import MAX_TTL_MS


def lease_result(r: object) -> LeaseResult:
    assert isinstance(r, LeaseResult), r
    return r


def test_grant_attach_and_revoke_deletes_keys_at_one_revision() -> None:
    s = KVStore()
    c = Client(s)
    g = lease_result(c.do(LeaseGrant(7, 5000)))
    assert g.succeeded and g.action is LeaseAction.GRANT and (g.lease_id, g.ttl_ms) == (7, 5000)
    assert g.revision == 0 == s.revision  # a grant is not a key change
    c.do(Put("a", b"1", lease=7))
    c.do(Put("b", b"1", lease=7))
    c.do(Put("free", b"1"))
    assert s.get("a") == KeyValue("a", b"1", 1, 1, 1, lease=7)
    assert s.lease(7) == Lease(7, 5000, ("a", "b"))
    r = lease_result(c.do(LeaseRevoke(7)))
    assert r.succeeded and r.action is LeaseAction.REVOKE and r.keys == ("a", "b")
    assert r.revision == 4 == s.revision  # both deletions at one new revision
    assert s.get("a") is None and s.get("b") is None and s.get("free") is not None
    assert s.lease(7) is None and list(s.leases) == []
    assert [(e.kind.value, e.key, e.revision) for e in s.watch_hub.events_since(4)] == [
        ("delete", "a", 4),
        ("delete", "b", 4),
    ]


def test_revoke_without_keys_changes_no_revision() -> None:
    s = KVStore()
    c = Client(s)
    c.do(Put("x", b"1"))
    c.do(LeaseGrant(1, 10))
    r = lease_result(c.do(LeaseRevoke(1)))
    assert r.succeeded and r.keys == () and r.revision == 1 == s.revision


def test_put_with_unknown_lease_is_rejected_and_changes_nothing() -> None:
    s = KVStore()
    c = Client(s)
    c.do(Put("a", b"old"))
    before = s.snapshot()
    r = c.do(Put("a", b"new", lease=99))
    assert r.error == LEASE_NOT_FOUND and not r.succeeded and r.revision == 1
    assert s.get("a") == KeyValue("a", b"old", 1, 1, 1)
    assert KVStore.restore(s.snapshot()).items() == KVStore.restore(before).items()
    # The same inside a txn: the chosen branch names an unknown lease, nothing runs.
    t = c.do(Txn((), (Put("b", b"1"), Put("c", b"1", lease=99))))
    assert isinstance(t, TxnResult) and t.error == LEASE_NOT_FOUND and t.results == ()
    assert s.get("b") is None and s.revision == 1
    # ...but only the branch that runs is checked.
    ok = c.do(
        Txn(
            (Compare("a", CompareTarget.VALUE, CompareOp.EQ, b"old"),),
            (Put("b", b"1"),),
            (Put("c", b"1", lease=99),),
        )
    )
    assert ok.succeeded and s.get("b") is not None


def test_duplicate_lease_id_is_rejected() -> None:
    s = KVStore()
    c = Client(s)
    assert c.do(LeaseGrant(5, 1000)).succeeded
    dup = lease_result(Client(s, "other").do(LeaseGrant(5, 2000)))
    assert dup.error == LEASE_EXISTS and not dup.succeeded
    assert s.lease(5) == Lease(5, 1000, ())


def test_lease_table_is_bounded() -> None:
    s = KVStore(max_leases=2)
    c = Client(s)
    c.do(LeaseGrant(1, 10))
    c.do(LeaseGrant(2, 10))
    assert lease_result(c.do(LeaseGrant(3, 10))).error == TOO_MANY_LEASES
    c.do(LeaseRevoke(1))
    assert c.do(LeaseGrant(3, 10)).succeeded


def test_revoke_unknown_lease() -> None:
    s = KVStore()
    r = lease_result(Client(s).do(LeaseRevoke(42)))
    assert r.error == LEASE_NOT_FOUND and not r.succeeded and r.action is LeaseAction.REVOKE


def test_reput_without_lease_detaches_and_delete_detaches() -> None:
    s = KVStore()
    c = Client(s)
    c.do(LeaseGrant(1, 10))
    c.do(LeaseGrant(2, 10))
    c.do(Put("a", b"1", lease=1))
    c.do(Put("b", b"1", lease=1))
    c.do(Put("c", b"1", lease=1))
    c.do(Put("a", b"2"))  # detached
    c.do(Put("b", b"2", lease=2))  # moved to lease 2
    c.do(Delete("c"))
    assert s.lease(1) == Lease(1, 10, ()) and s.lease(2) == Lease(2, 10, ("b",))
    assert s.get("a") is not None and s.get("a").lease == 0  # type: ignore[union-attr]
    assert lease_result(c.do(LeaseRevoke(1))).keys == ()
    assert s.get("a") is not None
    assert lease_result(c.do(LeaseRevoke(2))).keys == ("b",)
    assert [kv.key for kv in s.items()] == ["a"]


def test_retried_grant_and_revoke_apply_once() -> None:
    s = KVStore()
    c = Client(s)
    first = c.do(LeaseGrant(3, 100))
    assert c.again(LeaseGrant(3, 100)) == first  # not LEASE_EXISTS: the same request
    c.do(Put("k", b"v", lease=3))
    revoked = c.do(LeaseRevoke(3))
    c.do(LeaseGrant(4, 100))
    c.do(Put("k", b"v", lease=4))
    # A stale retry of the revoke answers STALE, never revokes lease 4's key.
    stale = s.apply(s.applied_index + 1, encode_request(Request("c", 3, LeaseRevoke(3))))
    assert stale.error is not None and s.get("k") is not None
    assert isinstance(revoked, LeaseResult) and revoked.keys == ("k",)


def test_leases_survive_snapshot_and_restore() -> None:
    s = KVStore()
    c = Client(s)
    c.do(LeaseGrant(9, 3000))
    c.do(LeaseGrant(2, 1000))
    c.do(Put("x", b"1", lease=9))
    c.do(Put("y", b"1", lease=2))
    c.do(Put("z", b"1"))
    snap = s.snapshot()
    r = KVStore.restore(snap)
    assert r.snapshot() == snap
    assert list(r.leases) == [Lease(2, 1000, ("y",)), Lease(9, 3000, ("x",))]
    d = Client(r, "d")
    assert lease_result(d.do(LeaseRevoke(9))).keys == ("x",)
    assert r.get("x") is None and r.get("y") is not None
    # A restored store rejects the same duplicates as the original.
    assert lease_result(d.do(LeaseGrant(2, 5))).error == LEASE_EXISTS


def test_lease_command_codec() -> None:
    good: list[Command] = [LeaseGrant(1, 1), LeaseGrant(2**63 - 1, MAX_TTL_MS), LeaseRevoke(77)]
    for op in good:
        req = Request("c", 1, op)
        assert decode_request(encode_request(req)) == req
    put = Request("c", 1, Put("k", b"v", lease=12))
    assert decode_request(encode_request(put)) == put
    # A put without a lease keeps its old 5-field wire form.
    old = msgpack.packb(["c", 1, [0, "k", b"v", None, None]], use_bin_type=True)
    assert encode_request(Request("c", 1, Put("k", b"v"))) == old
    bad_ops: list[Command] = [
        LeaseGrant(0, 1),
        LeaseGrant(1, 0),
        LeaseGrant(1, MAX_TTL_MS + 1),
        LeaseGrant(True, 5),
        LeaseRevoke(0),
        LeaseRevoke(-1),
    ]
    for bad in bad_ops:
        with pytest.raises(MalformedInput):
            encode_request(Request("c", 1, bad))
    with pytest.raises(MalformedInput):
        encode_request(Request("c", 1, Put("k", b"v", lease=-1)))


@pytest.mark.parametrize(
    "op",
    [
        [3, 1],
        [3, 1, 1, 1],
        [3, 0, 5],
        [3, 1, 0],
        [3, 1, True],
        [3, 1.0, 5],
        [4],
        [4, 0],
        [4, "1"],
        [0, "k", b"v", None, None, 0],
        [0, "k", b"v", None, None, False],
    ],
)
def test_decode_rejects_bad_lease_commands(op: list[object]) -> None:
    with pytest.raises(MalformedInput):
        decode_request(msgpack.packb(["c", 1, op], use_bin_type=True))


def test_new_lease_id_is_seeded_and_in_range() -> None:
    a = [new_lease_id(random.Random(1)) for _ in range(3)]
    assert a == [new_lease_id(random.Random(1)) for _ in range(3)]
    ids = [new_lease_id(random.Random(seed)) for seed in range(200)]
    assert all(1 <= i < 2**63 for i in ids) and len(set(ids)) == 200


def test_restore_rejects_keys_on_unknown_leases() -> None:
    def snap(items: list[object], leases: list[object]) -> bytes:
        data: bytes = msgpack.packb(["senate-kv", 2, 3, 3, items, [], leases], use_bin_type=True)
        return data

    assert KVStore.restore(snap([["a", b"", 1, 1, 1, 4]], [[4, 10]])).lease(4) == Lease(
        4, 10, ("a",)
    )
    for bad in [
        snap([["a", b"", 1, 1, 1, 5]], [[4, 10]]),  # unknown lease
        snap([], [[4, 10], [4, 11]]),  # duplicate lease
        snap([], [[5, 10], [4, 11]]),  # unsorted
        snap([], [[0, 10]]),
        snap([], [[4, 0]]),
        snap([["a", b"", 1, 1, 1]], []),  # format 1 items in a format 2 snapshot
        snap([["a", b"", 1, 1, 1, None]], []),  # lease must be an integer
        snap([["a", b"", 1, 1, 1, False]], []),
        snap([["a", b"", 1, 1, 1, -1]], []),
    ]:
        with pytest.raises(MalformedInput):
            KVStore.restore(bad)


def test_format_1_snapshots_still_restore() -> None:
    old = msgpack.packb(
        ["senate-kv", 1, 4, 2, [["a", b"1", 1, 2, 2]], [["c", 3, 4, [2, True, None, False, None]]]],
        use_bin_type=True,
    )
    s = KVStore.restore(old)
    assert s.get("a") == KeyValue("a", b"1", 1, 2, 2) and s.revision == 2
    session = s.sessions.get("c")
    assert session is not None and session.result.revision == 2
    assert KVStore.restore(s.snapshot()).snapshot() == s.snapshot()


def test_restore_over_the_lease_bound_loads_all_and_refuses_new_grants() -> None:
    s = KVStore()
    c = Client(s)
    for lease_id in (1, 2, 3):
        c.do(LeaseGrant(lease_id, 10))
    small = KVStore.restore(s.snapshot(), max_leases=2)
    assert [lease.lease_id for lease in small.leases] == [1, 2, 3]
    d = Client(small, "d")
    assert lease_result(d.do(LeaseGrant(4, 10))).error == TOO_MANY_LEASES
    d.do(LeaseRevoke(1))
    assert lease_result(d.do(LeaseGrant(4, 10))).error == TOO_MANY_LEASES
    d.do(LeaseRevoke(2))
    assert d.do(LeaseGrant(4, 10)).succeeded
