"""The single-key write operations Put and Delete, and the field checks every codec shares.

Rules this file keeps:
- Keys follow CONTRACT.md: 1..1024 bytes of UTF-8 without NUL. Values are bounded
  (1 MiB by default, configurable per call). Integers (seq, revisions, lease ids)
  stay within a signed 64-bit integer, and a msgpack boolean is never an integer.
- Every `check_*` raises MalformedInput with a message naming the field and never
  anything else, so decoders built from them only ever raise MalformedInput.
- A Put's wire form stays `[0, key, value, prev_revision, prev_value]` when it has
  no lease (the bytes of entries written before leases existed are unchanged);
  with a lease it gains a sixth field, the lease id (>= 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from senate.errors import MalformedInput

MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 1 << 20
MAX_CLIENT_ID_BYTES = 256
MAX_INT = (1 << 63) - 1  # seq, revisions and lease ids stay within a signed 64-bit integer

# Op codes, one table for the whole log format (commands.py, txn.py, leases.py).
OP_PUT = 0
OP_DELETE = 1
OP_TXN = 2
OP_LEASE_GRANT = 3
OP_LEASE_REVOKE = 4
OP_GET = 5  # only inside a transaction: reads outside one are not log entries


@dataclass(slots=True, frozen=True)
class Put:
    """Set `key` to `value` if the compares hold.

    prev_revision: the key's mod_revision must equal it; 0 means "must not exist".
    prev_value: the key must exist with exactly this value.
    lease: attach the key to this lease (0 = no lease; a put without a lease
    detaches a key that had one). An unknown lease rejects the put.
    """

    key: str
    value: bytes
    prev_revision: int | None = None
    prev_value: bytes | None = None
    lease: int = 0


@dataclass(slots=True, frozen=True)
class Delete:
    """Remove `key` if the compares hold (same compare rules as Put)."""

    key: str
    prev_revision: int | None = None
    prev_value: bytes | None = None


def check_key(key: object) -> str:
    """Return `key` if it is a valid key, else raise MalformedInput."""
    if not isinstance(key, str):
        raise MalformedInput(f"key must be a string, got {type(key).__name__}")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise MalformedInput("key is not valid UTF-8") from exc
    if not 1 <= size <= MAX_KEY_BYTES:
        raise MalformedInput(f"key must be 1..{MAX_KEY_BYTES} bytes of UTF-8, got {size}")
    if "\x00" in key:
        raise MalformedInput("key must not contain NUL")
    return key


def check_value(value: object, field: str, max_value_bytes: int) -> bytes:
    if not isinstance(value, bytes):
        raise MalformedInput(f"{field} must be bytes, got {type(value).__name__}")
    if len(value) > max_value_bytes:
        raise MalformedInput(f"{field} is {len(value)} bytes, over the {max_value_bytes} limit")
    return value


def check_int(value: object, field: str, low: int) -> int:
    # type() rather than isinstance(): msgpack's true/false decode to bool, an int subclass.
    if type(value) is not int:
        raise MalformedInput(f"{field} must be an integer, got {type(value).__name__}")
    if not low <= value <= MAX_INT:
        raise MalformedInput(f"{field} must be in {low}..{MAX_INT}, got {value}")
    return value


def check_prev(prev_revision: object, prev_value: object, max_value_bytes: int) -> None:
    if prev_revision is not None:
        check_int(prev_revision, "prev_revision", 0)
    if prev_value is not None:
        check_value(prev_value, "prev_value", max_value_bytes)


def check_put(op: Put, max_value_bytes: int) -> Put:
    check_key(op.key)
    check_value(op.value, "value", max_value_bytes)
    check_prev(op.prev_revision, op.prev_value, max_value_bytes)
    check_int(op.lease, "lease", 0)
    return op


def check_delete(op: Delete, max_value_bytes: int) -> Delete:
    check_key(op.key)
    check_prev(op.prev_revision, op.prev_value, max_value_bytes)
    return op


def put_fields(op: Put) -> list[Any]:
    fields: list[Any] = [OP_PUT, op.key, op.value, op.prev_revision, op.prev_value]
    if op.lease:
        fields.append(op.lease)
    return fields


def delete_fields(op: Delete) -> list[Any]:
    return [OP_DELETE, op.key, op.prev_revision, op.prev_value]


def decode_put(fields: list[Any], max_value_bytes: int) -> Put:
    """`fields` starts with OP_PUT; 5 fields, or 6 with a lease id >= 1."""
    if len(fields) == 5:
        _, key, value, prev_revision, prev_value = fields
        lease: object = 0
    elif len(fields) == 6:
        _, key, value, prev_revision, prev_value, lease = fields
        check_int(lease, "lease", 1)  # a lease of 0 is written as 5 fields: one encoding
    else:
        raise MalformedInput(f"put must have 5 or 6 fields, got {len(fields)}")
    check_key(key)
    check_value(value, "value", max_value_bytes)
    check_prev(prev_revision, prev_value, max_value_bytes)
    assert type(lease) is int
    return Put(key, value, prev_revision, prev_value, lease)


def decode_delete(fields: list[Any], max_value_bytes: int) -> Delete:
    if len(fields) != 4:
        raise MalformedInput(f"delete must have 4 fields, got {len(fields)}")
    _, key, prev_revision, prev_value = fields
    check_key(key)
    check_prev(prev_revision, prev_value, max_value_bytes)
    return Delete(key, prev_revision, prev_value)
