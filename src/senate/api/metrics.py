"""`GET /v1/metrics`: this node's counters, read-only (docs/API.md, "Metrics").

    GET /v1/metrics   {"id", "protocol", "role", "leader", "term", "commit_index",
                       "applied_index", "revision",
                       "driver": {"readies", "syncs", "synced_entries", "applied",
                                  "snapshots", "installed"},
                       "transport": {"sent", "received", "dropped", "lost", "reconnects",
                                     "connect_failures", "malformed", "rejected",
                                     "unroutable", "encode_errors", "callback_errors"},
                       "peers": {peer id: {"sent", "received", "dropped", "lost",
                                           "reconnects", "connect_failures"}},
                       "process": {"cpu_user_s", "cpu_system_s", "max_rss_kb"}}

Rules this file keeps:
- It only reads: counters the driver (runtime/driver.py DriverStats) and the peer
  transport (runtime/transport.py TransportCounters) keep anyway, and the process's
  rusage. Nothing here changes state or takes a lock.
- Counters count from the process start (they are not persisted) and only go up,
  so a client measures an interval by the difference of two answers.
- What they mean: `driver.syncs` is the number of WAL group commits, each one
  fdatasync (a Ready that must be durable; snapshot files are not counted);
  `driver.applied` counts applied log entries (commands, no-ops and membership
  changes); `transport.sent` counts peer messages of every kind (consensus,
  forwarded writes, results, leases, peer info) written into a connection, and
  `received` those delivered from peers.
"""

from __future__ import annotations

import dataclasses
import resource
from collections.abc import Callable
from typing import Any

from aiohttp import web

from senate.runtime.node import Node

NodeOf = Callable[[web.Request], Node]


def add_metrics_routes(app: web.Application, node_of: NodeOf) -> None:
    async def handle_metrics(request: web.Request) -> web.Response:
        return web.json_response(node_metrics(node_of(request)))

    app.router.add_get("/v1/metrics", handle_metrics)


def node_metrics(node: Node) -> dict[str, Any]:
    """The counters of `node`, as `GET /v1/metrics` answers them."""
    st = node.engine.status()
    transport = node.transport
    peers: dict[str, Any] = {}
    for peer_id in sorted(transport.peers):
        peers[peer_id] = dataclasses.asdict(transport.peer_counters(peer_id))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "id": st.id,
        "protocol": st.protocol,
        "role": st.role.value,
        "leader": st.leader,
        "term": st.term,
        "commit_index": st.commit_index,
        "applied_index": node.kv.applied_index,
        "revision": node.kv.revision,
        "driver": dataclasses.asdict(node.driver.stats),
        "transport": dataclasses.asdict(transport.counters()),
        "peers": peers,
        "process": {
            "cpu_user_s": round(usage.ru_utime, 6),
            "cpu_system_s": round(usage.ru_stime, 6),
            "max_rss_kb": usage.ru_maxrss,
        },
    }
