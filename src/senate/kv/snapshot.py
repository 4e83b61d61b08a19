"""The KV store's snapshot format: deterministic msgpack, validated on the way in.

Rules this file keeps:
- Equal states give equal bytes: keys are written sorted, sessions in last-index
  order (unique per session, since one log index touches one session), and
  msgpack of lists, ints, strings and bytes has a single encoding.
- `decode_state` trusts nothing: a snapshot may come off a disk or from a peer's
  InstallSnapshot. Every field is type-checked and the store's invariants
  (sorted unique keys, create <= mod <= revision, sessions within the applied
  index) are verified; any problem is a MalformedInput.

Layout: ["senate-kv", 1, applied_index, revision, items, sessions] with
items = [[key, value, create_revision, mod_revision, version], ...] and
sessions = [[client_id, last_seq, last_index, result], ...] where
result = [revision, succeeded, prev_item_or_nil, deleted, error_or_nil].
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import msgpack

from senate.errors import MalformedInput
from senate.kv.commands import MAX_CLIENT_ID_BYTES, check_int, check_key
from senate.kv.results import KeyValue, Result
from senate.kv.sessions import Session

MAGIC = "senate-kv"
FORMAT = 1


@dataclass(slots=True)
class State:
    applied_index: int
    revision: int
    items: list[KeyValue]  # sorted by key
    sessions: list[Session]


def _kv_obj(kv: KeyValue) -> list[Any]:
    return [kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version]


def _result_obj(r: Result) -> list[Any]:
    prev = None if r.prev is None else _kv_obj(r.prev)
    return [r.revision, r.succeeded, prev, r.deleted, r.error]


def encode_state(
    applied_index: int, revision: int, items: list[KeyValue], sessions: list[Session]
) -> bytes:
    obj = [
        MAGIC,
        FORMAT,
        applied_index,
        revision,
        [_kv_obj(kv) for kv in items],
        [[s.client_id, s.last_seq, s.last_index, _result_obj(s.result)] for s in sessions],
    ]
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


def _list(obj: object, size: int | None, what: str) -> list[Any]:
    if not isinstance(obj, list) or (size is not None and len(obj) != size):
        want = "an array" if size is None else f"an array of {size}"
        raise MalformedInput(f"snapshot: {what} must be {want}")
    return obj


def _kv(obj: object, revision: int) -> KeyValue:
    key, value, create, mod, version = _list(obj, 5, "key-value")
    check_key(key)
    if not isinstance(value, bytes):
        raise MalformedInput(f"snapshot: value of {key!r} must be bytes")
    check_int(create, "create_revision", 1)
    check_int(mod, "mod_revision", create)
    check_int(version, "version", 1)
    if mod > revision:
        raise MalformedInput(f"snapshot: {key!r} modified at {mod}, after revision {revision}")
    return KeyValue(key, value, create, mod, version)


def _result(obj: object, revision: int) -> Result:
    rev, succeeded, prev, deleted, error = _list(obj, 5, "result")
    check_int(rev, "result revision", 0)
    if rev > revision:
        raise MalformedInput(f"snapshot: result revision {rev} after revision {revision}")
    if not isinstance(succeeded, bool) or not isinstance(deleted, bool):
        raise MalformedInput("snapshot: result flags must be booleans")
    if error is not None and not isinstance(error, str):
        raise MalformedInput("snapshot: result error must be a string or nil")
    return Result(rev, succeeded, None if prev is None else _kv(prev, revision), deleted, error)


def _session(obj: object, applied_index: int, revision: int) -> Session:
    client_id, last_seq, last_index, result = _list(obj, 4, "session")
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID_BYTES:
        raise MalformedInput("snapshot: session client_id must be a non-empty short string")
    check_int(last_seq, "session seq", 1)
    check_int(last_index, "session index", 1)
    if last_index > applied_index:
        raise MalformedInput(f"snapshot: session index {last_index} after {applied_index}")
    return Session(client_id, last_seq, last_index, _result(result, revision))


def decode_state(data: bytes) -> State:
    """Parse and validate snapshot bytes. Raises only MalformedInput."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedInput("snapshot must be bytes")
    try:
        obj = msgpack.unpackb(bytes(data), raw=False, use_list=True, strict_map_key=True)
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise MalformedInput(f"snapshot is not valid msgpack: {exc}") from exc
    magic, fmt, applied_index, revision, raw_items, raw_sessions = _list(obj, 6, "snapshot")
    if magic != MAGIC or fmt != FORMAT or type(fmt) is not int:
        raise MalformedInput(f"not a KV snapshot of format {FORMAT}: {magic!r} {fmt!r}")
    check_int(applied_index, "applied_index", 0)
    check_int(revision, "revision", 0)
    items = [_kv(kv, revision) for kv in _list(raw_items, None, "items")]
    for before, after in itertools.pairwise(items):
        if before.key >= after.key:
            raise MalformedInput("snapshot: keys must be sorted and unique")
    sessions = [_session(s, applied_index, revision) for s in _list(raw_sessions, None, "sessions")]
    if len({s.client_id for s in sessions}) != len(sessions):
        raise MalformedInput("snapshot: duplicate session client_id")
    if len({s.last_index for s in sessions}) != len(sessions):
        raise MalformedInput("snapshot: two sessions share a last index")
    return State(applied_index, revision, items, sessions)
