"""The fault admin endpoint: drop, delay and partition this node's peer links at run time.

    GET /v1/admin/faults     {"rules": <FaultRules.describe()>, "counters": {...}}
    PUT /v1/admin/faults     body = a FaultRules spec (runtime/faults.py); replaces
                             every rule; answers like GET. {} heals everything.

Rules this file keeps:
- Off unless the node runs with --enable-fault-admin: the routes are not even
  registered, so a production node answers 404 (JSON) and nobody can partition it
  over HTTP. It exists so partition tests run on real processes without root.
- The rules act on this node's ends of its links only (sends and receives); the
  transport enforces a blocked link on both ends, so isolating a node needs only
  that node's rules.
- A malformed spec is a 400 and changes nothing (FaultRules.configure validates
  the whole document first). Every change is logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from aiohttp import web

from senate.api.errors import ApiError
from senate.runtime.faults import FaultRules
from senate.runtime.node import Node

logger = logging.getLogger("senate.api")

ADMIN_FAULTS = "/v1/admin/faults"


def add_admin_routes(app: web.Application, node: Node) -> None:
    """Register the fault endpoint if this node has fault rules (the flag is on)."""
    faults = node.faults
    if faults is None:
        return

    async def get_faults(request: web.Request) -> web.Response:
        return web.json_response(_describe(faults))

    async def put_faults(request: web.Request) -> web.Response:
        try:
            spec = json.loads(await request.read())
        except ValueError as exc:
            raise ApiError(400, "bad_request", f"fault spec is not JSON: {exc}") from None
        faults.configure(spec)  # MalformedInput -> 400, nothing changed
        logger.warning("node %s: fault rules now %s", node.id, json.dumps(faults.describe()))
        return web.json_response(_describe(faults))

    app.router.add_get(ADMIN_FAULTS, get_faults)
    app.router.add_put(ADMIN_FAULTS, put_faults)


def _describe(faults: FaultRules) -> dict[str, Any]:
    return {"rules": faults.describe(), "counters": dataclasses.asdict(faults.counters)}
