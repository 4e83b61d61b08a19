"""The KV store's snapshot format: deterministic msgpack, validated on the way in.

Rules this file keeps:
- Equal states give equal bytes: keys are written sorted, leases by id, sessions
  in last-index order (unique per session, since one log index touches one
  session), and msgpack of lists, ints, strings and bytes has a single encoding.
- `decode_state` trusts nothing: a snapshot may come off a disk or from a peer's
  InstallSnapshot. Every field is type-checked and the store's invariants
  (sorted unique keys, create <= mod <= revision, every key's lease exists,
  sessions within the applied index) are verified; any problem is a MalformedInput.
- Format 1 (before txns and leases) still decodes; `encode_state` writes format 2.
- The watch history is not here: it is a cache of the log (watch.py).

Layout (format 2): ["senate-kv", 2, applied_index, revision, items, sessions, leases]
with items = [[key, value, create_revision, mod_revision, version, lease], ...],
leases = [[lease_id, ttl_ms], ...] sorted by id, and
sessions = [[client_id, last_seq, last_index, result], ...] where
result = [kind, revision, succeeded, prev_item_or_nil, deleted, error_or_nil, extra]:
kind 0 is a plain Result (extra nil); kind 1 a TxnResult, extra = its op results,
each [0, revision, prev] (put), [1, deleted, prev] (delete) or [2, item] (get);
kind 2 a LeaseResult, extra = [action (0 grant, 1 revoke), lease_id, ttl_ms, keys].
Format 1: items without the lease field, results [revision, succeeded, prev,
deleted, error], no leases.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import msgpack

from senate.errors import MalformedInput
from senate.kv.leases import MAX_TTL_MS, LeaseAction, LeaseResult
from senate.kv.ops import MAX_CLIENT_ID_BYTES, check_int, check_key
from senate.kv.results import KeyValue, Result
from senate.kv.sessions import Session
from senate.kv.txn import DeleteResult, GetResult, OpResult, PutResult, TxnResult

MAGIC = "senate-kv"
FORMAT = 2
FORMATS = (1, 2)
_ACTIONS = [LeaseAction.GRANT, LeaseAction.REVOKE]


@dataclass(slots=True)
class State:
    applied_index: int
    revision: int
    items: list[KeyValue]  # sorted by key
    sessions: list[Session]
    leases: list[tuple[int, int]]  # (lease_id, ttl_ms), sorted by id


def _kv_obj(kv: KeyValue | None) -> list[Any] | None:
    if kv is None:
        return None
    return [kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease]


def _op_result_obj(r: OpResult) -> list[Any]:
    if isinstance(r, PutResult):
        return [0, r.revision, _kv_obj(r.prev)]
    if isinstance(r, DeleteResult):
        return [1, r.deleted, _kv_obj(r.prev)]
    return [2, _kv_obj(r.kv)]


def _result_obj(r: Result) -> list[Any]:
    kind: int = 0
    extra: list[Any] | None = None
    if isinstance(r, TxnResult):
        kind, extra = 1, [_op_result_obj(x) for x in r.results]
    elif isinstance(r, LeaseResult):
        kind, extra = 2, [_ACTIONS.index(r.action), r.lease_id, r.ttl_ms, list(r.keys)]
    return [kind, r.revision, r.succeeded, _kv_obj(r.prev), r.deleted, r.error, extra]


def encode_state(
    applied_index: int,
    revision: int,
    items: list[KeyValue],
    sessions: list[Session],
    leases: list[tuple[int, int]] | None = None,
) -> bytes:
    obj = [
        MAGIC,
        FORMAT,
        applied_index,
        revision,
        [_kv_obj(kv) for kv in items],
        [[s.client_id, s.last_seq, s.last_index, _result_obj(s.result)] for s in sessions],
        [[lease_id, ttl] for lease_id, ttl in (leases or [])],
    ]
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


def _list(obj: object, size: int | None, what: str) -> list[Any]:
    if not isinstance(obj, list) or (size is not None and len(obj) != size):
        want = "an array" if size is None else f"an array of {size}"
        raise MalformedInput(f"snapshot: {what} must be {want}")
    return obj


class _Reader:
    """Validates one snapshot's pieces against its header (format, revision, index)."""

    def __init__(self, fmt: int, applied_index: int, revision: int) -> None:
        self.fmt, self.applied_index, self.revision = fmt, applied_index, revision

    def kv(self, obj: object) -> KeyValue:
        if self.fmt == 1:
            key, value, create, mod, version = _list(obj, 5, "key-value")
            lease = 0
        else:
            key, value, create, mod, version, lease = _list(obj, 6, "key-value")
            check_int(lease, "lease", 0)
        check_key(key)
        if not isinstance(value, bytes):
            raise MalformedInput(f"snapshot: value of {key!r} must be bytes")
        check_int(create, "create_revision", 1)
        check_int(mod, "mod_revision", create)
        check_int(version, "version", 1)
        if mod > self.revision:
            raise MalformedInput(f"snapshot: {key!r} modified at {mod}, after {self.revision}")
        return KeyValue(key, value, create, mod, version, lease)

    def opt_kv(self, obj: object) -> KeyValue | None:
        return None if obj is None else self.kv(obj)

    def revision_at_most_now(self, rev: object, what: str) -> int:
        check_int(rev, what, 0)
        assert isinstance(rev, int)
        if rev > self.revision:
            raise MalformedInput(f"snapshot: {what} {rev} after revision {self.revision}")
        return rev

    def op_result(self, obj: object) -> OpResult:
        fields = _list(obj, None, "txn op result")
        if not fields or type(fields[0]) is not int:
            raise MalformedInput("snapshot: txn op result needs an integer kind")
        if fields and fields[0] == 0 and len(fields) == 3:
            return PutResult(
                self.revision_at_most_now(fields[1], "put revision"), self.opt_kv(fields[2])
            )
        if fields and fields[0] == 1 and len(fields) == 3:
            if not isinstance(fields[1], bool):
                raise MalformedInput("snapshot: deleted must be a boolean")
            return DeleteResult(fields[1], self.opt_kv(fields[2]))
        if fields and fields[0] == 2 and len(fields) == 2:
            return GetResult(self.opt_kv(fields[1]))
        raise MalformedInput("snapshot: unknown txn op result")

    def result(self, obj: object) -> Result:
        if self.fmt == 1:
            kind, extra = 0, None
            rev, succeeded, prev, deleted, error = _list(obj, 5, "result")
        else:
            kind, rev, succeeded, prev, deleted, error, extra = _list(obj, 7, "result")
        self.revision_at_most_now(rev, "result revision")
        if not isinstance(succeeded, bool) or not isinstance(deleted, bool):
            raise MalformedInput("snapshot: result flags must be booleans")
        if error is not None and not isinstance(error, str):
            raise MalformedInput("snapshot: result error must be a string or nil")
        prev_kv = self.opt_kv(prev)
        if kind == 0 and type(kind) is int and extra is None:
            return Result(rev, succeeded, prev_kv, deleted, error)
        if kind == 1 and type(kind) is int:
            ops = tuple(self.op_result(x) for x in _list(extra, None, "txn results"))
            return TxnResult(rev, succeeded, prev_kv, deleted, error, ops)
        if kind == 2 and type(kind) is int:
            action, lease_id, ttl_ms, keys = _list(extra, 4, "lease result")
            if type(action) is not int or action not in (0, 1):
                raise MalformedInput("snapshot: unknown lease action")
            check_int(lease_id, "lease id", 0)
            check_int(ttl_ms, "ttl_ms", 0)
            key_list = [check_key(k) for k in _list(keys, None, "revoked keys")]
            return LeaseResult(
                rev,
                succeeded,
                prev_kv,
                deleted,
                error,
                _ACTIONS[action],
                lease_id,
                ttl_ms,
                tuple(key_list),
            )
        raise MalformedInput(f"snapshot: unknown result kind {kind!r}")

    def session(self, obj: object) -> Session:
        client_id, last_seq, last_index, result = _list(obj, 4, "session")
        if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID_BYTES:
            raise MalformedInput("snapshot: session client_id must be a non-empty short string")
        check_int(last_seq, "session seq", 1)
        check_int(last_index, "session index", 1)
        if last_index > self.applied_index:
            raise MalformedInput(f"snapshot: session index {last_index} after {self.applied_index}")
        return Session(client_id, last_seq, last_index, self.result(result))

    def lease(self, obj: object) -> tuple[int, int]:
        lease_id, ttl_ms = _list(obj, 2, "lease")
        check_int(lease_id, "lease id", 1)
        check_int(ttl_ms, "ttl_ms", 1)
        if ttl_ms > MAX_TTL_MS:
            raise MalformedInput(f"snapshot: ttl_ms {ttl_ms} over {MAX_TTL_MS}")
        return lease_id, ttl_ms


