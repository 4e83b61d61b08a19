"""The key-value state machine: commands, the deterministic store, sessions, snapshots,
transactions, leases, watches and locks.

`KVStore.apply(index, data)` is what a driver calls for each committed entry;
`encode_request` is what a client-facing service proposes. How a runtime uses the rest:

- Writes: propose `encode_request(Request(client_id, seq, op))` with op a Put, Delete,
  Txn, LeaseGrant or LeaseRevoke. `apply` returns a Result; for a Txn it is a
  TxnResult and for a lease command a LeaseResult (both subclasses: isinstance).
  `result.error` is STALE, LEASE_NOT_FOUND, LEASE_EXISTS, TOO_MANY_LEASES or a
  "malformed command: ..." text; then nothing changed.
- Snapshots: `store.install(data)` replaces the state in place and keeps the watch
  hub (or `KVStore.restore(data, watch_hub=old.watch_hub)`); a restore without the
  old hub silently strands its watchers.
- Leases: the proposer picks the id (`new_lease_id(rng)`). Every node feeds a
  `LeaseKeeper` with `keeper.observe(result, now)` after each apply; the leader calls
  `keeper.reset_all(now, iter(store.leases))` on winning an election or installing a
  snapshot, answers keepalives with `keeper.keepalive(id, now)`, and each tick
  proposes LeaseRevoke for every id in `keeper.expired(now)`.
- Watches: `store.watch_hub.watch(start, on_events, key=..|prefix=.., on_close=..)`
  from the loop that applies (callbacks run inside apply: hand events to a queue);
  Compacted (410) carries `oldest_revision`. `store.watch_hub.revision` for progress.
- Locks: apply `acquire_txn(name, lease)`, then `is_held_by(store, name, lease)` gives
  the fencing token or None; if None, watch `lock_prefix(name)` from the next revision
  and check again on each delete event. `release_op(name, lease)` releases.
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
