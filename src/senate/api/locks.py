"""Lock endpoints (docs/API.md) over runtime/locks.py.

    POST   /v1/locks/{name}  {"ttl": seconds, "wait": seconds, "lease": ID}
           -> {"name", "lease", "fencing_token", "key"} once held
           -> 409 {"error": "timeout"} if not held within `wait` (default 0: try once)
           -> 404 {"error": "lease_not_found"} if `lease` names no live lease
           `lease` (optional): a lease the client granted; the lock is taken on it
           (ttl is then unused) and a retry with the same lease is the same
           contender: same key, same place, same fencing token. Giving up deletes
           the contender key and leaves the lease alone. Without it the node grants
           a lease of `ttl` and revokes it if it gives up.
    DELETE /v1/locks/{name}?lease=ID  -> {"released": bool}  (false: held by nobody
           with that lease any more — released, expired or never taken)

Rules this file keeps:
- The holder keeps the lease alive (POST /v1/leases/{lease}/keepalive); when it
  lapses the leader revokes it and the next contender gets the lock with a larger
  fencing token. Give the token to whatever the lock protects, and have it refuse
  smaller tokens.
- Every step is a log command or a linearizable read, so the answer to POST is
  durable like a PUT (committed on a quorum, fsynced, applied on the leader or here).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from senate.api.errors import ApiError
from senate.api.seconds import milliseconds, seconds
from senate.errors import MalformedInput
from senate.kv.leases import MAX_TTL_MS
from senate.runtime.locks import LockLeaseNotFound, LockLost, LockTimeout, acquire, release
from senate.runtime.node import Node

_MAX_BODY = 4096
_MAX_WAIT = 3600.0
_MAX_ID = (1 << 63) - 1


def add_lock_routes(app: web.Application, node_of: Callable[[web.Request], Node]) -> None:
    async def take(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        ttl_ms, wait, lease = _body(await request.content.read(_MAX_BODY + 1))
        try:
            hold = await acquire(node_of(request), name, ttl_ms, wait, lease)
        except LockLeaseNotFound as exc:
            raise ApiError(404, "lease_not_found", str(exc)) from None
        except LockTimeout as exc:
            raise ApiError(409, "timeout", str(exc)) from None
        except LockLost as exc:
            raise ApiError(409, "lock_lost", str(exc)) from None
        return web.json_response(
            {
                "name": hold.name,
                "lease": hold.lease,
                "fencing_token": hold.fencing_token,
                "key": hold.key,
            }
        )

    async def give_back(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        text = request.query.get("lease", "")
        if not text.isdigit() or not 1 <= int(text) <= _MAX_ID:
            raise MalformedInput("?lease= must name the lease the lock was taken with")
        result = await release(node_of(request), name, int(text))
        if result.error is not None:
            raise MalformedInput(result.error)
        return web.json_response({"released": result.deleted})

    app.router.add_post("/v1/locks/{name}", take)
    app.router.add_delete("/v1/locks/{name}", give_back)


def _body(raw: bytes) -> tuple[int, float, int | None]:
    if len(raw) > _MAX_BODY:
        raise ApiError(413, "too_large", f"a lock request is limited to {_MAX_BODY} bytes")
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise MalformedInput(f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) - {"ttl", "wait", "lease"}:
        raise MalformedInput('body must be {"ttl": seconds, "wait": seconds, "lease": ID}')
    ttl_ms = milliseconds(doc.get("ttl", 10), "ttl", MAX_TTL_MS)
    wait = seconds(doc.get("wait", 0), "wait", 0.0, _MAX_WAIT)
    if "lease" not in doc:
        return ttl_ms, wait, None
    lease = doc["lease"]
    if isinstance(lease, bool) or not isinstance(lease, int) or not 1 <= lease <= _MAX_ID:
        raise MalformedInput(f'"lease" must be a lease id, an integer 1..{_MAX_ID}')
    return ttl_ms, wait, lease
