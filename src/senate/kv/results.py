"""The values the KV state machine hands back: a stored key and a command's result.

Both are frozen: a Result is cached in the session table and a KeyValue is shared
between the store and its readers, so neither may change after it is made.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0  # the lease the key is attached to; 0 = none (as in etcd)


@dataclass(slots=True, frozen=True)
class Result:
    """What applying one command did.

    revision: the store's revision after the command (the new revision if it
    mutated, else the current one). prev: the key before the command, if it
    existed. deleted: a Delete removed the key. error: the command was rejected
    (malformed, stale, or a lease error such as leases.LEASE_NOT_FOUND) and nothing
    changed. Txns and lease commands answer with subclasses (txn.TxnResult,
    leases.LeaseResult) that add their own fields.
    """

    revision: int
    succeeded: bool
    prev: KeyValue | None = None
    deleted: bool = False
    error: str | None = None
