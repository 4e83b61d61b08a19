"""Distributed locks on leases and transactions (kv/locks.py's recipe), driven by a node.

Rules this file keeps:
- Acquire = grant a lease with the lock's ttl (or take the client's own lease, as
  etcd's lock API does), create the contender key /locks/{name}/{lease:x}
  attached to it (acquire_txn), then wait until that key has the lowest create
  revision under the lock's prefix. Its create revision is the fencing token: it
  only grows from one holder to the next.
- Retry-safe with the client's lease: a retry (its answer was lost) finds the same
  key, keeps its place, and waits for or reports the same hold and token.
- No release slips by unseen: the holder check and the watch registration on the
  lock's prefix happen in one synchronous step (no await between them), and every
  delete event under the prefix wakes the waiter to check again.
- The first check follows a ReadIndex barrier, so a lock is never reported held on
  state older than the acquire itself.
- While it waits, the node keeps the contender's lease alive (every third of the
  ttl); once held, keeping it alive is the client's job (POST /v1/leases/{id}/
  keepalive). Expiry, revocation or DELETE release the lock.
- Giving up (wait elapsed, an error, the request cancelled) on a lease the node
  granted revokes it, so the contender key leaves the queue and nobody waits
  behind a ghost. On the client's lease it deletes the contender key instead and
  leaves the lease alone (the client may retry, or revoke it itself), and only if
  no later request of the same contender rewrote the key and another contender
  still holds the lock (give_up_txn): so a key that is or was reported held is
  never deleted behind its holder's back. If the key holds the lock when the wait
  elapses, the hold is reported instead of the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from senate.errors import SenateError
from senate.kv import (
    LEASE_NOT_FOUND,
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
from senate.kv.locks import give_up_txn, lock_holder
from senate.kv.results import Result
from senate.runtime.node import Node, Unavailable

logger = logging.getLogger("senate.node")

_GIVE_UP_TRIES = 5


class LockTimeout(SenateError):
    """The lock was not acquired within the wait time (HTTP 409 "timeout")."""


class LockLost(SenateError):
    """The contender key vanished while waiting (its lease expired or was revoked)."""


class LockLeaseNotFound(SenateError):
    """The client's lease does not exist (unknown, expired or revoked): HTTP 404."""


@dataclass(slots=True, frozen=True)
class LockHold:
    name: str
    lease: int
    fencing_token: int
    key: str


async def acquire(
    node: Node, name: str, ttl_ms: int, wait: float, lease: int | None = None
) -> LockHold:
    """Hold lock `name`, waiting at most `wait` seconds: on a fresh lease of `ttl_ms`,
    or on the client's `lease` (then `ttl_ms` is unused: the lease has its own)."""
    check_lock_name(name)
    if lease is not None:
        return await _acquire_on(node, name, lease, wait)
    granted = await node.lease_grant(ttl_ms)
    if not isinstance(granted, LeaseResult) or granted.error is not None:
        raise Unavailable(f"could not grant the lock's lease: {granted.error}")
    lease = granted.lease_id
    try:
        await _queue(node, name, lease)
        await node.read_barrier()
        return await _wait_turn(node, name, lease, ttl_ms, wait)
    except BaseException:
        with contextlib.suppress(Exception):
            await node.lease_revoke(lease)
        raise


async def _acquire_on(node: Node, name: str, lease: int, wait: float) -> LockHold:
    """Acquire on the client's lease; giving up deletes the key, not the lease."""
    held = await node.lease_time(lease, keepalive=True)
    if held is None:
        raise LockLeaseNotFound(f"no lease {lease} (unknown or expired)")
    mod_revision = await _queue(node, name, lease)
    try:
        await node.read_barrier()
        return await _wait_turn(node, name, lease, held.ttl_ms, wait)
    except LockTimeout:
        try:
            hold = await _give_up(node, name, lease, mod_revision)
        except Exception:
            hold = None  # the key may stay queued: the client retries or revokes its lease
        if hold is not None:
            return hold  # it became ours as the wait ran out: report it
        raise
    except BaseException:
        with contextlib.suppress(Exception):
            await _give_up(node, name, lease, mod_revision)
        raise


async def _queue(node: Node, name: str, lease: int) -> int:
    """Create (or, on a retry, rewrite) the contender key; its mod revision."""
    created = await node.txn(acquire_txn(name, lease))
    if created.error == LEASE_NOT_FOUND:
        raise LockLeaseNotFound(f"no lease {lease} (unknown or expired)")
    if created.error is not None:
        raise Unavailable(f"could not queue for the lock: {created.error}")
    return created.revision


async def _give_up(node: Node, name: str, lease: int, mod_revision: int) -> LockHold | None:
    """Leave the queue (see the header); the hold if the key turns out to hold the lock."""
    mine = lock_key(name, lease)
    for _ in range(_GIVE_UP_TRIES):
        kv = node.kv
        own = kv.get(mine)
        if own is None or own.mod_revision != mod_revision:
            return None  # gone, or a later request of this contender owns it now
        token = is_held_by(kv, name, lease)
        if token is not None:
            return LockHold(name, lease, token, mine)
        holder = lock_holder(kv, name)
        if holder is None or holder.key == mine:
            return None  # not a valid hold (a hand-written key): leave it
        done = await node.txn(give_up_txn(name, lease, mod_revision, holder))
        if done.error is not None or done.succeeded:
            return None
        await node.read_barrier()  # the holder changed under us: look again
    return None


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
