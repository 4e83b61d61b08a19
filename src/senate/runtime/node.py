"""One real Senate node: a consensus engine (Raft, Multi-Paxos or ZAB, `--protocol`)
driven by asyncio, a durable WAL, the KV store.

Theory of operation:
- Start: the data dir is checked against the protocol (engines.py: it records the
  one it was made with); FileLogStore(data_dir).load() gives the DurableState
  (hard state, newest snapshot, the log after it); the KVStore is restored from
  that snapshot and the engine is built (engines.py) from the same state. The
  engine then re-delivers the committed entries after the snapshot, so the KV
  store catches up by itself.
- A ticker calls engine.tick() every `tick_ms` of the monotonic clock (once per
  wake-up: after a stall it does not fire a burst of ticks, which would only
  cause needless elections). The election timeout is `election_ticks` ticks.
- The peer Transport carries the engine's messages (kind "raft", "paxos" or "zab")
  and write forwards (kind "fwd", forward.py) on the same connections. Every input (message, tick,
  proposal, read) kicks the Driver (driver.py), which runs the Ready loop.
- Writes: the node that receives a write proposes it if it leads, or forwards it
  to the leader it knows (the writes of one loop iteration in one Forward); it
  answers once the entry is applied in its own log or, on a follower, once the
  leader says it applied it (ForwardResult: the entry is committed by then). A
  follower forwards again every RETRY_INTERVAL and at once when the leader
  changes (_on_progress wakes every waiting request); a leader proposes again
  only after leadership changed (its own log still holds the entry otherwise).
  The request's (client id, seq) makes a second copy in the log harmless: it
  applies once. Unknown after the write
  timeout -> OutcomeUnknown (504); never handed to any leader -> Unavailable (503).
- Membership (membership.py): the engine's configuration comes from the log; the
  members' addresses from --cluster and from each applied ADD_LEARNER's context,
  kept durably in DATA_DIR/members.json. Every applied change re-points the
  transport; the leader promotes caught-up learners from the tick loop.
- Linearizable reads use the engine's read index on every node (Raft's ReadIndex;
  Multi-Paxos and ZAB offer the same): a follower's engine asks the leader for
  the read index, and the node serves the read from its
  own KV store once its applied index reaches it. So reads are not proxied; only
  the index is fetched from the leader. Serializable reads are local and immediate.

Durability (acknowledged means durable):
- A write is acknowledged only after its entry is committed, i.e. appended and
  fsynced (fdatasync of the WAL segment) on a quorum of nodes — the leader counts
  itself only after its own fsync — and applied to the leader's or the
  acknowledging node's KV store. Entries proposed while an fsync runs share the
  next write and fsync.
- Vote and term changes are fsynced before any vote reply or message of the new
  term leaves; a follower fsyncs appended entries before acknowledging them.
- A snapshot installed from the leader is fsynced (file, then directory) before it
  is acknowledged; local KV snapshots are fsynced before the log they cover is
  compacted. Commit-index-only updates are written without fsync (Raft recomputes
  the commit index after a crash).

Events that matter are logged to stderr, one line each: recovery, leadership,
peer connections (transport), snapshots, fatal storage errors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from senate.consensus.types import Membership, Message, Role
from senate.errors import MalformedInput, NotLeader, ProposalDropped, SenateError
from senate.kv import (
    Command,
    Delete,
    KeyValue,
    KVStore,
    LeaseGrant,
    LeaseRevoke,
    Put,
    Request,
    Result,
    Txn,
    TxnResult,
    encode_request,
    new_lease_id,
)
from senate.runtime.config import NodeConfig, format_addr
from senate.runtime.driver import Driver
from senate.runtime.engines import EngineSettings, claim_protocol, engine_kind, register_engines
from senate.runtime.faults import FaultRules
from senate.runtime.forward import (
    FORWARD,
    FORWARD_RESULT,
    MAX_BATCH,
    Forward,
    ForwardResult,
    register_forward,
)
from senate.runtime.lanes import LanePool
from senate.runtime.leases import (
    LeaseAsk,
    LeaseClock,
    LeaseReply,
    LeaseTime,
    register_lease_messages,
)
from senate.runtime.membership import MemberBook, Members
from senate.runtime.peerinfo import INFO_KIND, INFO_TICKS, PeerInfo, register_peer_info
from senate.runtime.resp_service import CrdtMessage, RespService
from senate.runtime.transport import Transport, TransportConfig
from senate.storage import FileLogStore
from senate.wire.codec import Codec

logger = logging.getLogger("senate.node")

RETRY_INTERVAL = 1.0  # seconds between re-sends of an unfinished write or read
NO_LEADER_WAIT = 3.0  # how long a request waits for some leader before a 503
MAX_ORIGINS = 100_000  # forwarded writes whose results the leader still owes


class Unavailable(SenateError):
    """No leader or no quorum: the request was not carried out (HTTP 503)."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Wake(Exception):
    """Set on a waiting request's future on a leader change or re-send timer: hand over now."""


