"""Standalone active-active replica: `python -m senate.activeactive`.

    python -m senate.activeactive --id n1 --data-dir D --resp 127.0.0.1:6101 \\
        --peer 127.0.0.1:7101 --cluster n1=127.0.0.1:7101,n2=127.0.0.1:7102 [--admin]

It runs its own peer Transport (kind "crdt") with a FaultRules object; with `--admin`
the RESP command `SENATE.FAULT <json>` replaces the fault rules (faults.py's format),
so tests can partition replicas. Without `--admin` that command is unknown. Prints
`READY resp=<host:port> peer=<host:port>` on stdout once serving; logs to stderr.
Exits 2 with a one-line reason on bad flags, 1 on an unusable data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import time
from pathlib import Path

from senate.activeactive.messages import KIND, register_crdt_messages
from senate.activeactive.service import ActiveActiveService
from senate.errors import MalformedInput, SenateError, UsageError
from senate.resp import reply as enc
from senate.runtime.config import format_addr, parse_addr, parse_cluster
from senate.runtime.faults import FaultRules
from senate.runtime.transport import Transport, install_uvloop
from senate.wire.codec import Codec


def _clock_ms() -> int:
    return int(time.time() * 1000)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m senate.activeactive", description=__doc__)
    p.add_argument("--id", required=True)
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--resp", required=True, help="host:port for RESP clients (port 0: any)")
    p.add_argument("--peer", required=True, help="host:port this replica listens on for peers")
    p.add_argument("--cluster", required=True, help="id=host:port,... every replica, this one too")
    p.add_argument("--admin", action="store_true", help="enable SENATE.FAULT (tests only)")
    p.add_argument("--sync-interval", type=float, default=0.2)
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=200_000,
        help="WAL records per snapshot, at most (one is also taken once the WAL grew by "
        "the last snapshot's size, 8 MiB at least)",
    )
    p.add_argument("--log-level", default="WARNING")
    return p


async def _run(args: argparse.Namespace) -> None:
    cluster = parse_cluster(args.cluster)
    if args.id not in cluster:
        raise UsageError(f"--cluster does not list this replica ({args.id})")
    peer_addr = parse_addr(args.peer, "--peer")
    resp_addr = parse_addr(args.resp, "--resp")
    peers = {n: a for n, a in cluster.items() if n != args.id}
    faults = FaultRules(random.Random(0))
    codec = Codec()
    register_crdt_messages(codec)

    def admin(raw: bytes) -> bytes:
        try:
            faults.configure(json.loads(raw))
        except (ValueError, MalformedInput) as exc:
            return enc.error(f"ERR bad fault spec: {exc}")
        return enc.OK

    transport: Transport | None = None

    def send(msg: object) -> None:
        if transport is not None:
            transport.send(msg)  # type: ignore[arg-type]

    def link_info(peer: str) -> str:
        if transport is None:
            return ""
        c = transport.peer_counters(peer)
        return (
            f"link_queued={transport.queue_length(peer)},link_sent={c.sent},"
            f"link_dropped={c.dropped},link_lost={c.lost},link_reconnects={c.reconnects},"
            f"link_connect_failures={c.connect_failures},link_received={c.received}"
        )

    service = ActiveActiveService(
        args.id,
        args.data_dir,
        peers,
        send=send,
        rng=random.Random(),
        clock_ms=_clock_ms,
        admin=admin if args.admin else None,
        link_info=link_info,
        sync_interval=args.sync_interval,
        snapshot_every=args.snapshot_every,
    )
    transport = Transport(
        args.id, peer_addr, peers, service.on_message, kind=KIND, codec=codec, faults=faults
    )
    await service.start()
    await transport.start()
    bound = await service.serve_resp(*resp_addr)
    assert transport.address is not None
    print(f"READY resp={format_addr(bound)} peer={format_addr(transport.address)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await service.close()
    await transport.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format=f"%(asctime)s {args.id} %(name)s %(message)s"
    )
    install_uvloop()
    try:
        asyncio.run(_run(args))
    except SenateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
