"""The HTTP/JSON API of CONTRACT.md on aiohttp, served by every node.

    GET    /v1/status                 the node's view: role, term, leader, indexes, members
    GET    /v1/metrics                read-only counters: fsyncs, peer messages (metrics.py)
    GET    /v1/members                {"members": [{"id", "peer", "http", "voter"}]}
    POST   /v1/members, DELETE /v1/members/{id}   add a learner, remove (members.py)
    PUT    /v1/kv/{key}               body = raw value; ?prev_revision=N | ?prev_value=V; ?lease=ID
    GET    /v1/kv/{key}               raw value, X-Senate-Revision; ?consistency=...
    DELETE /v1/kv/{key}               {"revision", "deleted"}; same optional compares
    GET    /v1/kv?prefix=P            {"revision", "items": [...]}; ?encoding=base64
    POST   /v1/txn                    If/Then/Else (txn.py, docs/API.md)
    GET    /v1/watch?key=K|prefix=P   a stream of changes (watch.py)
    /v1/leases...                     grant, keepalive, inspect, revoke (leases.py)
    /v1/locks/{name}                  acquire with a fencing token, release (locks.py)
    GET|PUT /v1/admin/faults          only with --enable-fault-admin (admin.py)

Durability of each write path (see runtime/node.py for the full statement):
- PUT and DELETE answer 200 only after the entry is committed — appended and
  fsynced (fdatasync) on a quorum of nodes, the leader's own fsync included — and
  applied to the leader's KV store. A follower forwards the write to the leader and
  answers when the leader sends it the result (after applying the entry) or when
  it has applied the entry itself, whichever comes first; so a `serializable` read
  on that follower right after may not show the write yet (a linearizable one does).
- 409 (compare failed) is also an outcome of a committed, applied entry: the
  compare was evaluated in log order.
- 503 means the write was never handed to any leader (it did not and will not
  apply); 504 means it was handed over but not seen applied within the write
  timeout: it may or may not apply. Retrying with the same X-Senate-Client and
  X-Senate-Seq headers applies it at most once.

Reads: `consistency=linearizable` (default) runs Raft's ReadIndex (the leader
confirms its leadership with a quorum heartbeat round) and serves the value once
this node has applied up to that index; `serializable` answers from this node's
state at once, possibly stale. Reads never write to disk.

Keys are 1..1024 bytes of UTF-8 without NUL (400 otherwise); values and compare
values are at most the node's max value size (1 MiB by default; 413 otherwise).
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from senate.api.admin import add_admin_routes
from senate.api.errors import ApiError, error_middleware
from senate.api.leases import add_lease_routes
from senate.api.locks import add_lock_routes
from senate.api.members import add_member_routes
from senate.api.metrics import add_metrics_routes
from senate.api.txn import run_txn
from senate.api.watch import watch_stream
from senate.errors import MalformedInput
from senate.kv import LEASE_NOT_FOUND, KeyValue, Result
from senate.kv.commands import MAX_CLIENT_ID_BYTES, MAX_INT, check_key
from senate.kv.store import STALE
from senate.runtime.node import ClientRef, Node

NODE_KEY: web.AppKey[Node] = web.AppKey("node", Node)
REVISION_HEADER = "X-Senate-Revision"  # the key's mod revision
CREATE_REVISION_HEADER = "X-Senate-Create-Revision"
LEASE_HEADER = "X-Senate-Lease"  # 0 = no lease
CLIENT_HEADER = "X-Senate-Client"
SEQ_HEADER = "X-Senate-Seq"
SHUTDOWN_GRACE = 2.0  # seconds


def build_app(node: Node) -> web.Application:
    limit = node.config.max_value_bytes
    app = web.Application(client_max_size=limit, middlewares=[error_middleware])
    app[NODE_KEY] = node
    app.router.add_get("/v1/status", handle_status)
    app.router.add_get("/v1/kv", handle_list)
    app.router.add_route("*", "/v1/kv/", handle_empty_key)
    app.router.add_put("/v1/kv/{key:.+}", handle_put)
    app.router.add_get("/v1/kv/{key:.+}", handle_get)
    app.router.add_delete("/v1/kv/{key:.+}", handle_delete)
    app.router.add_post("/v1/txn", handle_txn)
    app.router.add_get("/v1/watch", handle_watch)
    add_lease_routes(app, lambda request: request.app[NODE_KEY], _client)
    add_lock_routes(app, lambda request: request.app[NODE_KEY])
    add_member_routes(app, lambda request: request.app[NODE_KEY])
    add_metrics_routes(app, lambda request: request.app[NODE_KEY])
    add_admin_routes(app, node)  # only with --enable-fault-admin
    return app


async def start_http(node: Node) -> web.AppRunner:
    """Serve the API on node.config.http_addr; returns the runner (cleanup() stops it)."""
    # Requests still running at shutdown get a short grace: a write in flight is
    # then answered by nobody, which its client sees as "outcome unknown" anyway.
    runner = web.AppRunner(
        build_app(node), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE
    )
    await runner.setup()
    host, port = node.config.http_addr
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    return runner


# ---- handlers --------------------------------------------------------------------


async def handle_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[NODE_KEY].status())


async def handle_empty_key(request: web.Request) -> web.Response:
    raise ApiError(400, "bad_request", "key must be 1..1024 bytes of UTF-8, got 0")


async def handle_put(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    key = _key(request)
    prev_revision, prev_value = _compares(request, node)
    lease = _lease_param(request)
    client = _client(request)
    length = request.content_length
    if length is not None and length > node.config.max_value_bytes:
        raise _too_large(node)
    try:
        value = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(node) from None
    result = await node.put(
        key, value, prev_revision=prev_revision, prev_value=prev_value, lease=lease, client=client
    )
    _check_result(result)
    return web.json_response({"revision": result.revision})


async def handle_delete(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    key = _key(request)
    prev_revision, prev_value = _compares(request, node)
    result = await node.delete(
        key, prev_revision=prev_revision, prev_value=prev_value, client=_client(request)
    )
    _check_result(result)
    return web.json_response({"revision": result.revision, "deleted": result.deleted})


async def handle_get(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    key = _key(request)
    kv = await node.get(key, linearizable=_linearizable(request))
    if kv is None:
        raise ApiError(404, "not_found", f"no key {key!r}")
    return web.Response(
        body=kv.value,
        content_type="application/octet-stream",
        headers={
            REVISION_HEADER: str(kv.mod_revision),
            CREATE_REVISION_HEADER: str(kv.create_revision),
            LEASE_HEADER: str(kv.lease),
        },
    )


async def handle_txn(request: web.Request) -> web.Response:
    return await run_txn(request, request.app[NODE_KEY], _client(request))


async def handle_watch(request: web.Request) -> web.StreamResponse:
    return await watch_stream(request, request.app[NODE_KEY])


async def handle_list(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    prefix = request.query.get("prefix", "")
    if "\x00" in prefix:
        raise ApiError(400, "bad_request", "prefix must not contain NUL")
    encoding = request.query.get("encoding", "text")
    if encoding not in ("text", "base64"):
        raise ApiError(400, "bad_request", f"encoding must be text or base64, got {encoding!r}")
    revision, items = await node.range(prefix, linearizable=_linearizable(request))
    return web.json_response({"revision": revision, "items": [_item(kv, encoding) for kv in items]})


# ---- helpers ---------------------------------------------------------------------


def _key(request: web.Request) -> str:
    return check_key(request.match_info["key"])


def _linearizable(request: web.Request) -> bool:
    mode = request.query.get("consistency", "linearizable")
    if mode not in ("linearizable", "serializable"):
        raise ApiError(
            400, "bad_request", f"consistency must be linearizable or serializable, got {mode!r}"
        )
    return mode == "linearizable"


def _compares(request: web.Request, node: Node) -> tuple[int | None, bytes | None]:
    prev_revision: int | None = None
    prev_value: bytes | None = None
    text = request.query.get("prev_revision")
    if text is not None:
        if not text.isdigit() or int(text) > MAX_INT:
            raise ApiError(400, "bad_request", f"prev_revision must be an integer >= 0: {text!r}")
        prev_revision = int(text)
    raw = request.query.get("prev_value")
    if raw is not None:
        prev_value = raw.encode("utf-8", "surrogateescape")
        if len(prev_value) > node.config.max_value_bytes:
            raise _too_large(node)
    return prev_revision, prev_value


def _lease_param(request: web.Request) -> int:
    text = request.query.get("lease")
    if text is None:
        return 0
    if not text.isdigit() or int(text) > MAX_INT:
        raise ApiError(400, "bad_request", f"lease must be an integer >= 0: {text[:40]!r}")
    return int(text)


def _client(request: web.Request) -> ClientRef | None:
    client_id = request.headers.get(CLIENT_HEADER)
    seq_text = request.headers.get(SEQ_HEADER)
    if client_id is None and seq_text is None:
        return None
    if client_id is None or seq_text is None:
        raise ApiError(400, "bad_request", f"{CLIENT_HEADER} and {SEQ_HEADER} go together")
    if not client_id or len(client_id.encode("utf-8", "surrogateescape")) > MAX_CLIENT_ID_BYTES:
        raise ApiError(400, "bad_request", f"{CLIENT_HEADER} must be 1..256 bytes")
    if not seq_text.isdigit() or not 1 <= int(seq_text) <= MAX_INT:
        raise ApiError(400, "bad_request", f"{SEQ_HEADER} must be an integer >= 1")
    return ClientRef(client_id, int(seq_text))


def _too_large(node: Node) -> ApiError:
    limit = node.config.max_value_bytes
    return ApiError(413, "too_large", f"values are limited to {limit} bytes")


def _check_result(result: Result) -> None:
    if result.error == LEASE_NOT_FOUND:
        raise ApiError(404, "lease_not_found", "the put names an unknown (or expired) lease")
    if result.error == STALE:
        raise ApiError(
            409,
            "stale_request",
            "this client already had a later request applied (X-Senate-Seq went backwards)",
            revision=result.revision,
        )
    if result.error is not None:
        raise MalformedInput(result.error)
    if not result.succeeded:
        current = result.prev.mod_revision if result.prev is not None else 0
        raise ApiError(
            409,
            "compare_failed",
            "the compare did not hold; nothing changed",
            revision=result.revision,
            mod_revision=current,
        )


def _item(kv: KeyValue, encoding: str) -> dict[str, Any]:
    value: str
    if encoding == "base64":
        value = base64.b64encode(kv.value).decode("ascii")
    else:
        try:
            value = kv.value.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(
                400,
                "bad_request",
                f"value of {kv.key!r} is not UTF-8 text; ask with ?encoding=base64",
            ) from None
    return {"key": kv.key, "value": value, "revision": kv.mod_revision}


__all__ = ["build_app", "start_http"]
