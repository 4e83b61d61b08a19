"""Locks on leases and transactions (etcd's concurrency recipe), as pure functions.

Rules this file keeps:
- A contender for lock `name` holding lease L owns the key `/locks/{name}/{L:x}`
  (hex lease id), created with lease L by `acquire_txn` only if absent, so a retry
  keeps its place in the queue. A retry rewrites the existing key (same create
  revision, so same place and token; a new mod revision), which tells an earlier
  request of the same contender that gives up that the key is no longer its alone.
- The holder is the key with the lowest create_revision under `/locks/{name}/`, and
  the fencing token is that create_revision: revisions only grow, so each new
  holder's token is larger than every earlier holder's.
- Release: delete the key (`release_op`), revoke the lease, or let the lease expire
  (the leader's LeaseKeeper proposes the revoke). All three delete the key.
- A key that is not attached to its own lease (someone wrote it by hand with the
  plain KV API) is not a valid hold: `is_held_by` answers None for it.
- Lock names are 1..256 bytes of UTF-8 without "/" (one lock's prefix must not
  contain another's keys), NUL or other control characters.

How a runtime waits: apply `acquire_txn`; if `is_held_by` gives a token, done.
Otherwise watch the prefix (or just the `predecessor` key) from the store's next
revision and check `is_held_by` again after each delete event, in the same
synchronous step as the check, so no release can slip between them.
"""

from __future__ import annotations

from typing import Protocol

from senate.errors import MalformedInput
from senate.kv.ops import Delete, Put, check_int
from senate.kv.results import KeyValue
from senate.kv.txn import Compare, CompareOp, CompareTarget, Txn

LOCKS_PREFIX = "/locks/"
MAX_LOCK_NAME_BYTES = 256


class Ranged(Protocol):
    """What the lock helpers read: KVStore fits."""

    def range(self, prefix: str) -> list[KeyValue]: ...


def check_lock_name(name: object) -> str:
    if not isinstance(name, str):
        raise MalformedInput(f"lock name must be a string, got {type(name).__name__}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise MalformedInput("lock name is not valid UTF-8") from exc
    if not 1 <= size <= MAX_LOCK_NAME_BYTES:
        raise MalformedInput(f"lock name must be 1..{MAX_LOCK_NAME_BYTES} bytes, got {size}")
    if "/" in name or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise MalformedInput("lock name must not contain '/' or control characters")
    return name


def lock_prefix(name: str) -> str:
    return f"{LOCKS_PREFIX}{check_lock_name(name)}/"


def lock_key(name: str, lease: int) -> str:
    """The key contender `lease` owns while it waits for or holds lock `name`."""
    check_int(lease, "lease", 1)
    return f"{lock_prefix(name)}{lease:x}"


def acquire_txn(name: str, lease: int) -> Txn:
    """Create the contender key with the lease if absent, else rewrite it in place
    (its create revision, hence its place and fencing token, stays; its mod revision
    moves on). Either way the key's mod revision is the txn's revision."""
    key = lock_key(name, lease)
    return Txn(
        compares=(Compare(key, CompareTarget.CREATE_REVISION, CompareOp.EQ, 0),),
        success=(Put(key, b"", lease=lease),),
        failure=(Put(key, b"", lease=lease),),
    )


def give_up_txn(name: str, lease: int, mod_revision: int, holder: KeyValue) -> Txn:
    """Delete `lease`'s contender key only if nobody rewrote it since `mod_revision`
    (no retry of the same contender took it over) and `holder`, another contender,
    still holds the lock (so the key was never reported held)."""
    key = lock_key(name, lease)
    if holder.key == key:
        raise MalformedInput("give_up_txn: the contender holds the lock")
    return Txn(
        compares=(
            Compare(key, CompareTarget.REVISION, CompareOp.EQ, mod_revision),
            Compare(
                holder.key, CompareTarget.CREATE_REVISION, CompareOp.EQ, holder.create_revision
            ),
        ),
        success=(Delete(key),),
        failure=(),
    )


def release_op(name: str, lease: int) -> Delete:
    """Give up lock `name` (held or waited for) without revoking the lease."""
    return Delete(lock_key(name, lease))


def lock_holder(store: Ranged, name: str) -> KeyValue | None:
    """The contender key with the lowest create_revision, or None if nobody contends."""
    contenders = store.range(lock_prefix(name))
    return min(contenders, key=lambda kv: kv.create_revision, default=None)


def is_held_by(store: Ranged, name: str, lease: int) -> int | None:
    """The fencing token if `lease` holds lock `name` now, else None."""
    holder = lock_holder(store, name)
    if holder is None or holder.key != lock_key(name, lease) or holder.lease != lease:
        return None
    return holder.create_revision


def predecessor(store: Ranged, name: str, lease: int) -> KeyValue | None:
    """The contender just ahead of `lease` in the queue (the one to wait for).

    None if `lease`'s key is first or is not there at all (check is_held_by first).
    """
    contenders = store.range(lock_prefix(name))
    mine = lock_key(name, lease)
    own = next((kv for kv in contenders if kv.key == mine), None)
    if own is None:
        return None
    ahead = [kv for kv in contenders if kv.create_revision < own.create_revision]
    return max(ahead, key=lambda kv: kv.create_revision, default=None)
