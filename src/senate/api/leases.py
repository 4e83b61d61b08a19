"""Lease endpoints (docs/API.md): grant, keepalive, inspect, revoke.

    POST   /v1/leases              {"ttl": seconds}  -> {"id", "ttl"}
    POST   /v1/leases/{id}/keepalive                 -> {"id", "ttl"}  (deadline reset)
    GET    /v1/leases/{id}                           -> {"id", "ttl", "remaining", "keys"}
    DELETE /v1/leases/{id}                           -> {"revoked": true}; its keys go

Rules this file keeps:
- Grant and revoke are log commands (durable like a PUT: committed on a quorum,
  fsynced, applied on the leader or here before the answer). Keepalive and "remaining" ask the
  leader's lease clock (runtime/leases.py): no log entry, no fsync.
- ttl and remaining are seconds (numbers); ids are integers 1..2**63-1 chosen by
  the node at random. An unknown or already-expired lease is 404 lease_not_found.
- GET is linearizable: a ReadIndex barrier first, then the lease's ttl and keys
  from this node's state; `remaining` comes from the leader's clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from senate.api.errors import ApiError
from senate.api.seconds import milliseconds
from senate.errors import MalformedInput
from senate.kv import LEASE_EXISTS, LEASE_NOT_FOUND, STALE, TOO_MANY_LEASES, Result
from senate.kv.leases import MAX_TTL_MS
from senate.runtime.node import ClientRef, Node

_MAX_ID = (1 << 63) - 1
_MAX_BODY = 4096


def add_lease_routes(
    app: web.Application,
    node_of: Callable[[web.Request], Node],
    client_of: Callable[[web.Request], ClientRef | None],
) -> None:
    """Register the lease routes; `node_of(request)` and `client_of(request)` as in server.py."""

    async def grant(request: web.Request) -> web.Response:
        ttl_ms = _ttl_ms(await _json(request))
        node = node_of(request)
        result = await node.lease_grant(ttl_ms, client=client_of(request))
        _check(result)
        lease_id = getattr(result, "lease_id", 0)
        return web.json_response({"id": lease_id, "ttl": _seconds(ttl_ms)})

    async def keepalive(request: web.Request) -> web.Response:
        lease_id = _lease_id(request)
        node = node_of(request)
        got = await node.lease_time(lease_id, keepalive=True)
        if got is None:
            raise _not_found(lease_id)
        return web.json_response({"id": lease_id, "ttl": _seconds(got.ttl_ms)})

    async def info(request: web.Request) -> web.Response:
        lease_id = _lease_id(request)
        node = node_of(request)
        await node.read_barrier()
        lease = node.kv.lease(lease_id)
        if lease is None:
            raise _not_found(lease_id)
        got = await node.lease_time(lease_id, keepalive=False)
        remaining = 0 if got is None else got.remaining_ms
        return web.json_response(
            {
                "id": lease_id,
                "ttl": _seconds(lease.ttl_ms),
                "remaining": _seconds(remaining),
                "keys": list(lease.keys),
            }
        )

    async def revoke(request: web.Request) -> web.Response:
        lease_id = _lease_id(request)
        node = node_of(request)
        result = await node.lease_revoke(lease_id, client=client_of(request))
        if result.error == LEASE_NOT_FOUND:
            raise _not_found(lease_id)
        _check(result)
        return web.json_response({"revoked": True})

    app.router.add_post("/v1/leases", grant)
    app.router.add_post("/v1/leases/{id}/keepalive", keepalive)
    app.router.add_get("/v1/leases/{id}", info)
    app.router.add_delete("/v1/leases/{id}", revoke)


async def _json(request: web.Request) -> object:
    raw = await request.content.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise ApiError(413, "too_large", f"a lease request is limited to {_MAX_BODY} bytes")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MalformedInput(f"body is not JSON: {exc}") from None


def _ttl_ms(doc: object) -> int:
    if not isinstance(doc, dict) or "ttl" not in doc:
        raise MalformedInput('body must be {"ttl": seconds}')
    return milliseconds(doc["ttl"], "ttl", MAX_TTL_MS)


def _lease_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or not 1 <= int(text) <= _MAX_ID:
        raise MalformedInput(f"lease id must be an integer 1..{_MAX_ID}, got {text[:40]!r}")
    return int(text)


def _seconds(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _not_found(lease_id: int) -> ApiError:
    return ApiError(404, "lease_not_found", f"no lease {lease_id} (unknown or expired)")


def _check(result: Result) -> None:
    if result.error == STALE:
        raise ApiError(409, "stale_request", "this client already had a later request applied")
    if result.error == TOO_MANY_LEASES:
        raise ApiError(400, "too_many_leases", "the cluster holds its maximum number of leases")
    if result.error == LEASE_EXISTS:
        raise ApiError(409, "lease_exists", "that lease id is taken (retry)")
    if result.error is not None:
        raise MalformedInput(result.error)
