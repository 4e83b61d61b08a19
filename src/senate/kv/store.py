"""The deterministic key-value state machine that sits on a replicated log.

Rules this file keeps:
- Pure: no clock, no I/O, no randomness. The state after applying a sequence of
  (index, bytes) depends on that sequence only, so replicas that apply the same
  log hold byte-identical snapshots.
- Never crashes on log contents: a malformed command yields Result(error=...) and
  changes nothing except `applied_index`. Only a driver bug (an index that does
  not increase) raises.
- Revisions work like etcd's: one global counter, bumped by each mutation that
  takes effect; each key carries create_revision, mod_revision and version (the
  number of puts since it was created). A failed compare or a delete of a missing
  key changes nothing and reports the current revision.
- Retries apply once: see sessions.py.

Theory of operation: `apply` decodes the command, consults the session table,
runs the operation against `_data` (a dict) and `_keys` (the same keys, sorted, so
`range` is a bisection plus a scan), then records the result in the session.
"""

from __future__ import annotations

import bisect

from senate.errors import MalformedInput
from senate.kv.commands import MAX_VALUE_BYTES, Delete, Put, Request, decode_request
from senate.kv.results import KeyValue, Result
from senate.kv.sessions import DEFAULT_MAX_SESSIONS, SessionTable
from senate.kv.snapshot import decode_state, encode_state

STALE = "stale request"

__all__ = ["STALE", "KVStore", "KeyValue", "Result"]


class KVStore:
    def __init__(
        self,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ) -> None:
        self._data: dict[str, KeyValue] = {}
        self._keys: list[str] = []  # sorted; code-point order equals UTF-8 byte order
        self._revision = 0
        self._applied_index = 0
        self._max_value_bytes = max_value_bytes
        self.sessions = SessionTable(max_sessions)

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

    # -- the log --

    def skip(self, index: int) -> None:
        """Mark a log entry that carries no KV command (no-op, membership) applied."""
        self._advance(index)

    def apply(self, index: int, data: bytes) -> Result:
        """Apply the command at log `index`. Indexes must strictly increase."""
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
        return result

    def _advance(self, index: int) -> None:
        # A driver that re-applies or goes backwards would fork this replica.
        if type(index) is not int or index <= self._applied_index:
            raise ValueError(f"apply index {index!r} must exceed applied {self._applied_index}")
        self._applied_index = index

    def _execute(self, req: Request) -> Result:
        op = req.op
        current = self._data.get(op.key)
        if not _compare_holds(current, op.prev_revision, op.prev_value):
            return Result(self._revision, False, prev=current)
        if isinstance(op, Put):
            self._revision += 1
            if current is None:
                bisect.insort(self._keys, op.key)
                kv = KeyValue(op.key, op.value, self._revision, self._revision, 1)
            else:
                kv = KeyValue(
                    op.key, op.value, current.create_revision, self._revision, current.version + 1
                )
            self._data[op.key] = kv
            return Result(self._revision, True, prev=current)
        assert isinstance(op, Delete)
        if current is None:
            return Result(self._revision, True, deleted=False)
        self._revision += 1
        del self._data[op.key]
        del self._keys[bisect.bisect_left(self._keys, op.key)]
        return Result(self._revision, True, prev=current, deleted=True)

    # -- snapshots --

    def snapshot(self) -> bytes:
        """The whole state as deterministic bytes: equal states give equal bytes."""
        return encode_state(self._applied_index, self._revision, self.items(), list(self.sessions))

    @classmethod
    def restore(
        cls,
        data: bytes,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ) -> KVStore:
        """Rebuild a store from `snapshot()` bytes. Raises MalformedInput on bad data."""
        state = decode_state(data)
        store = cls(max_sessions=max_sessions, max_value_bytes=max_value_bytes)
        store._applied_index = state.applied_index
        store._revision = state.revision
        store._data = {kv.key: kv for kv in state.items}
        store._keys = [kv.key for kv in state.items]  # decode_state checked the order
        store.sessions.load(state.sessions)
        return store

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
