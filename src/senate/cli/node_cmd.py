"""`senate node`: run one cluster member in the foreground (CONTRACT.md, "One node").

Rules this file keeps:
- Bad flags exit 2 and an unusable data dir (corrupt, unwritable, locked by a
  running node) or a port that cannot be bound exits 1, each with one line on
  stderr and no traceback.
- The data dir is locked (flock on DIR/LOCK) for the life of the process, so two
  nodes never share a WAL.
- SIGTERM and SIGINT stop the node cleanly (exit 0): HTTP first, then the
  engine, the transport and the WAL. A fatal storage error exits 1.
- `--resp HOST:PORT` also serves the Redis protocol: the active-active CRDT store
  (runtime/resp_service.py), replicated to every member over the peer transport.
- `--enable-fault-admin` (tests only) serves /v1/admin/faults, which can cut this
  node's peer links; without it the endpoint does not exist.
- `--join` starts a new member (docs/API.md, "Members"): it is not a voter of its
  initial configuration, so it waits to be added instead of campaigning. After the
  first start the data dir's members.json, not `--cluster`, names the members.
- `--protocol raft|multipaxos|zab` picks the consensus engine (default raft). The
  data dir remembers it (DATA_DIR/PROTOCOL): restarting it with another protocol
  exits 2 with one line naming the one it holds, and reads none of its log.
- Logs go to stderr, one line per event that matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

import click

from senate.errors import SenateError, StorageError, UsageError
from senate.runtime.config import (
    DEFAULT_ELECTION_TICKS,
    DEFAULT_PROTOCOL,
    DEFAULT_SNAPSHOT_EVERY,
    DEFAULT_TICK_MS,
    DEFAULT_WRITE_TIMEOUT,
    PROTOCOLS,
    NodeConfig,
    format_addr,
    parse_addr,
    parse_cluster,
)

logger = logging.getLogger("senate.node")


@click.command()
@click.option("--id", "node_id", required=True, help="This node's id, as listed in --cluster.")
@click.option("--data-dir", required=True, type=click.Path(path_type=Path), help="WAL + snapshots.")
@click.option("--peer", required=True, help="host:port to listen on for peers.")
@click.option("--http", "http", required=True, help="host:port of the HTTP/JSON API.")
@click.option(
    "--resp", default=None, help="host:port to serve the Redis protocol (active-active CRDTs)."
)
@click.option("--cluster", required=True, help="Initial members: id=host:port,... (self included).")
@click.option("--cluster-id", default="senate", show_default=True, help="Refuse other clusters.")
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default=DEFAULT_PROTOCOL,
    show_default=True,
    help="The consensus engine; every member must run the same one.",
)
@click.option(
    "--tick-ms", type=click.IntRange(1, 10_000), default=DEFAULT_TICK_MS, show_default=True
)
@click.option(
    "--election-ticks",
    type=click.IntRange(2, 1000),
    default=DEFAULT_ELECTION_TICKS,
    show_default=True,
    help="Election timeout, in ticks (randomised up to twice this).",
)
@click.option(
    "--snapshot-every",
    type=click.IntRange(1),
    default=DEFAULT_SNAPSHOT_EVERY,
    show_default=True,
    help="Applied entries between KV snapshots (and log compaction).",
)
@click.option(
    "--write-timeout",
    type=click.FloatRange(0.1, 600.0),
    default=DEFAULT_WRITE_TIMEOUT,
    show_default=True,
    help="Seconds before an unfinished write is answered 504.",
)
@click.option(
    "--join",
    is_flag=True,
    help="A new member: --cluster lists the current members plus this node, which "
    "stays a learner (never campaigns) until added (POST /v1/members) and promoted.",
)
@click.option(
    "--enable-fault-admin",
    is_flag=True,
    help="Serve /v1/admin/faults to drop, delay or partition peer links (tests only).",
)
def node(
    node_id: str,
    data_dir: Path,
    peer: str,
    http: str,
    resp: str | None,
    cluster: str,
    cluster_id: str,
    protocol: str,
    tick_ms: int,
    election_ticks: int,
    snapshot_every: int,
    write_timeout: float,
    join: bool,
    enable_fault_admin: bool,
) -> None:
    """Run one Senate node in the foreground until SIGTERM or Ctrl-C."""
    config = NodeConfig(
        node_id=node_id,
        data_dir=data_dir,
        peer_addr=parse_addr(peer, "--peer"),
        http_addr=parse_addr(http, "--http"),
        cluster=parse_cluster(cluster),
        resp_addr=None if resp is None else parse_addr(resp, "--resp"),
        cluster_id=cluster_id,
        tick_ms=tick_ms,
        election_ticks=election_ticks,
        snapshot_every=snapshot_every,
        write_timeout=write_timeout,
        fault_admin=enable_fault_admin,
        join=join,
        protocol=protocol,
    )
    if not cluster_id or len(cluster_id) > 256:
        raise UsageError("--cluster-id must be 1..256 characters")
    _setup_logging()
    lock = _lock_data_dir(data_dir)
    try:
        from senate.runtime.transport import install_uvloop

        uvloop = install_uvloop()
        code = asyncio.run(_serve(config, uvloop))
    finally:
        lock.close()
    raise SystemExit(code)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)


def _lock_data_dir(data_dir: Path) -> IO[bytes]:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(data_dir / "LOCK", "ab")  # noqa: SIM115 - held for the process's life
    except OSError as exc:
        raise StorageError(f"data dir {data_dir} is unusable: {exc.strerror or exc}") from None
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise StorageError(f"data dir {data_dir} is in use by another senate node") from None
    return lock


async def _serve(config: NodeConfig, uvloop: bool) -> int:
    from senate.api import start_http
    from senate.runtime.node import Node

    # Handlers first: a stop asked for during start-up still ends in a clean stop.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        node_obj = Node(config)
    except UsageError as exc:  # e.g. --protocol differs from the one the data dir holds
        click.echo(f"senate node: {exc}", err=True)
        return 2
    except (StorageError, OSError, SenateError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        click.echo(f"senate node: data dir {config.data_dir} is unusable: {reason}", err=True)
        return 1
    try:
        await node_obj.start()
    except OSError as exc:
        click.echo(
            f"senate node: cannot listen for peers on "
            f"{format_addr(config.peer_addr)}: {exc.strerror or exc}",
            err=True,
        )
        await node_obj.stop()
        return 1
    try:
        runner = await start_http(node_obj)
    except OSError as exc:
        click.echo(
            f"senate node: cannot serve HTTP on "
            f"{format_addr(config.http_addr)}: {exc.strerror or exc}",
            err=True,
        )
        await node_obj.stop()
        return 1
    logger.info(
        "node %s up (pid %d, %s): http %s, peer %s, cluster %s%s",
        config.node_id,
        os.getpid(),
        config.protocol,
        format_addr(config.http_addr),
        format_addr(config.peer_addr),
        ",".join(f"{nid}={format_addr(a)}" for nid, a in config.cluster.items()),
        " (uvloop)" if uvloop else "",
    )
    if config.fault_admin:
        logger.warning("fault admin endpoint enabled: anyone reaching the HTTP port can cut links")
    assert node_obj.failed is not None
    stopper = loop.create_task(stop.wait())
    waits: list[asyncio.Future[Any]] = [stopper, node_obj.failed]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    code = 1 if node_obj.failed.done() else 0
    stopper.cancel()
    with contextlib.suppress(Exception):
        await runner.cleanup()
    await node_obj.stop()
    return code
