"""ActiveActiveService: one replica of the active-active store, for a node to embed.

It ties the keyspace and commands (served over RESP) to the durable log and to the
replication state machine, and talks to peers only through the injected `send` and
`on_message` (the node's peer transport carries kind "crdt", see messages.py).

    register_crdt_messages(codec)        # kind "crdt" on the node's wire codec
    svc = ActiveActiveService("n1", data_dir / "activeactive", ["n2", "n3"],
                              send=lambda m: transport.send(m, kind="crdt"),
                              rng=random.Random(), clock_ms=lambda: int(time.time() * 1000))
    await svc.start()                    # recover: snapshot + WAL replay (a dir of its own)
    await svc.serve_resp("127.0.0.1", 6379)
    ... transport delivers a CrdtMessage: svc.on_message(msg)
    await svc.close()                    # flush, final snapshot; the transport is the node's

Rules kept in this file:
- every applied op is appended to the WAL in application order, before anything else
  can observe it: a RESP reply waits until the log is durable past it, and local ops
  leave for peers only once durable (so a crash never reuses a dot a peer has seen);
- a whole state is sent only once everything in it is durable here (same reason);
- timers (anti-entropy, expiry sweep, snapshots) draw their jitter from the injected
  rng and read time only through `clock_ms` and the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

from senate.activeactive import containers as _containers  # noqa: F401  (registers commands)
from senate.activeactive.cell import MAX_ID
from senate.activeactive.clock import PackedHLC
from senate.activeactive.commands import Commands
from senate.activeactive.durability import OP_RECORD, STATE_RECORD, DurableLog
from senate.activeactive.info import render_info
from senate.activeactive.keyspace import Keyspace, Op, decode_op, encode_op
from senate.activeactive.messages import OPS, STATE, SYNC, CrdtMessage
from senate.activeactive.replication import Replicator
from senate.consensus.types import Message
from senate.errors import DecodeError, StorageError
from senate.resp.server import RespServer, Session
from senate.storage.fileutil import write_atomic

logger = logging.getLogger("senate.activeactive")

SYNC_INTERVAL = 0.2  # seconds between anti-entropy rounds
SWEEP_INTERVAL = 0.1  # seconds between expiry sweeps
SNAPSHOT_EVERY = 200_000  # WAL records between keyspace snapshots, at most (else by bytes)
SWEEP_LIMIT = 1000  # expired keys deleted per sweep
ORIGIN_FILE = "ORIGIN"  # the origin id this replica's ops carry (replication.py)


class ActiveActiveService:
    """One active-active replica: keyspace, RESP commands, WAL, replication."""

    def __init__(
        self,
        node_id: str,
        data_dir: Path | str,
        peers: Iterable[str],
        *,
        send: Callable[[Message], None],
        rng: random.Random,
        clock_ms: Callable[[], int],
        admin: Callable[[bytes], bytes] | None = None,
        link_info: Callable[[str], str] | None = None,
        sync_interval: float = SYNC_INTERVAL,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.node_id = node_id
        self.data_dir = Path(data_dir)
        self._peers = [p for p in peers if p != node_id]
        self._send = send
        self._rng = rng
        self.clock_ms = clock_ms
        self.sync_interval = sync_interval
        self.snapshot_every = snapshot_every
        self.space = Keyspace(node_id)
        self.hlc = PackedHLC(clock_ms)
        self.commands = Commands(self.space, self.hlc, clock_ms, self._on_local_op)
        self.commands.info = self._info
        self.commands.admin = admin
        self.link_info = link_info  # the transport's view of a peer, for INFO (optional)
        self.log = DurableLog(self.data_dir, self._on_durable, lambda: dict(self.space.vv))
        self.replicator = Replicator(node_id, self._peers, self.space)
        self._unshipped: list[tuple[int, bytes]] = []  # local ops awaiting durability
        self._servers: list[RespServer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self.started_ms = clock_ms()
        self.origin_changes = 0  # new origins taken since start (a fresh dir's counts)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Recover from the data dir (snapshot, then WAL replay) and start the timers."""
        state, records = self.log.recover()
        if state is not None:
            vv, keys = Keyspace.decode_state(state)
            self.space.load(vv, keys)
        for record in records:
            kind, payload = record[:1], record[1:]
            if kind == STATE_RECORD:
                vv, keys = Keyspace.decode_state(payload)
                self.space.join_state(vv, keys)
                continue
            op = decode_op(payload)
            if self.space.is_applied(op):
                continue
            if not self.space.deliverable(op):
                raise StorageError(f"{self.data_dir}: WAL op {op.origin}:{op.seq} out of order")
            self.space.apply(op)
        for key in list(self.space.keys):
            self.commands.track_expiry(key)
        self._recover_origin(fresh=state is None and not records)
        self.replicator = Replicator(self.node_id, self._peers, self.space)
        logger.info(
            "node %s: active-active keyspace recovered: %d keys, vv %s, %d WAL records, origin %s",
            self.node_id,
            len(self.space.keys),
            self.space.vv,
            len(records),
            self.space.node,
        )
        self.log.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._every(self.sync_interval, self._anti_entropy)),
            loop.create_task(self._every(SWEEP_INTERVAL, self._sweep)),
        ]
        self._started = True

    async def serve_resp(self, host: str, port: int) -> tuple[str, int]:
        """Serve RESP2 on host:port (0 = any free port); returns the bound address."""
        server = RespServer(self)
        self._servers.append(server)
        return await server.start(host, port)

    async def close(self) -> None:
        for server in self._servers:
            await server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._started and self.log.broken is None:
            self.log.snapshot(self.space.encode_state())
        await self.log.close()

    # -- the origin: whose dots this replica's ops carry (see replication.py) -------------
    def _recover_origin(self, fresh: bool) -> None:
        """A data dir with no state at all takes a new origin (it cannot know how far its
        old one went: it may have been wiped); one with state keeps the origin it recorded
        (a dir from before origins were recorded used the node id)."""
        path = self.data_dir / ORIGIN_FILE
        if fresh:
            self._new_origin("the data dir holds no state", logging.INFO)
            return
        try:
            origin = path.read_text(encoding="utf-8").strip() if path.exists() else self.node_id
        except (OSError, UnicodeError) as exc:
            raise StorageError(f"{path}: unreadable: {exc}") from None
        if not origin or len(origin) > MAX_ID:
            raise StorageError(f"{path}: not an origin id")
        self.space.node = origin
        if not path.exists():
            write_atomic(path, origin.encode())

    def _new_origin(self, why: str, level: int) -> None:
        """Issue this replica's next ops under an origin never used before, recorded
        durably before any op carries it."""
        old = self.space.node
        # From the OS, not the injected rng: a seeded rng would pick the same id again
        # after a wipe, which is the very collision this avoids.
        origin = f"{self.node_id[: MAX_ID - 9]}~{secrets.token_hex(4)}"
        write_atomic(self.data_dir / ORIGIN_FILE, origin.encode())
        self.space.node = origin
        self.origin_changes += 1
        logger.log(
            level, "node %s: ops carry origin %s (was %s): %s", self.node_id, origin, old, why
        )

    def _check_origin(self) -> None:
        """After a peer message: did a peer show ops of our origin that we never made?"""
        seen = self.replicator.origin_ahead
        if seen is None:
            return
        self.replicator.origin_ahead = None
        mine = self.space.vv.get(self.space.node, 0)
        self._new_origin(
            f"a peer has seen op {seen} of our origin, we have only {mine} (was the data "
            "dir restored from an older copy?); ops made here since the restart may be lost",
            logging.ERROR,
        )

    # -- the RESP handler interface ------------------------------------------------------------
    def execute(self, args: list[bytes], session: Session) -> bytes:
        return self.commands.execute(args, session)

    def barrier(self) -> int:
        return self.log.barrier()

    def durable(self) -> int:
        return self.log.durable()

    def when_durable(self, position: int) -> asyncio.Future[None]:
        return self.log.when_durable(position)

    # -- ops ---------------------------------------------------------------------------------
    def _on_local_op(self, op: Op) -> None:
        blob = encode_op(op)
        position = self.log.append(OP_RECORD, blob)
        self.replicator.logged(op.origin, op.seq, blob)
        self._unshipped.append((position, blob))

    def _on_durable(self, position: int, vv: dict[str, int]) -> None:
        self.replicator.durable_vv = vv
        ready = [blob for pos, blob in self._unshipped if pos <= position]
        if ready:
            self._unshipped = [(p, b) for p, b in self._unshipped if p > position]
            for msg in self.replicator.ship(ready):
                self._send(msg)

    def _persist_applied(self, applied: list[tuple[Op, bytes]]) -> None:
        for op, blob in applied:
            self.log.append(OP_RECORD, blob)
            self.hlc.receive(op.ts)
            for key, _delta in op.keys:
                self.commands.track_expiry(key)

    # -- peer messages -------------------------------------------------------------------------
    def on_message(self, msg: Message) -> None:
        """Handle a replication message from the peer transport (kind "crdt")."""
        if not isinstance(msg, CrdtMessage) or self.log.broken is not None or not self._started:
            return
        if msg.type == OPS and isinstance(msg.body, list):
            self._persist_applied(self.replicator.receive_ops(msg.body))
        elif msg.type == SYNC and isinstance(msg.body, dict):
            now = asyncio.get_running_loop().time()
            for reply in self.replicator.receive_sync(msg.src, msg.body, now):
                self._send(reply)
            self._send_wanted_states()
        elif msg.type == STATE and isinstance(msg.body, bytes):
            self._merge_state(msg.src, msg.body)
        self._check_origin()

    def _merge_state(self, src: str, blob: bytes) -> None:
        try:
            vv, keys = Keyspace.decode_state(blob)
        except DecodeError as exc:
            logger.warning("node %s: malformed state from %s: %s", self.node_id, src, exc)
            return
        if all(self.space.vv.get(o, 0) >= n for o, n in vv.items()):
            return  # nothing new in it
        self.replicator.saw_origin(vv.get(self.space.node, 0))
        self.space.join_state(vv, keys)
        self.log.append(STATE_RECORD, blob)
        applied: list[tuple[Op, bytes]] = []
        self.replicator.joined_state(applied)
        self._persist_applied(applied)
        for key in keys:
            self.commands.track_expiry(key)
        logger.info("node %s: merged the whole state of %s (vv now %s)", self.node_id, src, vv)

    def _send_wanted_states(self) -> None:
        wanted = self.replicator.state_wanted
        if not wanted:
            return
        peers = sorted(wanted)
        wanted.clear()
        blob = self.space.encode_state()

        def send() -> None:
            for peer in peers:
                self.replicator.peers[peer].states += 1
                self._send(CrdtMessage(self.node_id, peer, STATE, blob))

        if self.log.durable() >= self.log.barrier():
            send()
            return

        def when_done(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None:
                send()

        self.log.when_durable(self.log.barrier()).add_done_callback(when_done)

    # -- timers --------------------------------------------------------------------------------
    async def _every(self, interval: float, step: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval * (0.75 + 0.5 * self._rng.random()))
            try:
                step()
            except Exception:
                logger.exception("node %s: timer step failed", self.node_id)

    def _anti_entropy(self) -> None:
        if self.log.broken is not None:
            return
        for msg in self.replicator.sync_messages():
            self._send(msg)
        if self.log.snapshot_due(self.snapshot_every):
            self.log.snapshot(self.space.encode_state())

    def _sweep(self) -> None:
        """Delete expired keys, and what dead keys keep (expiry entries), by DEL ops."""
        if self.log.broken is not None:
            return
        now = self.clock_ms()
        doomed = []
        for key in list(self.commands.expiring)[: SWEEP_LIMIT * 4]:
            ks = self.space.keys.get(key)
            if ks is None:
                self.commands.expiring.discard(key)
                continue
            at = ks.expire_at()
            if (at is not None and at <= now) or ks.type_of() is None:
                doomed.append(key)
                if len(doomed) >= SWEEP_LIMIT:
                    break
        for key in doomed:
            self.commands.execute([b"DEL", key])

    # -- INFO ----------------------------------------------------------------------------------
    def connected_clients(self) -> int:
        return sum(len(server.connections) for server in self._servers)

    def _info(self, section: bytes) -> bytes:
        return render_info(self, section)
