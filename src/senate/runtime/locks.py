"""Distributed locks on leases and transactions (kv/locks.py's recipe), driven by a node.

Rules this file keeps:
- Acquire = grant a lease with the lock's ttl, create the contender key
  /locks/{name}/{lease:x} attached to it (acquire_txn), then wait until that key
  has the lowest create revision under the lock's prefix. Its create revision is
  the fencing token: it only grows from one holder to the next.
- No release slips by unseen: the holder check and the watch registration on the
  lock's prefix happen in one synchronous step (no await between them), and every
  delete event under the prefix wakes the waiter to check again.
- The first check follows a ReadIndex barrier, so a lock is never reported held on
  state older than the acquire itself.
- While it waits, the node keeps the contender's lease alive (every third of the
  ttl); once held, keeping it alive is the client's job (POST /v1/leases/{id}/
  keepalive). Expiry, revocation or DELETE release the lock.
- Giving up (wait elapsed, an error, the request cancelled) revokes the lease, so
  the contender key leaves the queue and nobody waits behind a ghost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from senate.errors import SenateError
from senate.kv import (
    Event,
    EventKind,
    LeaseResult,
    Watcher,
    WatchHub,
    acquire_txn,
    check_lock_name,
    is_held_by,
    lock_key,
    lock_prefix,
    release_op,
)
from senate.kv.results import Result
from senate.runtime.node import Node, Unavailable

logger = logging.getLogger("senate.node")


class LockTimeout(SenateError):
    """The lock was not acquired within the wait time (HTTP 409 "timeout")."""


class LockLost(SenateError):
    """The contender key vanished while waiting (its lease expired or was revoked)."""


@dataclass(slots=True, frozen=True)
class LockHold:
    name: str
    lease: int
    fencing_token: int
    key: str


async def acquire(node: Node, name: str, ttl_ms: int, wait: float) -> LockHold:
    """Hold lock `name` on a fresh lease of `ttl_ms`, waiting at most `wait` seconds."""
    check_lock_name(name)
    granted = await node.lease_grant(ttl_ms)
    if not isinstance(granted, LeaseResult) or granted.error is not None:
        raise Unavailable(f"could not grant the lock's lease: {granted.error}")
    lease = granted.lease_id
    try:
        created = await node.txn(acquire_txn(name, lease))
        if created.error is not None:
            raise Unavailable(f"could not queue for the lock: {created.error}")
        await node.read_barrier()
        return await _wait_turn(node, name, lease, ttl_ms, wait)
    except BaseException:
        with contextlib.suppress(Exception):
            await node.lease_revoke(lease)
        raise


async def _wait_turn(node: Node, name: str, lease: int, ttl_ms: int, wait: float) -> LockHold:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    mine = lock_key(name, lease)
    refresh = max(0.05, ttl_ms / 3000.0)  # keep the lease alive while queued
    while True:
        # Check and subscribe in one synchronous step: no release can slip between.
        kv = node.kv
        token = is_held_by(kv, name, lease)
        if token is not None:
            return LockHold(name, lease, token, mine)
        if kv.get(mine) is None:
            raise LockLost(f"lock {name}: the contender key vanished (lease {lease} expired?)")
        watcher, woken = _subscribe(kv.watch_hub, lock_prefix(name))
        try:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockTimeout(f"lock {name} was not acquired within {wait:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=min(remaining, refresh))
            if not woken.is_set():
                await node.lease_time(lease, keepalive=True)
        finally:
            watcher.cancel()


def _subscribe(hub: WatchHub, prefix: str) -> tuple[Watcher, asyncio.Event]:
    """Watch `prefix` from the next revision; the event is set by any delete (or close)."""
    woken = asyncio.Event()

    def on_events(events: list[Event]) -> None:
        if any(e.kind is EventKind.DELETE for e in events):
            woken.set()

    watcher = hub.watch(None, on_events, prefix=prefix, on_close=lambda w: woken.set())
    return watcher, woken


async def release(node: Node, name: str, lease: int) -> Result:
    """Delete the contender key of `lease` (held or queued); the lease itself stays."""
    return await node.delete(release_op(name, lease).key)
