"""Transactions (etcd's If / Then / Else) as small values, and their JSON form.

    from senate.client import Compare, Put, Delete, Get
    client.txn(compare=[Compare.value("k") == b"old", Compare.version("n") == 0],
               success=[Put("k", b"new"), Get("n")],
               failure=[Get("k")])

`Compare.value(key)` (also .revision, .create_revision, .version) returns a target
whose comparison operators (==, !=, <, >) build a Compare. The request always uses
`"encoding": "base64"`, so values of any bytes survive the trip both ways.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from senate.client.errors import ServerError
from senate.client.types import KeyValue

Target = Literal["value", "revision", "create_revision", "version"]
Op = Literal["==", "!=", "<", ">"]


@dataclass(slots=True, frozen=True)
class Compare:
    key: str
    target: Target
    op: Op
    operand: bytes | int  # named so `Compare.value(key)` can be the builder below

    @staticmethod
    def value(key: str) -> CompareTarget:
        return CompareTarget(key, "value")

    @staticmethod
    def revision(key: str) -> CompareTarget:
        return CompareTarget(key, "revision")

    @staticmethod
    def create_revision(key: str) -> CompareTarget:
        return CompareTarget(key, "create_revision")

    @staticmethod
    def version(key: str) -> CompareTarget:
        return CompareTarget(key, "version")

    def to_json(self) -> dict[str, Any]:
        if self.target == "value":
            if not isinstance(self.operand, bytes):
                raise TypeError("a value compare takes bytes")
            operand: Any = _b64(self.operand)
        else:
            if isinstance(self.operand, bytes | bool):
                raise TypeError(f"a {self.target} compare takes an int")
            operand = self.operand
        return {"key": self.key, "target": self.target, "op": self.op, "value": operand}


@dataclass(slots=True, frozen=True, eq=False)
class CompareTarget:
    """Half a compare: which key and what of it; an operator completes it."""

    key: str
    target: Target

    def _make(self, op: Op, other: object) -> Compare:
        if isinstance(other, str):
            other = other.encode()
        wanted = bytes if self.target == "value" else int
        if not isinstance(other, wanted) or isinstance(other, bool):
            raise TypeError(f"cannot compare a {self.target} with {type(other).__name__}")
        assert isinstance(other, bytes | int)
        return Compare(self.key, self.target, op, other)

    def __eq__(self, other: object) -> Compare:  # type: ignore[override]
        return self._make("==", other)

    def __ne__(self, other: object) -> Compare:  # type: ignore[override]
        return self._make("!=", other)

    def __lt__(self, other: object) -> Compare:
        return self._make("<", other)

    def __gt__(self, other: object) -> Compare:
        return self._make(">", other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True, frozen=True)
class Put:
    key: str
    value: bytes
    lease: int | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"op": "put", "key": self.key, "value": _b64(self.value)}
        if self.lease is not None:
            doc["lease"] = self.lease
        return doc


@dataclass(slots=True, frozen=True)
class Delete:
    key: str

    def to_json(self) -> dict[str, Any]:
        return {"op": "delete", "key": self.key}


@dataclass(slots=True, frozen=True)
class Get:
    key: str

    def to_json(self) -> dict[str, Any]:
        return {"op": "get", "key": self.key}


TxnOp = Put | Delete | Get


@dataclass(slots=True, frozen=True)
class OpResult:
    """One op's outcome: `revision` for a put, `deleted` for a delete, `kv` for a get."""

    op: Literal["put", "delete", "get"]
    revision: int | None = None
    deleted: bool | None = None
    kv: KeyValue | None = None


@dataclass(slots=True, frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    results: tuple[OpResult, ...]


def txn_document(
    compare: Sequence[Compare], success: Sequence[TxnOp], failure: Sequence[TxnOp]
) -> dict[str, Any]:
    return {
        "compare": [c.to_json() for c in compare],
        "success": [op.to_json() for op in success],
        "failure": [op.to_json() for op in failure],
        "encoding": "base64",
    }


def parse_txn_result(body: Any, ops: Sequence[TxnOp]) -> TxnResult:
    """The server's answer, paired with the branch that ran (to name each result)."""
    try:
        results = [_op_result(op, r) for op, r in zip(ops, body["results"], strict=True)]
        return TxnResult(bool(body["succeeded"]), int(body["revision"]), tuple(results))
    except (KeyError, TypeError, ValueError) as exc:
        raise ServerError(f"malformed txn answer: {exc!r}") from None


def _op_result(op: TxnOp, r: Any) -> OpResult:
    if isinstance(op, Put):
        return OpResult("put", revision=int(r["revision"]))
    if isinstance(op, Delete):
        return OpResult("delete", deleted=bool(r["deleted"]))
    kv = r.get("kv")
    return OpResult("get", kv=None if kv is None else parse_kv(kv, "base64"))


def parse_kv(item: Any, encoding: str) -> KeyValue:
    """A {"key","value","revision",...} object of the API as a KeyValue."""
    text = item["value"]
    value = base64.b64decode(text, validate=True) if encoding == "base64" else text.encode()
    revision = item.get("revision", item.get("mod_revision"))
    return KeyValue(
        str(item["key"]),
        value,
        int(revision),
        _opt_int(item.get("create_revision")),
        _opt_int(item.get("version")),
        _opt_int(item.get("lease")),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


__all__ = [
    "Compare",
    "CompareTarget",
    "Delete",
    "Get",
    "OpResult",
    "Put",
    "TxnOp",
    "TxnResult",
    "parse_kv",
    "parse_txn_result",
    "txn_document",
]