@dataclass(slots=True, eq=False)
class _WriteWait:
    key: tuple[str, int]  # (client id, seq)
    fut: asyncio.Future[Result]  # the one the driver resolves (swapped on each wake)
    woken: bool = False


class OutcomeUnknown(SenateError):
    """A write was handed to the cluster but not seen applied in time (HTTP 504)."""


@dataclass(slots=True, frozen=True)
class ClientRef:
    """A client-chosen session for a write (X-Senate-Client / X-Senate-Seq)."""

    client_id: str
    seq: int


class Node:
    """A node: engine + driver + transport + KV store. The API layer calls its methods."""

    def __init__(self, config: NodeConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.id = config.node_id
        self._rng = rng or random.Random(int.from_bytes(os.urandom(8), "big"))
        # The data dir is checked against (and then bound to) the protocol before
        # any of its log is read: another engine would misread its hard state.
        claim_protocol(config.data_dir, config.protocol)  # UsageError if it differs
        self.engine_kind = engine_kind(config.protocol)
        self.store = FileLogStore(config.data_dir)  # StorageError if unusable
        durable = self.store.load()
        snap = durable.snapshot
        kv = KVStore(max_value_bytes=config.max_value_bytes)
        if snap is not None:
            kv = KVStore.restore(snap.data, max_value_bytes=config.max_value_bytes)
        # Who the initial voters are and where members listen: from the data dir
        # once it has them (the log decides membership), else from the flags.
        self.book = MemberBook.open(
            config.data_dir,
            self.id,
            config.cluster,
            format_addr(config.http_addr),
            join=config.join,
        )
        membership = Membership(self.book.base)
        settings = EngineSettings(election_ticks=config.election_ticks)
        self.engine = self.engine_kind.build(self.id, membership, durable, self._rng, settings)
        hs = durable.hard_state
        logger.info(
            "node %s (%s) recovered from %s: term %d, commit %d, snapshot at %d, %d log entries",
            self.id,
            config.protocol,
            config.data_dir,
            hs.term,
            hs.commit,
            snap.index if snap else 0,
            len(durable.entries),
        )
        # Fault rules on the transport exist only when the admin endpoint is enabled.
        self.faults = (
            FaultRules(random.Random(self._rng.getrandbits(64))) if config.fault_admin else None
        )
        self.codec = Codec()
        # Every engine's messages decode (engines.py); only our engine's are stepped.
        self._engine_types = register_engines(self.codec)
        self._engine_msg = self.engine_kind.message_type
        self._foreign_warned: set[tuple[str, str]] = set()
        register_forward(self.codec)
        register_lease_messages(self.codec)
        register_peer_info(self.codec)
        # The active-active RESP store shares the peer transport (kind "crdt"). Every
        # node decodes its messages, so a node without --resp drops them politely
        # instead of closing the link the Raft traffic also uses.
        self.resp = RespService.create(
            config, self.codec, self.book.peers(), self._rng, self._send_crdt
        )
        self.peer_http: dict[str, str] = {}  # what each peer said its HTTP address is
        self.transport = Transport(
            self.id,
            config.peer_addr,
            self.book.peers(),
            self._on_message,
            kind=self.engine_kind.wire_kind,
            codec=self.codec,
            config=TransportConfig(cluster_id=config.cluster_id),
            rng=random.Random(self._rng.getrandbits(64)),
            faults=self.faults,
        )
        self.driver = Driver(
            engine=self.engine,
            store=self.store,
            kv=kv,
            send=self._send,
            snapshot_every=config.snapshot_every,
            applied_term=snap.term if snap else 0,
            snap_index=snap.index if snap else 0,
            on_progress=self._on_progress,
        )
        self.membership = Members(
            self.book,
            self.engine,
            self.transport,
            self.driver.kick,
            config.write_timeout,
            self.peer_http,
        )
        self.driver.on_conf_change = self.membership.on_conf_change
        self.lanes = LanePool(self.id)
        self._lease_rng = random.Random(int.from_bytes(os.urandom(8), "big"))  # lease ids
        loop_ms = _monotonic_ms
        self.leases = LeaseClock(
            self.id,
            self.engine,
            self.transport.send,
            self.driver.kick,
            self.lanes.borrow(),
            loop_ms,
        )
        self.leases.reset(iter(kv.leases))
        self.driver.on_apply = self.leases.observe
        self.driver.on_install = self._on_install
        self._read_nonce = secrets.token_bytes(8)
        self._read_seq = 0
        self._last_view: tuple[Role, int, str | None] = (Role.FOLLOWER, hs.term, None)
        # The requests waiting here; a leader change wakes them (_Wake) so they hand
        # over again at once.
        self._write_waits: set[_WriteWait] = set()
        self._read_waits: set[asyncio.Future[None]] = set()
        self._fwd_queue: dict[str, list[tuple[str, int, bytes]]] = {}  # leader -> writes
        self.driver.on_remote = self._send_results
        self._tasks: list[asyncio.Task[None]] = []
        self.failed: asyncio.Future[BaseException] | None = None

    # ---- life cycle ------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.failed = loop.create_future()
        await self.transport.start()
        await self.resp.start()
        self._tasks = [
            loop.create_task(self._guard(self.driver.run()), name=f"senate-driver-{self.id}"),
            loop.create_task(self._guard(self._tick_loop()), name=f"senate-ticker-{self.id}"),
        ]
        self.driver.kick()

    async def _guard(self, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a storage failure or a bug: the node must stop
            logger.error("node %s: fatal: %s: %s", self.id, type(exc).__name__, exc)
            if self.failed is not None and not self.failed.done():
                self.failed.set_result(exc)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.resp.close()
        await self.transport.close()
        self.store.close()
        logger.info("node %s stopped", self.id)

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.config.tick_ms / 1000.0
        next_at = loop.time() + period
        ticks = 0
        while True:
            if ticks % INFO_TICKS == 0:
                self._send_info()
            ticks += 1
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            now = loop.time()
            # The next tick is one period after the last due one, never in the past.
            next_at = max(next_at + period, now + period / 2)
            self.engine.tick()
            self.leases.tick()
            self.membership.tick()
            self.driver.kick()

    # ---- messages --------------------------------------------------------------

    def _send(self, msg: Message) -> None:
        self.transport.send(msg)

    def _send_crdt(self, msg: Message) -> None:
        self.transport.send(msg, RespService.KIND)

    def _send_info(self) -> None:
        http = format_addr(self.config.http_addr)
        for peer in self.transport.peers:
            self.transport.send(PeerInfo(self.id, peer, http), INFO_KIND)

    def _on_install(self) -> None:
        self.leases.reset(iter(self.kv.leases))
        self.membership.on_install()

    def _on_message(self, msg: Message) -> None:
        if isinstance(msg, self._engine_msg):
            self.engine.step(msg)
            self.driver.kick()
        elif type(msg) in self._engine_types:
            self._on_foreign(msg)
        elif isinstance(msg, Forward):
            self._on_forward(msg)
        elif isinstance(msg, ForwardResult):
            for client_id, seq, result in msg.results:
                self.driver.complete_write((client_id, seq), result)
        elif isinstance(msg, (LeaseAsk, LeaseReply)):
            self.leases.on_message(msg)
        elif isinstance(msg, CrdtMessage):
            self.resp.on_message(msg)
        elif isinstance(msg, PeerInfo):
            if self.peer_http.get(msg.src) != msg.http:
                logger.info("node %s: %s serves HTTP on %s", self.id, msg.src, msg.http)
            self.peer_http[msg.src] = msg.http

    def _on_foreign(self, msg: Message) -> None:
        """A peer speaks another engine's protocol: a misconfigured cluster. Say so once."""
        theirs = self._engine_types[type(msg)]
        if (msg.src, theirs) not in self._foreign_warned:
            self._foreign_warned.add((msg.src, theirs))
            logger.warning(
                "node %s runs %s but %s sends %s messages; ignoring them (start every "
                "member with the same --protocol)",
                self.id,
                self.config.protocol,
                msg.src,
                theirs,
            )

    def _on_forward(self, msg: Forward) -> None:
        # Not decoded here: KVStore.apply validates every entry and applies garbage as
        # a deterministic no-op, so decoding each request twice would buy nothing.
        # The (client id, seq) claimed beside the data only routes the result back:
        # the driver looks the origin up under the key read from the applied data.
        origins = self.driver.origins
        try:
            for client_id, seq, data in msg.items:
                self.engine.propose(data)
                origins[(client_id, seq)] = msg.src
        except (NotLeader, ProposalDropped):
            pass  # the follower re-sends to whoever leads next
        if len(origins) > MAX_ORIGINS:  # entries lost to leader changes never apply
            origins.clear()  # their followers still finish on their own apply
        self.driver.kick()

    def _send_results(self, origin: str, results: list[tuple[str, int, Result]]) -> None:
        for i in range(0, len(results), MAX_BATCH):
            self.transport.send(
                ForwardResult(self.id, origin, tuple(results[i : i + MAX_BATCH])), FORWARD_RESULT
            )

    def _forward(self, leader: str, req: Request, data: bytes) -> None:
        """Queue a forward; one Forward per leader leaves at the end of this loop turn."""
        queue = self._fwd_queue
        if not queue:
            asyncio.get_running_loop().call_soon(self._flush_forwards)
        queue.setdefault(leader, []).append((req.client_id, req.seq, data))

    def _flush_forwards(self) -> None:
        queue, self._fwd_queue = self._fwd_queue, {}
        for leader, items in queue.items():
            for i in range(0, len(items), MAX_BATCH):
                self.transport.send(
                    Forward(self.id, leader, tuple(items[i : i + MAX_BATCH])), FORWARD
                )

    def _on_progress(self) -> None:
        st = self.engine.status()
        view = (st.role, st.term, st.leader)
        if view == self._last_view:
            return
        old_role, _, old_leader = self._last_view
        self._last_view = view
        if st.role == Role.LEADER and old_role != Role.LEADER:
            logger.info("node %s became leader in term %d", self.id, st.term)
            self.leases.reset()  # the old leader's deadlines died with it
        elif st.leader != old_leader:
            if st.leader is None:
                logger.info("node %s: no leader (term %d, %s)", self.id, st.term, st.role.value)
            elif st.leader != self.id:
                logger.info("node %s: leader is %s (term %d)", self.id, st.leader, st.term)
        became_leader = st.role == Role.LEADER and old_role != Role.LEADER
        if st.leader != old_leader or became_leader:
            self.driver.origins.clear()  # the new leader answers what it applies
            for wait in list(self._write_waits):
                self._wake_write(wait)
            reads, self._read_waits = self._read_waits, set()
            for fut in reads:
                if not fut.done():
                    fut.set_exception(_Wake())

    # ---- the service the API uses ----------------------------------------------

    @property
    def kv(self) -> KVStore:
        return self.driver.kv

    async def put(
        self,
        key: str,
        value: bytes,
        *,
        prev_revision: int | None = None,
        prev_value: bytes | None = None,
        lease: int = 0,
        client: ClientRef | None = None,
    ) -> Result:
        return await self._write(Put(key, value, prev_revision, prev_value, lease), client)

    async def delete(
        self,
        key: str,
        *,
        prev_revision: int | None = None,
        prev_value: bytes | None = None,
        client: ClientRef | None = None,
    ) -> Result:
        return await self._write(Delete(key, prev_revision, prev_value), client)

    async def txn(self, txn: Txn, *, client: ClientRef | None = None) -> TxnResult:
        """Run an If/Then/Else transaction through the log (reads in it are linearizable)."""
        result = await self._write(txn, client)
        if not isinstance(result, TxnResult):
            # A duplicate (client, seq) can answer with another command's result.
            if result.error is None:
                raise MalformedInput("this client session's seq belongs to another command")
            return TxnResult(result.revision, False, error=result.error)
        return result

    async def lease_grant(self, ttl_ms: int, *, client: ClientRef | None = None) -> Result:
        """Create a lease with a fresh random id (a LeaseResult unless a session clash)."""
        return await self._write(LeaseGrant(new_lease_id(self._lease_rng), ttl_ms), client)

    async def lease_revoke(self, lease_id: int, *, client: ClientRef | None = None) -> Result:
        return await self._write(LeaseRevoke(lease_id), client)

    async def lease_time(self, lease_id: int, *, keepalive: bool) -> LeaseTime | None:
        """The leader's view of a lease's deadline (restarted first if `keepalive`)."""
        try:
            return await self.leases.ask(lease_id, keepalive)
        except NotLeader:
            raise Unavailable("no leader: the lease clock is the leader's") from None
        except TimeoutError:
            raise Unavailable("the leader did not answer about the lease in time") from None

    async def _write(self, op: Command, client: ClientRef | None) -> Result:
        if client is not None:
            req = Request(client.client_id, client.seq, op)
            data = encode_request(req, self.config.max_value_bytes)  # MalformedInput -> 400
            return await self._replicate(req, data)
        lane = self.lanes.borrow()
        try:
            req = Request(lane.client_id, lane.next(), op)
            data = encode_request(req, self.config.max_value_bytes)
            return await self._replicate(req, data)
        finally:
            self.lanes.give_back(lane)

    async def _replicate(self, req: Request, data: bytes) -> Result:
        """Propose (or forward) until applied; re-send on timeouts and new leaders."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.config.write_timeout
        key = (req.client_id, req.seq)
        wait = _WriteWait(key, self.driver.wait_write(key))
        handed_over = False  # once true, a timeout means "outcome unknown"
        last: tuple[int, str | None] | None = None  # (term, leader) of the last hand-over
        self._write_waits.add(wait)
        try:
            while True:
                sent_to = self._hand_over(req, data, last)
                if sent_to is not None:
                    handed_over, last = True, sent_to
                now = loop.time()
                if now >= deadline or (not handed_over and now - started >= NO_LEADER_WAIT):
                    break
                # One timer and the request's own future (cheaper than asyncio.wait). The
                # timer and a leader change wake it through _wake_write, which puts a
                # fresh future in the driver first, so no result can fall in between.
                timer = loop.call_at(min(now + RETRY_INTERVAL, deadline), self._wake_write, wait)
                try:
                    return await wait.fut
                except _Wake:
                    wait.woken = False
                finally:
                    timer.cancel()
        finally:
            self._write_waits.discard(wait)
            self.driver.forget_write(wait.key, wait.fut)
        if not handed_over:
            raise Unavailable("no leader: the write was not sent (retry)")
        raise OutcomeUnknown(
            f"the write was sent but not seen applied within {self.config.write_timeout:g} s; "
            "it may or may not apply"
        )

    def _wake_write(self, wait: _WriteWait) -> None:
        old = wait.fut
        if old.done() or wait.woken:
            return  # already answered, or woken and not yet back in the loop
        wait.woken = True
        wait.fut = asyncio.get_running_loop().create_future()
        self.driver.swap_write(wait.key, old, wait.fut)
        old.set_exception(_Wake())

    def _hand_over(
        self, req: Request, data: bytes, last: tuple[int, str | None] | None
    ) -> tuple[int, str | None] | None:
        """Propose `data` here or forward it to the leader; None if nobody leads.

        Returns the (term, leader) it went to. A leader that already holds the
        entry in its log in this term does not propose it again: it commits unless
        leadership changes. A forward may have been lost, so a follower sends it
        again on every call (each RETRY_INTERVAL, or when the leader changes).
        """
        st = self.engine.status()
        target = (st.term, st.leader)
        if st.role == Role.LEADER:
            if target == last:
                return target
            try:
                self.engine.propose(data)
            except (NotLeader, ProposalDropped):
                return None
            self.driver.kick()
            return target
        if st.leader is None or st.leader == self.id:
            return None
        self._forward(st.leader, req, data)
        return target

    async def read_barrier(self) -> None:
        """Return once this node's KV store reflects every write acknowledged so far.

        ReadIndex: the leader confirms it still leads (a heartbeat round) and names
        its commit index; we wait until our applied index reaches it.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.config.write_timeout
        fut: asyncio.Future[None] = loop.create_future()
        ctxs: list[bytes] = []
        try:
            while True:
                ctx = self._next_read_ctx()
                try:
                    self.engine.read_index(ctx)
                except NotLeader:
                    pass
                else:
                    ctxs.append(ctx)
                    self.driver.wait_read(ctx, fut)
                    self.driver.kick()
                now = loop.time()
                if now >= deadline or (not ctxs and now - started >= NO_LEADER_WAIT):
                    break
                self._read_waits.add(fut)
                try:
                    async with asyncio.timeout(min(RETRY_INTERVAL, deadline - now)):
                        await fut
                        return
                except (TimeoutError, _Wake):
                    pass
                self._read_waits.discard(fut)
                # Any earlier ctx may still be answered: all of them now point at the new
                # future (one already answered but not yet applied here is given up).
                fut = loop.create_future()
                for old in ctxs:
                    self.driver.wait_read(old, fut)
        finally:
            self._read_waits.discard(fut)
            for ctx in ctxs:
                self.driver.forget_read(ctx)
        if not ctxs:
            raise Unavailable("no leader: cannot serve a linearizable read (retry)")
        raise Unavailable("no quorum confirmed the leader in time: cannot serve the read")

    def _next_read_ctx(self) -> bytes:
        self._read_seq += 1
        return self._read_nonce + self._read_seq.to_bytes(8, "big")

    async def get(self, key: str, *, linearizable: bool = True) -> KeyValue | None:
        if linearizable:
            await self.read_barrier()
        return self.kv.get(key)

    async def range(self, prefix: str, *, linearizable: bool = True) -> tuple[int, list[KeyValue]]:
        if linearizable:
            await self.read_barrier()
        kv = self.kv
        return kv.revision, kv.range(prefix)

    def http_of(self, node_id: str | None) -> str | None:
        """The HTTP address of a member (this node's own, or what the peer told us)."""
        if node_id is None:
            return None
        if node_id == self.id:
            return format_addr(self.config.http_addr)
        return self.membership.http_of(node_id)

    def members(self) -> list[dict[str, Any]]:
        """Every member of the configuration in force (the log's, appended)."""
        return self.membership.listing()

    def status(self) -> dict[str, Any]:
        st = self.engine.status()
        return {
            "id": st.id,
            "role": st.role.value,
            "term": st.term,
            "leader": st.leader,
            "commit_index": st.commit_index,
            "applied_index": self.kv.applied_index,
            "members": self.members(),
            "protocol": st.protocol,
            "last_index": st.last_index,
            "revision": self.kv.revision,
            "http": format_addr(self.config.http_addr),
            "leader_http": self.http_of(st.leader),
            "snapshot_index": self.driver.snap_index,
            "stats": dataclasses.asdict(self.driver.stats),
        }


def _monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
