"""The key-value state machine: commands, the deterministic store, sessions, snapshots,
transactions, leases, watches and locks.

`KVStore.apply(index, data)` is what a driver calls for each committed entry;
`encode_request` is what a client-facing service proposes. The leader's runtime
keeps lease deadlines in a `LeaseKeeper` and serves watches from `KVStore.watch_hub`.
"""

from senate.kv.commands import Command, Delete, Put, Request, decode_request, encode_request
from senate.kv.lease_keeper import LeaseKeeper
from senate.kv.leases import (
    LEASE_EXISTS,
    LEASE_NOT_FOUND,
    TOO_MANY_LEASES,
    Lease,
    LeaseAction,
    LeaseGrant,
    LeaseResult,
    LeaseRevoke,
    new_lease_id,
)
from senate.kv.locks import (
    acquire_txn,
    check_lock_name,
    is_held_by,
    lock_holder,
    lock_key,
    lock_prefix,
    predecessor,
    release_op,
)
from senate.kv.results import KeyValue, Result
from senate.kv.store import STALE, KVStore
from senate.kv.txn import (
    Compare,
    CompareOp,
    CompareTarget,
    DeleteResult,
    Get,
    GetResult,
    OpResult,
    PutResult,
    Txn,
    TxnResult,
)
from senate.kv.watch import Compacted, Event, EventKind, Watcher, WatchHub

__all__ = [
    "LEASE_EXISTS",
    "LEASE_NOT_FOUND",
    "STALE",
    "TOO_MANY_LEASES",
    "Command",
    "Compacted",
    "Compare",
    "CompareOp",
    "CompareTarget",
    "Delete",
    "DeleteResult",
    "Event",
    "EventKind",
    "Get",
    "GetResult",
    "KVStore",
    "KeyValue",
    "Lease",
    "LeaseAction",
    "LeaseGrant",
    "LeaseKeeper",
    "LeaseResult",
    "LeaseRevoke",
    "OpResult",
    "Put",
    "PutResult",
    "Request",
    "Result",
    "Txn",
    "TxnResult",
    "WatchHub",
    "Watcher",
    "acquire_txn",
    "check_lock_name",
    "decode_request",
    "encode_request",
    "is_held_by",
    "lock_holder",
    "lock_key",
    "lock_prefix",
    "new_lease_id",
    "predecessor",
    "release_op",
]
