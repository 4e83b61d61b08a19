"""POST /v1/txn: etcd's If / Then / Else as one atomic log command (docs/API.md).

    {"compare": [{"key", "target": "value"|"revision"|"create_revision"|"version",
                  "op": "=="|"!="|"<"|">", "value"}],
     "success": [ops], "failure": [ops], "encoding": "text"|"base64"}
    op = {"op": "put", "key", "value", "lease"?} | {"op": "delete", "key"} | {"op": "get", "key"}
    ->  {"succeeded", "revision", "results": [{"revision"} | {"deleted"} | {"kv": {...}|null}]}

Rules this file keeps:
- Parsing is total: any JSON shape or type that is not the above is a 400 naming
  the field, before anything is proposed. The KV layer then checks the limits
  (ops, compares, sizes, one write per key per branch) and refuses with 400 too.
- Values (put values, value compares) are UTF-8 text, or base64 with
  "encoding": "base64". In the answer a get's value uses the same encoding; a value
  that is not UTF-8 in text mode comes as "value": null plus "value_base64", since
  the txn has already been applied and must not be answered with an error.
- Durability as for PUT (server.py): the answer comes after the entry is committed
  on a quorum (fsynced) and applied (on the leader or here); gets inside a txn are linearizable.
- The body may hold several values, so it is read here with its own limit
  (MAX_TXN_BODY) rather than the app's per-value client_max_size.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

from senate.api.errors import ApiError
from senate.errors import MalformedInput
from senate.kv import (
    LEASE_NOT_FOUND,
    STALE,
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    DeleteResult,
    Get,
    GetResult,
    KeyValue,
    OpResult,
    Put,
    PutResult,
    Txn,
    TxnResult,
)
from senate.kv.txn import MAX_TXN_BYTES
from senate.runtime.node import ClientRef, Node

MAX_TXN_BODY = 2 * MAX_TXN_BYTES  # base64 and JSON framing of the txn's values
_CHUNK = 64 * 1024


async def read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"a txn body is limited to {limit} bytes")
    body = bytearray()
    async for chunk in request.content.iter_chunked(_CHUNK):
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(413, "too_large", f"a txn body is limited to {limit} bytes")
    return bytes(body)


async def run_txn(request: web.Request, node: Node, client: ClientRef | None) -> web.Response:
    raw = await read_body(request, MAX_TXN_BODY)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise MalformedInput(f"txn body is not JSON: {exc}") from None
    txn, b64 = parse_txn(doc)
    result = await node.txn(txn, client=client)
    if result.error == LEASE_NOT_FOUND:
        raise ApiError(404, "lease_not_found", "a put in the txn names an unknown lease")
    if result.error == STALE:
        raise ApiError(409, "stale_request", "this client already had a later request applied")
    if result.error is not None:
        raise MalformedInput(result.error)
    return web.json_response(txn_answer(result, b64))


def parse_txn(doc: object) -> tuple[Txn, bool]:
    """The Txn a JSON document describes, and whether values are base64."""
    if not isinstance(doc, dict):
        raise MalformedInput("txn body must be a JSON object")
    unknown = set(doc) - {"compare", "success", "failure", "encoding"}
    if unknown:
        raise MalformedInput(f"unknown txn fields: {sorted(unknown)}")
    encoding = doc.get("encoding", "text")
    if encoding not in ("text", "base64"):
        raise MalformedInput(f"encoding must be text or base64, got {encoding!r}")
    b64 = encoding == "base64"
    compares = tuple(_compare(c, b64) for c in _list(doc.get("compare", []), "compare"))
    success = tuple(_op(o, b64) for o in _list(doc.get("success", []), "success"))
    failure = tuple(_op(o, b64) for o in _list(doc.get("failure", []), "failure"))
    return Txn(compares, success, failure), b64


def txn_answer(result: TxnResult, b64: bool) -> dict[str, Any]:
    return {
        "succeeded": result.succeeded,
        "revision": result.revision,
        "results": [_op_result(r, b64) for r in result.results],
    }


def _list(value: object, name: str) -> list[object]:
    if not isinstance(value, list):
        raise MalformedInput(f"{name} must be a list")
    return value


def _str(obj: dict[str, object], name: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise MalformedInput(f"{where}: {name} must be a string")
    return value


def _bytes(obj: dict[str, object], name: str, where: str, b64: bool) -> bytes:
    text = _str(obj, name, where)
    if not b64:
        return text.encode("utf-8", "surrogateescape")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedInput(f"{where}: {name} is not valid base64") from None


def _uint(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise MalformedInput(f"{where} must be an integer >= 0")
    return value


def _compare(obj: object, b64: bool) -> Compare:
    if not isinstance(obj, dict):
        raise MalformedInput("each compare must be an object")
    key = _str(obj, "key", "compare")
    try:
        target = CompareTarget(str(obj.get("target")))
        op = CompareOp(str(obj.get("op")))
    except ValueError as exc:
        raise MalformedInput(f"compare: {exc}") from None
    if target == CompareTarget.VALUE:
        return Compare(key, target, op, _bytes(obj, "value", "compare", b64))
    return Compare(key, target, op, _uint(obj.get("value"), f"compare {target.value} value"))


def _op(obj: object, b64: bool) -> Put | Delete | Get:
    if not isinstance(obj, dict):
        raise MalformedInput("each txn op must be an object")
    kind = obj.get("op")
    key = _str(obj, "key", f"{kind} op")
    if kind == "put":
        lease = _uint(obj.get("lease", 0), "put lease")
        return Put(key, _bytes(obj, "value", "put op", b64), lease=lease)
    if kind == "delete":
        return Delete(key)
    if kind == "get":
        return Get(key)
    raise MalformedInput(f"txn op must be put, delete or get, got {kind!r}")


def _op_result(result: OpResult, b64: bool) -> dict[str, Any]:
    if isinstance(result, PutResult):
        return {"revision": result.revision}
    if isinstance(result, DeleteResult):
        return {"deleted": result.deleted}
    assert isinstance(result, GetResult)
    return {"kv": None if result.kv is None else kv_object(result.kv, b64)}


def kv_object(kv: KeyValue, b64: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": kv.key,
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "lease": kv.lease,
    }
    if b64:
        out["value"] = base64.b64encode(kv.value).decode("ascii")
        return out
    try:
        out["value"] = kv.value.decode("utf-8")
    except UnicodeDecodeError:
        out["value"] = None
        out["value_base64"] = base64.b64encode(kv.value).decode("ascii")
    return out
