"""Membership endpoints (docs/API.md, "Members"), served by every node.

    GET    /v1/members         {"members": [{"id", "peer", "http", "voter"}]}
    POST   /v1/members         body {"id", "peer", "http"}: add as a learner (leader only)
    DELETE /v1/members/{id}    {"removed": id} (leader only; the leader may remove itself)

Rules this file keeps:
- Changes run on the leader; any other node answers 503 (Retry-After) with the
  leader's id and HTTP address in the message, so a client goes there.
- A change answers 200 only once its entry is committed and applied on this
  node; 504 means it was proposed but not seen committed in time (it may still
  take effect). POST of a member already added at the same peer address answers
  200 again (a retried request), at another address 409; DELETE of a stranger 404.
- The promotion of a learner needs no request: the leader proposes it as soon as
  the learner holds every committed entry (runtime/membership.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from senate.api.errors import ApiError
from senate.errors import UsageError
from senate.runtime.config import check_node_id, parse_addr
from senate.runtime.membership import ChangeTimeout, MemberConflict, NotAMember, NotLeaderHere
from senate.runtime.node import Node, OutcomeUnknown, Unavailable

NodeOf = Callable[[web.Request], Node]
_MAX_BODY = 4096


def add_member_routes(app: web.Application, node_of: NodeOf) -> None:
    async def handle_list(request: web.Request) -> web.Response:
        return web.json_response({"members": node_of(request).members()})

    async def handle_add(request: web.Request) -> web.Response:
        node_id, peer, http = await _add_body(request)
        return web.json_response(await _run(node_of(request).membership.add(node_id, peer, http)))

    async def handle_remove(request: web.Request) -> web.Response:
        node_id = _node_id(request.match_info["id"])
        return web.json_response(await _run(node_of(request).membership.remove(node_id)))

    app.router.add_get("/v1/members", handle_list)
    app.router.add_post("/v1/members", handle_add)
    app.router.add_delete("/v1/members/{id}", handle_remove)


async def _run(change: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await change
    except NotLeaderHere as exc:
        raise Unavailable(str(exc)) from None
    except MemberConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except NotAMember as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except ChangeTimeout as exc:
        raise OutcomeUnknown(str(exc)) from None
    return result


def _node_id(text: str) -> str:
    try:
        return check_node_id(text, "id")
    except UsageError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None


async def _add_body(request: web.Request) -> tuple[str, tuple[str, int], str]:
    raw = await request.content.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise ApiError(413, "too_large", f"a member request is at most {_MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_request", 'body must be JSON {"id", "peer", "http"}') from None
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("id", "peer", "http")
    ):
        raise ApiError(400, "bad_request", 'body must be JSON {"id", "peer", "http"} (strings)')
    try:
        peer = parse_addr(body["peer"], "peer")
        parse_addr(body["http"], "http")
    except UsageError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    if peer[1] == 0:
        raise ApiError(400, "bad_request", "peer: port 0 cannot be reached")
    return _node_id(body["id"]), peer, body["http"].strip()
