"""Transactions: etcd's If / Then / Else, as one atomic log command.

Rules this file keeps:
- A Txn is `compares` (all must hold), `success` (run if they do) and `failure`
  (run otherwise); each branch is a sequence of Put, Delete and Get on single keys.
  The store runs the chosen branch in order, so a Get sees the branch's earlier
  writes, and every write of the branch shares one new revision (none if nothing
  changed). See KVStore._txn.
- Compares follow etcd: a missing key has version, revision and create_revision 0,
  so `create_revision == 0` means "absent"; a `value` compare on a missing key is
  always false. Values compare as bytes (lexicographically), the others as integers.
- Inside a txn, puts and deletes carry no prev_revision/prev_value (that is what
  compares are for), and a branch writes each key at most once (as etcd: one
  revision cannot hold two versions of a key). Gets may repeat and mix with writes.
- Bounded: at most MAX_TXN_COMPARES compares and MAX_TXN_OPS ops per branch, and
  the values of one txn add up to at most max(MAX_TXN_BYTES, max_value_bytes).
- `check_txn` and `decode_txn` apply the same rules and raise only MalformedInput.

Wire form: `[2, compares, success, failure]` with a compare `[key, target, op,
value]` (target and op as small integers, see _TARGETS and _OPS) and an op in the
Put/Delete forms of ops.py or `[5, key]` for Get.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from senate.errors import MalformedInput
from senate.kv.ops import (
    MAX_INT,
    OP_DELETE,
    OP_GET,
    OP_PUT,
    OP_TXN,
    Delete,
    Put,
    check_delete,
    check_int,
    check_key,
    check_put,
    check_value,
    decode_delete,
    decode_put,
    delete_fields,
    put_fields,
)
from senate.kv.results import KeyValue, Result

MAX_TXN_OPS = 128
MAX_TXN_COMPARES = 128
MAX_TXN_BYTES = 8 << 20


class CompareTarget(enum.StrEnum):
    VALUE = "value"
    REVISION = "revision"  # the key's mod_revision
    CREATE_REVISION = "create_revision"
    VERSION = "version"


class CompareOp(enum.StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    GT = ">"


_TARGETS = [
    CompareTarget.VALUE,
    CompareTarget.REVISION,
    CompareTarget.CREATE_REVISION,
    CompareTarget.VERSION,
]
_OPS = [CompareOp.EQ, CompareOp.NE, CompareOp.LT, CompareOp.GT]


@dataclass(slots=True, frozen=True)
class Compare:
    """`target` of `key` `op` `value`; value is bytes for VALUE, an int >= 0 otherwise."""

    key: str
    target: CompareTarget
    op: CompareOp
    value: bytes | int


@dataclass(slots=True, frozen=True)
class Get:
    key: str


TxnOp = Put | Delete | Get


@dataclass(slots=True, frozen=True)
class Txn:
    compares: tuple[Compare, ...] = ()
    success: tuple[TxnOp, ...] = ()
    failure: tuple[TxnOp, ...] = ()


# -- results --


@dataclass(slots=True, frozen=True)
class PutResult:
    revision: int  # the txn's new revision
    prev: KeyValue | None = None


@dataclass(slots=True, frozen=True)
class DeleteResult:
    deleted: bool
    prev: KeyValue | None = None


@dataclass(slots=True, frozen=True)
class GetResult:
    kv: KeyValue | None


OpResult = PutResult | DeleteResult | GetResult


@dataclass(slots=True, frozen=True)
class TxnResult(Result):
    """A Result whose `succeeded` says whether the compares held (etcd's meaning).

    A subclass of Result, so `KVStore.apply` keeps returning a Result; check with
    isinstance. results: one per op of the branch that ran. error (LEASE_NOT_FOUND)
    means a put named an unknown lease and nothing ran.
    """

    results: tuple[OpResult, ...] = ()


def compare_holds(current: KeyValue | None, cmp: Compare) -> bool:
    """Whether `cmp` holds for `current` (the key's state, None if absent)."""
    actual: bytes | int
    if cmp.target == CompareTarget.VALUE:
        if current is None:
            return False
        actual = current.value
    elif current is None:
        actual = 0
    elif cmp.target == CompareTarget.REVISION:
        actual = current.mod_revision
    elif cmp.target == CompareTarget.CREATE_REVISION:
        actual = current.create_revision
    else:
        actual = current.version
    want = cmp.value
    if type(actual) is not type(want):
        return False  # check_compare forbids this; never compare bytes with int
    if cmp.op == CompareOp.EQ:
        return actual == want
    if cmp.op == CompareOp.NE:
        return actual != want
    if cmp.op == CompareOp.LT:
        return actual < want  # type: ignore[operator]
    return actual > want  # type: ignore[operator]


# -- validation --


def _check_compare(cmp: object, max_value_bytes: int) -> Compare:
    if not isinstance(cmp, Compare):
        raise MalformedInput(f"a compare must be a Compare, got {type(cmp).__name__}")
    check_key(cmp.key)
    try:
        target = CompareTarget(cmp.target)
        op = CompareOp(cmp.op)
    except ValueError as exc:
        raise MalformedInput(f"compare: {exc}") from exc
    if target == CompareTarget.VALUE:
        check_value(cmp.value, "compare value", max_value_bytes)
    else:
        check_int(cmp.value, f"compare {target.value}", 0)
    return Compare(cmp.key, target, op, cmp.value)


def _check_branch(ops: object, name: str, max_value_bytes: int) -> int:
    """Validate a branch; return the bytes of values it carries."""
    if not isinstance(ops, tuple):
        raise MalformedInput(f"{name} must be a tuple of ops")
    if len(ops) > MAX_TXN_OPS:
        raise MalformedInput(f"{name} has {len(ops)} ops, over the {MAX_TXN_OPS} limit")
    written: set[str] = set()
    size = 0
    for op in ops:
        if isinstance(op, Get):
            check_key(op.key)
            continue
        if isinstance(op, Put):
            check_put(op, max_value_bytes)
            size += len(op.value)
        elif isinstance(op, Delete):
            check_delete(op, max_value_bytes)
        else:
            raise MalformedInput(f"{name}: unknown op {type(op).__name__}")
        if op.prev_revision is not None or op.prev_value is not None:
            raise MalformedInput(f"{name}: ops in a txn take compares, not prev_revision/value")
        if op.key in written:
            raise MalformedInput(f"{name} writes key {op.key!r} twice")
        written.add(op.key)
    return size


def check_txn(txn: Txn, max_value_bytes: int) -> Txn:
    if not isinstance(txn.compares, tuple):
        raise MalformedInput("compares must be a tuple")
    if len(txn.compares) > MAX_TXN_COMPARES:
        raise MalformedInput(
            f"txn has {len(txn.compares)} compares, over the {MAX_TXN_COMPARES} limit"
        )
    size = 0
    for cmp in txn.compares:
        _check_compare(cmp, max_value_bytes)
        if isinstance(cmp.value, bytes):
            size += len(cmp.value)
    size += _check_branch(txn.success, "success", max_value_bytes)
    size += _check_branch(txn.failure, "failure", max_value_bytes)
    limit = max(MAX_TXN_BYTES, max_value_bytes)
    if size > limit:
        raise MalformedInput(f"txn carries {size} bytes of values, over the {limit} limit")
    return txn


# -- codec --


def _op_fields(op: TxnOp) -> list[Any]:
    if isinstance(op, Put):
        return put_fields(op)
    if isinstance(op, Delete):
        return delete_fields(op)
    return [OP_GET, op.key]


def txn_fields(txn: Txn) -> list[Any]:
    """The wire form of a (checked) txn."""
    compares = [
        [c.key, _TARGETS.index(CompareTarget(c.target)), _OPS.index(CompareOp(c.op)), c.value]
        for c in txn.compares
    ]
    return [
        OP_TXN,
        compares,
        [_op_fields(op) for op in txn.success],
        [_op_fields(op) for op in txn.failure],
    ]


def _small(code: object, table_size: int, field: str) -> int:
    if type(code) is not int or not 0 <= code < table_size:
        raise MalformedInput(f"compare {field} code must be in 0..{table_size - 1}, got {code!r}")
    return code


def _decode_compare(obj: object, max_value_bytes: int) -> Compare:
    if not isinstance(obj, list) or len(obj) != 4:
        raise MalformedInput("a compare must be an array [key, target, op, value]")
    key, target, op, value = obj
    cmp = Compare(
        key,
        _TARGETS[_small(target, len(_TARGETS), "target")],
        _OPS[_small(op, len(_OPS), "op")],
        value,
    )
    return _check_compare(cmp, max_value_bytes)


def _decode_op(obj: object, max_value_bytes: int) -> TxnOp:
    if not isinstance(obj, list) or not obj:
        raise MalformedInput("a txn op must be a non-empty array")
    code = obj[0]
    if type(code) is int and code == OP_PUT:
        return decode_put(obj, max_value_bytes)
    if type(code) is int and code == OP_DELETE:
        return decode_delete(obj, max_value_bytes)
    if type(code) is int and code == OP_GET and len(obj) == 2:
        return Get(check_key(obj[1]))
    raise MalformedInput(f"unknown txn op code {code!r} with {len(obj)} fields")


def _decode_list(obj: object, limit: int, name: str) -> list[Any]:
    if not isinstance(obj, list):
        raise MalformedInput(f"{name} must be an array")
    if len(obj) > limit:
        raise MalformedInput(f"{name} has {len(obj)} entries, over the {limit} limit")
    return obj


def decode_txn(fields: list[Any], max_value_bytes: int) -> Txn:
    """`fields` starts with OP_TXN. Raises only MalformedInput."""
    if len(fields) != 4:
        raise MalformedInput(f"txn must have 4 fields, got {len(fields)}")
    _, compares, success, failure = fields
    cmps = _decode_list(compares, MAX_TXN_COMPARES, "compares")
    then = _decode_list(success, MAX_TXN_OPS, "success")
    otherwise = _decode_list(failure, MAX_TXN_OPS, "failure")
    txn = Txn(
        tuple(_decode_compare(c, max_value_bytes) for c in cmps),
        tuple(_decode_op(o, max_value_bytes) for o in then),
        tuple(_decode_op(o, max_value_bytes) for o in otherwise),
    )
    return check_txn(txn, max_value_bytes)


__all__ = [
    "MAX_INT",
    "MAX_TXN_BYTES",
    "MAX_TXN_COMPARES",
    "MAX_TXN_OPS",
    "Compare",
    "CompareOp",
    "CompareTarget",
    "DeleteResult",
    "Get",
    "GetResult",
    "OpResult",
    "PutResult",
    "Txn",
    "TxnOp",
    "TxnResult",
    "check_txn",
    "compare_holds",
    "decode_txn",
    "txn_fields",
]
