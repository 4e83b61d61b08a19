"""The INFO command's text: Redis's `# Section` / `field:value` lines, with a
`# Replication` section that reports, per peer, how far behind it is.

`peers` counts the configured peers, `peers_in_sync_contact` those whose anti-entropy
message arrived within the last 3 sync intervals (the links that work).
`origin` is the id this replica's ops carry (a new one per wiped or fresh data dir, see
replication.py), `origin_changes` how many it took since it started.
Per peer: `lag_ops` = ops this replica has applied that the peer has not acknowledged
as durable; `last_sync_ms` = ms since its last anti-entropy message arrived (-1: never); when the
service has a transport's `link_info`, what it says of the link follows (queued, sent,
dropped... messages), so a link that stopped moving shows.
"""

from __future__ import annotations

import asyncio
import os
import platform
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from senate.activeactive.service import ActiveActiveService


def _section(title: str, fields: list[tuple[str, object]]) -> str:
    return f"# {title}\r\n" + "".join(f"{k}:{v}\r\n" for k, v in fields)


def render_info(svc: ActiveActiveService, section: bytes) -> bytes:
    now_ms = svc.clock_ms()
    rep = svc.replicator
    loop_now = asyncio.get_running_loop().time()
    sections: dict[str, list[tuple[str, object]]] = {
        "server": [
            ("redis_version", "7.0.0"),
            ("senate_mode", "active-active"),
            ("node_id", svc.node_id),
            ("process_id", os.getpid()),
            ("python_version", platform.python_version()),
            ("uptime_in_seconds", (now_ms - svc.started_ms) // 1000),
        ],
        "clients": [
            ("connected_clients", svc.connected_clients()),
        ],
        "persistence": [
            ("wal_records_since_snapshot", svc.log.records_since_snapshot),
            ("wal_bytes_since_snapshot", svc.log.bytes_since_snapshot),
            ("snapshot_bytes", svc.log.snapshot_bytes),
            ("wal_fsyncs", svc.log.fsyncs),
            ("wal_durable_position", svc.log.durable()),
            ("wal_broken", svc.log.broken or "no"),
        ],
    }
    recent = 3 * svc.sync_interval
    syncs = [v.last_sync for v in rep.peers.values() if v.last_sync is not None]
    in_contact = sum(1 for last in syncs if loop_now - last <= recent)
    replication: list[tuple[str, object]] = [
        ("role", "active-active"),
        ("node_id", svc.node_id),
        ("version_vector", ",".join(f"{o}={n}" for o, n in sorted(svc.space.vv.items()))),
        ("origin", svc.space.node),
        ("origin_changes", svc.origin_changes),
        ("peers", len(rep.peers)),
        # peers whose anti-entropy reached us within 3 sync intervals: the live links
        ("peers_in_sync_contact", in_contact),
        ("log_ops", rep.log_size),
        ("waiting_ops", len(rep.waiting)),
    ]
    for i, (peer, view) in enumerate(sorted(rep.peers.items())):
        link = svc.link_info(peer) if svc.link_info is not None else ""
        last = -1 if view.last_sync is None else int((loop_now - view.last_sync) * 1000)
        replication.append(
            (
                f"peer{i}",
                f"id={peer},lag_ops={rep.lag(peer)},last_sync_ms={last},"
                f"resent_ops={view.resent},states_sent={view.states}"
                + (f",{link}" if link else ""),
            )
        )
    sections["replication"] = replication
    sections["keyspace"] = [
        ("db0", f"keys={svc.space.count_live()},expires={len(svc.commands.expiring)}")
    ]
    wanted = section.decode("latin-1").lower()
    if wanted in ("default", "all", "everything"):
        chosen = list(sections)
    else:
        chosen = [wanted] if wanted in sections else []
    return "\r\n".join(_section(name.capitalize(), sections[name]) for name in chosen).encode()
