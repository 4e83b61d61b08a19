"""The deterministic key-value state machine that sits on a replicated log.

Rules this file keeps:
- Pure: no clock, no I/O, no randomness. The state after applying a sequence of
  (index, bytes) depends on that sequence only, so replicas that apply the same
  log hold byte-identical snapshots.
- Never crashes on log contents: a malformed command yields Result(error=...) and
  changes nothing except `applied_index`. Only a driver bug (an index that does
  not increase) raises.
- Revisions work like etcd's: one global counter, bumped once by each command that
  changes something (a txn's writes and a lease revoke's deletions share one
  revision); each key carries create_revision, mod_revision, version (the number of
  puts since it was created) and its lease. A failed compare, a delete of a missing
  key, a lease grant or a rejected command changes no revision.
- Retries apply once: see sessions.py. Txns and lease commands are sessions' too.
- Every change becomes an Event; a command's events go to the WatchHub after the
  command is fully applied, so a watcher's callback sees the store at that revision.

Theory of operation: `apply` decodes the command, consults the session table, runs
the operation against `_data` (a dict) and `_keys` (the same keys, sorted, so
`range` is a bisection plus a scan) through two primitives, `_write` and `_remove`,
which also keep the lease table's key sets and collect the events; then it records
the result in the session and publishes the events.
"""

from __future__ import annotations

import bisect

from senate.errors import MalformedInput
from senate.kv.commands import Request, decode_request
from senate.kv.leases import (
    DEFAULT_MAX_LEASES,
    LEASE_NOT_FOUND,
    Lease,
    LeaseAction,
    LeaseGrant,
    LeaseResult,
    LeaseRevoke,
    LeaseTable,
)
from senate.kv.ops import MAX_VALUE_BYTES, Delete, Put
from senate.kv.results import KeyValue, Result
from senate.kv.sessions import DEFAULT_MAX_SESSIONS, SessionTable
from senate.kv.snapshot import State, decode_state, encode_state
from senate.kv.txn import (
    DeleteResult,
    Get,
    GetResult,
    OpResult,
    PutResult,
    Txn,
    TxnResult,
    compare_holds,
)
from senate.kv.watch import Event, EventKind, WatchHub

STALE = "stale request"

__all__ = ["LEASE_NOT_FOUND", "STALE", "KVStore", "KeyValue", "Result"]


