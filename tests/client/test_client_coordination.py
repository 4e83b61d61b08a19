"""Leases and locks through the clients, on a real 3-node cluster.

What must hold: a lease's keys vanish when it expires (and not while it is kept
alive); revoking deletes them at once; a lock admits one holder at a time, each
holder's fencing token is larger than every earlier one, and a holder that stops
renewing loses the lock to the next contender within about its ttl.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from client_cluster import endpoints
from senate_harness import Cluster, wait_for

from senate.client import AsyncClient, Client, LockTimeout, NotFound


def test_lease_expiry_deletes_attached_keys_and_keepalive_prevents_it(
    shared_cluster: Cluster,
) -> None:
    with Client(endpoints(shared_cluster)) as c:
        short = c.lease_grant(1)
        kept = c.lease_grant(1)
        assert short.id != kept.id and short.ttl == 1
        c.put("lease/short", b"x", lease=short.id)
        c.put("lease/kept", b"y", lease=kept.id)
        got = c.get("lease/short")
        assert got is not None and got.lease == short.id
        assert c.lease_info(short.id).keys == ("lease/short",)
        with c.keep_alive(kept.id, kept.ttl) as keeper:
            wait_for("the short lease to expire", lambda: c.get("lease/short") is None, 10)
            time.sleep(1.5)  # well past the kept lease's ttl
            assert c.get("lease/kept") is not None
            assert keeper.alive and keeper.error is None
        with pytest.raises(NotFound):
            c.lease_info(short.id)
        with pytest.raises(NotFound):
            c.lease_keepalive(short.id)
        assert c.lease_revoke(kept.id)
        assert c.get("lease/kept") is None  # revoking deletes at once


def test_lock_admits_one_holder_at_a_time_with_growing_tokens(shared_cluster: Cluster) -> None:
    urls = endpoints(shared_cluster)
    inside = 0
    overlaps = 0
    tokens: list[int] = []
    guard = threading.Lock()

    def worker() -> None:
        nonlocal inside, overlaps
        with Client(urls) as c:
            for _ in range(3):
                with c.lock("mutex", ttl=5, wait=20) as grant:
                    with guard:
                        inside += 1
                        overlaps += inside > 1
                        tokens.append(grant.fencing_token)
                    time.sleep(0.02)
                    with guard:
                        inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert overlaps == 0
    assert len(tokens) == 12
    assert tokens == sorted(tokens) and len(set(tokens)) == 12  # in order of holding


def test_a_lock_whose_lease_lapses_passes_on_with_a_larger_token(
    shared_cluster: Cluster,
) -> None:
    with Client(endpoints(shared_cluster)) as c:
        first = c.lock_acquire("lapse", ttl=1, wait=5)  # and never renewed
        with pytest.raises(LockTimeout):
            c.lock_acquire("lapse", ttl=5, wait=0)
        started = time.monotonic()
        second = c.lock_acquire("lapse", ttl=5, wait=10)
        assert time.monotonic() - started < 5
        assert second.fencing_token > first.fencing_token
        assert c.lock_release("lapse", second.lease)


def test_async_lock_and_lease(shared_cluster: Cluster) -> None:
    async def main() -> tuple[int, int]:
        async with AsyncClient(endpoints(shared_cluster)) as c:
            async with c.lock("aio-lock", ttl=1) as grant:
                await asyncio.sleep(1.5)  # longer than the ttl: kept alive meanwhile
                info = await c.lease_info(grant.lease)
                assert grant.key in info.keys
            async with c.lock("aio-lock", ttl=1, wait=1) as again:
                return grant.fencing_token, again.fencing_token

    first, second = asyncio.run(main())
    assert second > first
