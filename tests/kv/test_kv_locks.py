"""Locks on leases and txns: queueing, fencing tokens, release by delete, revoke or expiry."""

from __future__ import annotations

import pytest
from kv_client import Client

from senate.errors import MalformedInput
from senate.kv import (
    Event,
    EventKind,
    KVStore,
    LeaseGrant,
    LeaseKeeper,
    LeaseRevoke,
    Put,
    TxnResult,
    acquire_txn,
    check_lock_name,
    is_held_by,
    lock_holder,
    lock_key,
    predecessor,
    release_op,
)
from senate.kv.locks import give_up_txn


def contenders() -> tuple[KVStore, Client, Client]:
    s = KVStore()
    a, b = Client(s, "a"), Client(s, "b")
    a.do(LeaseGrant(0xA, 1000))
    b.do(LeaseGrant(0xB, 1000))
    return s, a, b


def test_lock_key_and_names() -> None:
    assert lock_key("jobs", 255) == "/locks/jobs/ff"
    for bad in ["", "a/b", "x\x00", "tab\t", "é" * 129, 7]:
        with pytest.raises(MalformedInput):
            check_lock_name(bad)
    with pytest.raises(MalformedInput):
        lock_key("jobs", 0)
    assert check_lock_name("é" * 128) == "é" * 128


def test_two_contenders_first_holds_second_waits() -> None:
    s, a, b = contenders()
    ra = a.do(acquire_txn("m", 0xA))
    assert isinstance(ra, TxnResult) and ra.succeeded
    token_a = is_held_by(s, "m", 0xA)
    assert token_a == ra.revision == 1
    rb = b.do(acquire_txn("m", 0xB))
    assert rb.succeeded and is_held_by(s, "m", 0xB) is None
    holder = lock_holder(s, "m")
    assert holder is not None and holder.key == lock_key("m", 0xA)
    assert predecessor(s, "m", 0xB) == holder and predecessor(s, "m", 0xA) is None
    # Acquiring again with the same lease keeps the place (and the token); it
    # rewrites the key, so its mod revision is the retry's revision.
    again = a.do(acquire_txn("m", 0xA))
    assert isinstance(again, TxnResult) and not again.succeeded
    assert is_held_by(s, "m", 0xA) == token_a and s.revision == 3
    own = s.get(lock_key("m", 0xA))
    assert own is not None and own.mod_revision == again.revision == 3 and own.lease == 0xA
    # Other locks are independent; names that share a prefix do not mix.
    b.do(acquire_txn("m2", 0xB))
    assert is_held_by(s, "m2", 0xB) is not None and is_held_by(s, "m", 0xB) is None


def test_fencing_token_grows_across_holders_and_release_by_delete() -> None:
    s, a, b = contenders()
    a.do(acquire_txn("m", 0xA))
    b.do(acquire_txn("m", 0xB))
    t1 = is_held_by(s, "m", 0xA)
    a.do(release_op("m", 0xA))
    t2 = is_held_by(s, "m", 0xB)
    assert t1 is not None and t2 is not None and t2 > t1
    a.do(acquire_txn("m", 0xA))  # back in the queue, behind b
    assert is_held_by(s, "m", 0xA) is None
    b.do(release_op("m", 0xB))
    t3 = is_held_by(s, "m", 0xA)
    assert t3 is not None and t3 > t2


def test_release_by_lease_revoke_and_by_expiry() -> None:
    s, a, b = contenders()
    keeper = LeaseKeeper()
    keeper.on_granted(0xA, 1000, now=0)
    keeper.on_granted(0xB, 1000, now=0)
    a.do(acquire_txn("m", 0xA))
    b.do(acquire_txn("m", 0xB))
    woken: list[Event] = []
    s.watch_hub.watch(None, woken.extend, key=lock_key("m", 0xA))
    # b keeps its lease alive, a does not: a's lease expires and the leader revokes it.
    assert keeper.keepalive(0xB, 900) == 1000
    expired = keeper.expired(1000)
    assert expired == [0xA]
    leader = Client(s, "leader")
    for lease_id in expired:
        keeper.observe(leader.do(LeaseRevoke(lease_id)), now=1000)
    assert [e.kind for e in woken] == [EventKind.DELETE]
    assert is_held_by(s, "m", 0xB) is not None and lock_holder(s, "m") is not None
    assert is_held_by(s, "m", 0xA) is None and 0xA not in keeper
    # Once b's lease is revoked too, nobody holds the lock.
    leader.do(LeaseRevoke(0xB))
    assert lock_holder(s, "m") is None


def test_a_hand_written_key_without_its_lease_is_not_a_hold() -> None:
    s, a, _ = contenders()
    a.do(Put(lock_key("m", 0xA), b""))  # plain put: no lease attached
    assert lock_holder(s, "m") is not None and is_held_by(s, "m", 0xA) is None


def test_acquire_with_an_unknown_lease_fails_cleanly() -> None:
    s = KVStore()
    r = Client(s).do(acquire_txn("m", 0x99))
    assert r.error is not None and lock_holder(s, "m") is None and s.revision == 0


def test_giving_up_deletes_the_key_only_if_untouched_and_another_holds() -> None:
    s, a, b = contenders()
    a.do(acquire_txn("m", 0xA))
    queued = b.do(acquire_txn("m", 0xB))
    holder = lock_holder(s, "m")
    assert holder is not None and holder.key == lock_key("m", 0xA)
    with pytest.raises(MalformedInput):
        give_up_txn("m", 0xA, 1, holder)  # the holder never gives up this way
    # A retry of b rewrote the key since: the earlier request must leave it be.
    retried = b.do(acquire_txn("m", 0xB))
    r = b.do(give_up_txn("m", 0xB, queued.revision, holder))
    assert isinstance(r, TxnResult) and not r.succeeded and s.get(lock_key("m", 0xB)) is not None
    # The holder released meanwhile (b holds now): giving up must not delete a hold.
    a.do(release_op("m", 0xA))
    r = b.do(give_up_txn("m", 0xB, retried.revision, holder))
    assert isinstance(r, TxnResult) and not r.succeeded and is_held_by(s, "m", 0xB) is not None
    # Untouched, behind a holder that is still there: the key goes, the lease stays.
    a.do(acquire_txn("m", 0xA))
    now_held = lock_holder(s, "m")
    assert now_held is not None and now_held.key == lock_key("m", 0xB)
    r = a.do(give_up_txn("m", 0xA, s.revision, now_held))
    assert isinstance(r, TxnResult) and r.succeeded
    assert s.get(lock_key("m", 0xA)) is None and s.lease(0xA) is not None