class KVStore:
    def __init__(
        self,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        max_value_bytes: int = MAX_VALUE_BYTES,
        max_leases: int = DEFAULT_MAX_LEASES,
        watch_hub: WatchHub | None = None,
    ) -> None:
        self._data: dict[str, KeyValue] = {}
        self._keys: list[str] = []  # sorted; code-point order equals UTF-8 byte order
        self._revision = 0
        self._applied_index = 0
        self._max_value_bytes = max_value_bytes
        self.sessions = SessionTable(max_sessions)
        self.leases = LeaseTable(max_leases)
        self.watch_hub = watch_hub if watch_hub is not None else WatchHub()
        self._events: list[Event] = []  # the current command's, published after it

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def applied_index(self) -> int:
        return self._applied_index

    def __len__(self) -> int:
        return len(self._data)

    # -- reads (local; linearizability is the caller's business: ReadIndex first) --

    def get(self, key: str) -> KeyValue | None:
        return self._data.get(key)

    def range(self, prefix: str) -> list[KeyValue]:
        """Every key starting with `prefix`, sorted by key ("" gives all keys)."""
        keys = self._keys
        i = bisect.bisect_left(keys, prefix)
        out: list[KeyValue] = []
        # Walk from the bisection point instead of slicing: a slice copies the tail.
        while i < len(keys) and keys[i].startswith(prefix):
            out.append(self._data[keys[i]])
            i += 1
        return out

    def lease(self, lease_id: int) -> Lease | None:
        """The lease's ttl and attached keys, or None if it does not exist."""
        return self.leases.get(lease_id)

    # -- the log --

    def skip(self, index: int) -> None:
        """Mark a log entry that carries no KV command (no-op, membership) applied."""
        self._advance(index)

    def apply(self, index: int, data: bytes) -> Result:
        """Apply the command at log `index`. Indexes must strictly increase.

        The result is a TxnResult for a Txn and a LeaseResult for a lease command
        (both subclasses of Result), a plain Result otherwise.
        """
        self._advance(index)
        try:
            req = decode_request(data, self._max_value_bytes)
        except MalformedInput as exc:
            return Result(self._revision, False, error=f"malformed command: {exc}")
        session = self.sessions.get(req.client_id)
        if session is not None and req.seq <= session.last_seq:
            self.sessions.touch(req.client_id, index)
            if req.seq == session.last_seq:
                return session.result
            return Result(self._revision, False, error=STALE)
        result = self._execute(req)
        self.sessions.record(req.client_id, req.seq, index, result)
        if self._events:
            events, self._events = self._events, []
            self.watch_hub.publish(self._revision, events)
        return result

    def _advance(self, index: int) -> None:
        # A driver that re-applies or goes backwards would fork this replica.
        if type(index) is not int or index <= self._applied_index:
            raise ValueError(f"apply index {index!r} must exceed applied {self._applied_index}")
        self._applied_index = index

    def _execute(self, req: Request) -> Result:
        op = req.op
        if isinstance(op, Put | Delete):
            return self._single(op)
        if isinstance(op, Txn):
            return self._txn(op)
        if isinstance(op, LeaseGrant):
            return self._grant(op)
        return self._revoke(op)

    # -- the two primitives every change goes through --

    def _write(self, key: str, value: bytes, lease: int, revision: int) -> KeyValue | None:
        """Put `key` at `revision` (the caller checked that `lease` exists); return prev."""
        current = self._data.get(key)
        if current is None:
            bisect.insort(self._keys, key)
            kv = KeyValue(key, value, revision, revision, 1, lease)
        else:
            kv = KeyValue(key, value, current.create_revision, revision, current.version + 1, lease)
            if current.lease and current.lease != lease:
                self.leases.detach(current.lease, key)
        if lease:
            self.leases.attach(lease, key)
        self._data[key] = kv
        self._events.append(Event(EventKind.PUT, key, revision, kv, current))
        return current

    def _remove(self, key: str, revision: int) -> KeyValue | None:
        """Delete `key` at `revision` if it exists; return what was there."""
        current = self._data.pop(key, None)
        if current is None:
            return None
        del self._keys[bisect.bisect_left(self._keys, key)]
        if current.lease:
            self.leases.detach(current.lease, key)
        self._events.append(Event(EventKind.DELETE, key, revision, None, current))
        return current

    # -- commands --

    def _single(self, op: Put | Delete) -> Result:
        if isinstance(op, Put) and op.lease and op.lease not in self.leases:
            return Result(self._revision, False, error=LEASE_NOT_FOUND)
        current = self._data.get(op.key)
        if not _compare_holds(current, op.prev_revision, op.prev_value):
            return Result(self._revision, False, prev=current)
        revision = self._revision + 1
        if isinstance(op, Put):
            self._write(op.key, op.value, op.lease, revision)
            self._revision = revision
            return Result(revision, True, prev=current)
        if current is None:
            return Result(self._revision, True, deleted=False)
        self._remove(op.key, revision)
        self._revision = revision
        return Result(revision, True, prev=current, deleted=True)

    def _txn(self, txn: Txn) -> TxnResult:
        ok = all(compare_holds(self._data.get(c.key), c) for c in txn.compares)
        branch = txn.success if ok else txn.failure
        for op in branch:
            if isinstance(op, Put) and op.lease and op.lease not in self.leases:
                return TxnResult(self._revision, False, error=LEASE_NOT_FOUND)
        revision = self._revision + 1
        changed = False
        results: list[OpResult] = []
        for op in branch:
            if isinstance(op, Get):
                results.append(GetResult(self._data.get(op.key)))
            elif isinstance(op, Put):
                prev_kv = self._write(op.key, op.value, op.lease, revision)
                results.append(PutResult(revision, prev_kv))
                changed = True
            else:
                prev = self._remove(op.key, revision)
                results.append(DeleteResult(prev is not None, prev))
                changed = changed or prev is not None
        if changed:
            self._revision = revision
        return TxnResult(self._revision, ok, results=tuple(results))

    def _grant(self, op: LeaseGrant) -> LeaseResult:
        error = self.leases.grant_error(op.lease_id)
        if error is None:
            self.leases.grant(op.lease_id, op.ttl_ms)
        return LeaseResult(
            self._revision,
            error is None,
            error=error,
            action=LeaseAction.GRANT,
            lease_id=op.lease_id,
            ttl_ms=op.ttl_ms,
        )

    def _revoke(self, op: LeaseRevoke) -> LeaseResult:
        lease = self.leases.get(op.lease_id)
        if lease is None:
            return LeaseResult(
                self._revision,
                False,
                error=LEASE_NOT_FOUND,
                action=LeaseAction.REVOKE,
                lease_id=op.lease_id,
            )
        keys = self.leases.remove(op.lease_id)
        if keys:
            revision = self._revision + 1
            for key in keys:
                self._remove(key, revision)
            self._revision = revision
        return LeaseResult(
            self._revision,
            True,
            action=LeaseAction.REVOKE,
            lease_id=op.lease_id,
            ttl_ms=lease.ttl_ms,
            keys=tuple(keys),
        )

    # -- snapshots --

    def snapshot(self) -> bytes:
        """The whole state as deterministic bytes: equal states give equal bytes.

        The watch history is not included (see watch.py).
        """
        return encode_state(
            self._applied_index,
            self._revision,
            self.items(),
            list(self.sessions),
            self.leases.ttls(),
        )

    @classmethod
    def restore(
        cls,
        data: bytes,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        max_value_bytes: int = MAX_VALUE_BYTES,
        max_leases: int = DEFAULT_MAX_LEASES,
        watch_hub: WatchHub | None = None,
    ) -> KVStore:
        """Rebuild a store from `snapshot()` bytes. Raises MalformedInput on bad data.

        Pass the old store's `watch_hub` to keep its watchers: the hub is reset to
        the snapshot's revision (watchers that had not reached it are closed with
        Compacted). Without one the new store gets a fresh hub. Either way the
        oldest revision a watch can start from is the snapshot's revision + 1 (or
        older, if the hub was already at that revision and keeps its history).
        """
        state = decode_state(data)
        store = cls(
            max_sessions=max_sessions,
            max_value_bytes=max_value_bytes,
            max_leases=max_leases,
            watch_hub=watch_hub,
        )
        store._load(state)
        return store

    def install(self, data: bytes) -> None:
        """Replace this store's state by a snapshot's, in place, keeping its limits and
        its watch hub (reset as in `restore`). Raises MalformedInput, changing nothing.
        """
        self._load(decode_state(data))

    def _load(self, state: State) -> None:
        self._applied_index = state.applied_index
        self._revision = state.revision
        self._data = {kv.key: kv for kv in state.items}
        self._keys = [kv.key for kv in state.items]  # decode_state checked the order
        self._events = []
        self.sessions.load(state.sessions)
        # decode_state checked that every key's lease exists. Over max_leases, all are
        # still loaded (dropping one would fork this replica); grants wait for room.
        self.leases = LeaseTable(self.leases.max_leases)
        for lease_id, ttl_ms in state.leases:
            self.leases.grant(lease_id, ttl_ms)
        for kv in state.items:
            if kv.lease:
                self.leases.attach(kv.lease, kv.key)
        self.watch_hub.reset(state.revision)

    def items(self) -> list[KeyValue]:
        """Every key-value pair, sorted by key."""
        return [self._data[key] for key in self._keys]


def _compare_holds(
    current: KeyValue | None, prev_revision: int | None, prev_value: bytes | None
) -> bool:
    if prev_revision is not None:
        if prev_revision == 0:
            if current is not None:
                return False
        elif current is None or current.mod_revision != prev_revision:
            return False
    if prev_value is not None:
        return current is not None and current.value == prev_value
    return True
