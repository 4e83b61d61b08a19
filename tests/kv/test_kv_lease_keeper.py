"""LeaseKeeper: deadlines on the leader's clock, keepalive, expiry, leadership changes."""

from __future__ import annotations

from kv_client import Client

from senate.kv import Command, KVStore, Lease, LeaseGrant, LeaseKeeper, LeaseRevoke, Put, Result


def test_expiry_after_ttl_earliest_first() -> None:
    k = LeaseKeeper()
    k.on_granted(1, 1000, now=0)
    k.on_granted(2, 500, now=100)
    assert k.expired(599) == []
    assert k.remaining(2, 599) == 1 and k.remaining(1, 599) == 401
    assert k.expired(600) == [2]
    assert k.expired(1000) == [1]
    assert k.remaining(1, 5000) == 0 and k.remaining(3, 0) is None


def test_expired_leases_are_offered_again_until_revoked() -> None:
    k = LeaseKeeper(retry_ms=100)
    k.on_granted(1, 50, now=0)
    assert k.expired(50) == [1]
    assert k.expired(120) == []  # the revoke is in flight
    assert k.expired(150) == [1]  # ...or was lost: offer it again
    k.on_revoked(1)
    assert k.expired(10_000) == [] and len(k) == 0 and 1 not in k


def test_keepalive_restarts_the_deadline_but_not_after_expiry() -> None:
    k = LeaseKeeper()
    k.on_granted(1, 1000, now=0)
    assert k.keepalive(1, 900) == 1000
    assert k.remaining(1, 900) == 1000
    assert k.expired(1899) == []
    assert k.keepalive(1, 1899) == 1000
    assert k.expired(2898) == [] and k.expired(2899) == [1]
    assert k.keepalive(1, 2899) is None  # its revoke may already be in the log
    assert k.keepalive(7, 0) is None  # unknown
    k2 = LeaseKeeper()
    k2.on_granted(1, 10, now=0)
    assert k2.keepalive(1, 10) is None  # deadline passed even before expired() ran


def test_reset_all_restarts_every_deadline_at_its_full_ttl() -> None:
    k = LeaseKeeper()
    k.on_granted(1, 1000, now=0)
    k.on_granted(2, 300, now=0)
    assert k.expired(400) == [2]
    k.reset_all(now=10_000)  # a new leader: old deadlines died with the old leader
    assert k.remaining(1, 10_000) == 1000 and k.remaining(2, 10_000) == 300
    assert k.keepalive(2, 10_100) == 300  # no longer expiring
    assert k.expired(10_399) == [] and k.expired(11_000) == [2, 1]


def test_reset_all_from_the_store_and_observe_results() -> None:
    s = KVStore()
    c = Client(s)
    follower = LeaseKeeper()  # fed on every node from the apply results
    ops: list[Command] = [
        LeaseGrant(1, 100),
        LeaseGrant(2, 200),
        Put("a", b"", lease=1),
        LeaseRevoke(1),
    ]
    for op in ops:
        follower.observe(c.do(op), now=0)
    follower.observe(Result(0, True), now=0)  # not a lease result: ignored
    assert 1 not in follower and 2 in follower and follower.ttl(2) == 200
    failed = c.do(LeaseGrant(2, 999))  # duplicate: no change
    follower.observe(failed, now=0)
    assert follower.ttl(2) == 200
    # A keeper that missed everything (a fresh leader, a snapshot install) rebuilds.
    fresh = LeaseKeeper()
    fresh.on_granted(77, 10, now=0)  # stale entry, gone from the store
    fresh.reset_all(now=50, leases=iter(s.leases))
    assert 77 not in fresh and fresh.remaining(2, 50) == 200
    assert fresh.expired(250) == [2]
    assert list(s.leases) == [Lease(2, 200, ())]


def test_retried_grant_keeps_the_deadline() -> None:
    k = LeaseKeeper()
    k.on_granted(1, 100, now=0)
    k.on_granted(1, 100, now=90)
    assert k.expired(100) == [1]


def test_many_keepalives_do_not_grow_the_heap_without_bound() -> None:
    k = LeaseKeeper()
    for i in range(10):
        k.on_granted(i, 1000, now=0)
    for now in range(10_000):
        k.keepalive(now % 10, now)
    assert len(k._heap) <= 2 * 10 + 64 + 1
    # Lease i was last kept alive at 9990 + i.
    assert k.expired(10_989) == [] and k.expired(10_992) == [0, 1, 2]
