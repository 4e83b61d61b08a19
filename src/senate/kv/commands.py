"""KV commands as they travel through the replicated log, and their codec.

Rules this file keeps:
- A command is a `Request`: (client id, sequence number, one operation). The pair
  (client_id, seq) is what lets the store apply a retried command once (sessions.py).
- `decode_request` treats its input as untrusted bytes from the network or the log:
  every field is type- and range-checked, and any problem is a MalformedInput with
  a message naming the field. It never raises anything else.
- `encode_request` checks the same rules, so what the leader proposes always
  decodes again on every replica.
- Keys follow CONTRACT.md: 1..1024 bytes of UTF-8 without NUL. Values are bounded
  (1 MiB by default, configurable per call).

Wire layout (msgpack): `[client_id, seq, op]` where `op` is
`[0, key, value, prev_revision, prev_value]` for Put and
`[1, key, prev_revision, prev_value]` for Delete. The leading op code leaves room
for more operations (transactions, leases) without breaking old entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from senate.errors import MalformedInput

MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 1 << 20
MAX_CLIENT_ID_BYTES = 256
MAX_INT = (1 << 63) - 1  # seq and revisions stay within a signed 64-bit integer

OP_PUT = 0
OP_DELETE = 1


@dataclass(slots=True, frozen=True)
class Put:
    """Set `key` to `value` if the compares hold.

    prev_revision: the key's mod_revision must equal it; 0 means "must not exist".
    prev_value: the key must exist with exactly this value.
    """

    key: str
    value: bytes
    prev_revision: int | None = None
    prev_value: bytes | None = None


@dataclass(slots=True, frozen=True)
class Delete:
    """Remove `key` if the compares hold (same compare rules as Put)."""

    key: str
    prev_revision: int | None = None
    prev_value: bytes | None = None


@dataclass(slots=True, frozen=True)
class Request:
    client_id: str
    seq: int
    op: Put | Delete


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


def _check_prev(prev_revision: object, prev_value: object, max_value_bytes: int) -> None:
    if prev_revision is not None:
        check_int(prev_revision, "prev_revision", 0)
    if prev_value is not None:
        check_value(prev_value, "prev_value", max_value_bytes)


def check_request(req: Request, max_value_bytes: int = MAX_VALUE_BYTES) -> Request:
    """Validate every field of `req` (which may have been built from user input)."""
    if not isinstance(req.client_id, str) or not req.client_id:
        raise MalformedInput("client_id must be a non-empty string")
    try:
        id_size = len(req.client_id.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise MalformedInput("client_id is not valid UTF-8") from exc
    if id_size > MAX_CLIENT_ID_BYTES:
        raise MalformedInput(f"client_id is {id_size} bytes, over the {MAX_CLIENT_ID_BYTES} limit")
    check_int(req.seq, "seq", 1)
    op = req.op
    if isinstance(op, Put):
        check_key(op.key)
        check_value(op.value, "value", max_value_bytes)
    elif isinstance(op, Delete):
        check_key(op.key)
    else:
        raise MalformedInput(f"unknown operation {type(op).__name__}")
    _check_prev(op.prev_revision, op.prev_value, max_value_bytes)
    return req


def encode_request(req: Request, max_value_bytes: int = MAX_VALUE_BYTES) -> bytes:
    """Encode a request for the log. Raises MalformedInput if it breaks a rule."""
    check_request(req, max_value_bytes)
    op = req.op
    fields: list[Any]
    if isinstance(op, Put):
        fields = [OP_PUT, op.key, op.value, op.prev_revision, op.prev_value]
    else:
        fields = [OP_DELETE, op.key, op.prev_revision, op.prev_value]
    packed: bytes = msgpack.packb([req.client_id, req.seq, fields], use_bin_type=True)
    return packed


def decode_request(data: bytes, max_value_bytes: int = MAX_VALUE_BYTES) -> Request:
    """Decode and fully validate untrusted bytes. Raises only MalformedInput."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedInput(f"request must be bytes, got {type(data).__name__}")
    try:
        obj = msgpack.unpackb(bytes(data), raw=False, use_list=True, strict_map_key=True)
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        # ValueError covers ExtraData, FormatError, StackError and bad UTF-8.
        raise MalformedInput(f"request is not valid msgpack: {exc}") from exc
    if not isinstance(obj, list) or len(obj) != 3:
        raise MalformedInput("request must be a 3-element array [client_id, seq, op]")
    client_id, seq, fields = obj
    if not isinstance(fields, list) or not fields:
        raise MalformedInput("op must be a non-empty array")
    code = fields[0]
    op: Put | Delete
    if type(code) is int and code == OP_PUT and len(fields) == 5:
        _, key, value, prev_revision, prev_value = fields
        check_key(key)
        check_value(value, "value", max_value_bytes)
        _check_prev(prev_revision, prev_value, max_value_bytes)
        op = Put(key, value, prev_revision, prev_value)
    elif type(code) is int and code == OP_DELETE and len(fields) == 4:
        _, key, prev_revision, prev_value = fields
        check_key(key)
        _check_prev(prev_revision, prev_value, max_value_bytes)
        op = Delete(key, prev_revision, prev_value)
    else:
        raise MalformedInput(f"unknown op code {code!r} with {len(fields)} fields")
    return check_request(Request(client_id, seq, op), max_value_bytes)