def decode_state(data: bytes) -> State:
    """Parse and validate snapshot bytes. Raises only MalformedInput."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedInput("snapshot must be bytes")
    try:
        obj = msgpack.unpackb(bytes(data), raw=False, use_list=True, strict_map_key=True)
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise MalformedInput(f"snapshot is not valid msgpack: {exc}") from exc
    fields = _list(obj, None, "snapshot")
    fmt = fields[1] if len(fields) > 1 else None
    if type(fmt) is not int or fmt not in FORMATS or len(fields) != 5 + fmt:
        raise MalformedInput(f"not a KV snapshot of formats {FORMATS}")
    magic, _, applied_index, revision, raw_items, raw_sessions = fields[:6]
    if magic != MAGIC:
        raise MalformedInput(f"not a KV snapshot: {magic!r}")
    check_int(applied_index, "applied_index", 0)
    check_int(revision, "revision", 0)
    reader = _Reader(fmt, applied_index, revision)
    leases = [reader.lease(x) for x in _list(fields[6], None, "leases")] if fmt == 2 else []
    for (low, _), (high, _) in itertools.pairwise(leases):
        if low >= high:
            raise MalformedInput("snapshot: leases must be sorted and unique")
    known = {lease_id for lease_id, _ in leases}
    items = [reader.kv(kv) for kv in _list(raw_items, None, "items")]
    for before, after in itertools.pairwise(items):
        if before.key >= after.key:
            raise MalformedInput("snapshot: keys must be sorted and unique")
    for kv in items:
        if kv.lease and kv.lease not in known:
            raise MalformedInput(f"snapshot: {kv.key!r} is attached to unknown lease {kv.lease}")
    sessions = [reader.session(s) for s in _list(raw_sessions, None, "sessions")]
    if len({s.client_id for s in sessions}) != len(sessions):
        raise MalformedInput("snapshot: duplicate session client_id")
    if len({s.last_index for s in sessions}) != len(sessions):
        raise MalformedInput("snapshot: two sessions share a last index")
    return State(applied_index, revision, items, sessions, leases)
