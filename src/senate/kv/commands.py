"""KV commands as they travel through the replicated log, and their codec.

Rules this file keeps:
- A command is a `Request`: (client id, sequence number, one operation). The pair
  (client_id, seq) is what lets the store apply a retried command once (sessions.py);
  transactions and lease commands travel in the same envelope, so they dedupe too.
- `decode_request` treats its input as untrusted bytes from the network or the log:
  every field is type- and range-checked, and any problem is a MalformedInput with
  a message naming the field. It never raises anything else.
- `encode_request` checks the same rules, so what the leader proposes always
  decodes again on every replica.
- Keys follow CONTRACT.md: 1..1024 bytes of UTF-8 without NUL. Values are bounded
  (1 MiB by default, configurable per call). The field checks live in ops.py.

Wire layout (msgpack): `[client_id, seq, op]` where `op` starts with an op code:
`[0, key, value, prev_revision, prev_value(, lease)]` for Put,
`[1, key, prev_revision, prev_value]` for Delete, `[2, ...]` for Txn (txn.py),
`[3, lease_id, ttl_ms]` for LeaseGrant and `[4, lease_id]` for LeaseRevoke
(leases.py). Entries written before txns and leases existed decode unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from senate.errors import MalformedInput
from senate.kv.leases import (
    LeaseGrant,
    LeaseRevoke,
    check_grant,
    check_revoke,
    decode_grant,
    decode_revoke,
    grant_fields,
    revoke_fields,
)
from senate.kv.ops import (
    MAX_CLIENT_ID_BYTES,
    MAX_INT,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    OP_DELETE,
    OP_LEASE_GRANT,
    OP_LEASE_REVOKE,
    OP_PUT,
    OP_TXN,
    Delete,
    Put,
    check_delete,
    check_int,
    check_key,
    check_prev,
    check_put,
    check_value,
    decode_delete,
    decode_put,
    delete_fields,
    put_fields,
)
from senate.kv.txn import Txn, check_txn, decode_txn, txn_fields

Command = Put | Delete | Txn | LeaseGrant | LeaseRevoke

_check_prev = check_prev  # the name this module had before ops.py existed


@dataclass(slots=True, frozen=True)
class Request:
    client_id: str
    seq: int
    op: Command


def check_request(req: Request, max_value_bytes: int = MAX_VALUE_BYTES) -> Request:
    """Validate every field of `req` (which may have been built from user input)."""
    _check_envelope(req)
    op = req.op
    if isinstance(op, Put):
        check_put(op, max_value_bytes)
    elif isinstance(op, Delete):
        check_delete(op, max_value_bytes)
    elif isinstance(op, Txn):
        check_txn(op, max_value_bytes)
    elif isinstance(op, LeaseGrant):
        check_grant(op)
    elif isinstance(op, LeaseRevoke):
        check_revoke(op)
    else:
        raise MalformedInput(f"unknown operation {type(op).__name__}")
    return req


def _check_envelope(req: Request) -> None:
    if not isinstance(req.client_id, str) or not req.client_id:
        raise MalformedInput("client_id must be a non-empty string")
    try:
        id_size = len(req.client_id.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise MalformedInput("client_id is not valid UTF-8") from exc
    if id_size > MAX_CLIENT_ID_BYTES:
        raise MalformedInput(f"client_id is {id_size} bytes, over the {MAX_CLIENT_ID_BYTES} limit")
    check_int(req.seq, "seq", 1)


def _fields(op: Command) -> list[Any]:
    if isinstance(op, Put):
        return put_fields(op)
    if isinstance(op, Delete):
        return delete_fields(op)
    if isinstance(op, Txn):
        return txn_fields(op)
    if isinstance(op, LeaseGrant):
        return grant_fields(op)
    return revoke_fields(op)


def encode_request(req: Request, max_value_bytes: int = MAX_VALUE_BYTES) -> bytes:
    """Encode a request for the log. Raises MalformedInput if it breaks a rule."""
    check_request(req, max_value_bytes)
    packed: bytes = msgpack.packb([req.client_id, req.seq, _fields(req.op)], use_bin_type=True)
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
    n = len(fields)
    op: Command
    if type(code) is not int:
        raise MalformedInput(f"unknown op code {code!r} with {n} fields")
    if code == OP_PUT and n in (5, 6):
        op = decode_put(fields, max_value_bytes)
    elif code == OP_DELETE and n == 4:
        op = decode_delete(fields, max_value_bytes)
    elif code == OP_TXN and n == 4:
        op = decode_txn(fields, max_value_bytes)
    elif code == OP_LEASE_GRANT and n == 3:
        op = decode_grant(fields)
    elif code == OP_LEASE_REVOKE and n == 2:
        op = decode_revoke(fields)
    else:
        raise MalformedInput(f"unknown op code {code!r} with {n} fields")
    req = Request(client_id, seq, op)
    _check_envelope(req)  # the op decoders above validated the op itself
    return req


__all__ = [
    "MAX_CLIENT_ID_BYTES",
    "MAX_INT",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "OP_DELETE",
    "OP_PUT",
    "Command",
    "Delete",
    "LeaseGrant",
    "LeaseRevoke",
    "Put",
    "Request",
    "Txn",
    "check_int",
    "check_key",
    "check_request",
    "check_value",
    "decode_request",
    "encode_request",
]
