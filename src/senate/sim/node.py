"""One simulated node: drives an engine through the Ready/Advance contract over
the simulated network and disk, applies committed entries to a KVStore and
answers client requests.

Rules this file keeps (consensus/engine.py, in this order, for every Ready):
  send send_now -> write snapshot, entries, hard state -> fsync iff must_sync ->
  send messages -> install snapshot -> apply committed -> serve read states ->
  advance. With an fsync latency the second half waits for the simulated fsync;
  the engine keeps taking input meanwhile and the next ready() waits for advance.
- Outgoing messages of one batch are sent in order of destination (a stable
  sort): the engine may iterate a set of peers, whose order depends on the
  process's string hash seed, and the run must not.
- An engine whose has_ready() stays true while its Ready batches are empty would
  spin the driver forever: after a thousand in a row that is a "livelock" finding.
- Every callback that can outlive a crash carries the incarnation it belongs to
  and does nothing if the node has crashed since.
- A paused node neither ticks nor handles anything; what arrives meanwhile waits
  in its inbox and is handled in order when it resumes.
- The driver snapshots its state machine every `snapshot_every` applied entries,
  saves it durably, then hands it to the engine with `compact`. The snapshot's
  term and membership come from `engine.snapshot_meta(index)` when the engine
  has it (the membership in force at that index), else from the log and status().
  No snapshot is taken when the engine no longer holds that index (it took a
  newer snapshot from the leader while the Ready being finished was synced).
- A write completes when its encoded request is applied here (a retried request
  carries the same bytes, so the bytes are the key); a read completes when a
  ReadState for its context arrived and the applied index reached it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from senate.consensus.engine import Engine, EngineFactory
from senate.consensus.types import (
    ConfChange,
    Entry,
    EntryKind,
    Membership,
    Message,
    Ready,
    Snapshot,
)
from senate.errors import ConsensusError, NotLeader, ProposalDropped
from senate.kv import KeyValue, KVStore, Result
from senate.sim.disk import Disk
from senate.sim.invariants import Invariants
from senate.sim.network import Network
from senate.sim.scheduler import Handle, Scheduler


class NodeState(enum.Enum):
    UP = "up"
    PAUSED = "paused"
    DOWN = "down"


@dataclass(slots=True, frozen=True)
class Reply:
    """A node's answer to one client request."""

    kind: str  # "ok" (write applied), "value" (read served), "not_leader", "dropped"
    result: Result | None = None
    value: KeyValue | None = None
    leader: str | None = None


ReplyFn = Callable[[Reply], None]


@dataclass(slots=True)
class NodeConfig:
    tick_us: int = 10_000
    snapshot_every: int = 50  # applied entries between state machine snapshots
    fsync_latency_us: int = 0
    torn_prob: float = 0.0  # chance a crash leaves a torn prefix of unsynced writes
    drift: float = 1.0  # this node's clock rate (1.0 = true time)
    skew_us: int = 0  # offset of this node's clock: shifts the phase of its ticks


@dataclass(slots=True)
class NodeStats:
    readies: int = 0
    applied: int = 0
    snapshots: int = 0
    crashes: int = 0
    restarts: int = 0
    pauses: int = 0


@dataclass(slots=True)
class _ReadWait:
    key: str
    reply: ReplyFn
    index: int = -1  # -1 until the ReadState arrives


@dataclass(slots=True)
class Node:
    id: str
    membership: Membership
    factory: EngineFactory
    sched: Scheduler
    net: Network
    inv: Invariants
    config: NodeConfig
    engine_rng: Callable[[int], random.Random]  # incarnation -> the engine's stream
    crash_rng: random.Random  # torn writes and the order of work after a pause
    disk: Disk = field(default_factory=Disk)
    stats: NodeStats = field(default_factory=NodeStats)
    state: NodeState = NodeState.DOWN
    incarnation: int = 0
    engine: Engine | None = None
    kv: KVStore = field(default_factory=KVStore)
    crash_at_fsync: bool = False  # the nemesis armed a crash for the next fsync
    vote_crash_prob: float = 0.0  # chance to crash while a new term/vote is being synced
    on_self_crash: Callable[[Node], None] | None = None  # the nemesis restarts us later
    on_conf_applied: Callable[[str, Entry], None] | None = None  # a CONF_CHANGE applied here
    removed: bool = False  # left the cluster and stopped for good: never restarted
    _inbox: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    _tick: Handle | None = None
    _in_ready: bool = False
    _writes: dict[bytes, list[ReplyFn]] = field(default_factory=dict)
    _reads: dict[bytes, _ReadWait] = field(default_factory=dict)
    _served_reads: list[_ReadWait] = field(default_factory=list)
    _snap_index: int = 0

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        """(Re)start from what the disk holds durably."""
        self.incarnation += 1
        durable = self.disk.durable.durable_state()
        snap = durable.snapshot
        self.kv = KVStore.restore(snap.data) if snap is not None else KVStore()
        self._snap_index = snap.index if snap is not None else 0
        self.inv.on_restart(self.id, durable.hard_state.commit, self.kv.applied_index)
        self.engine = self.factory(
            self.id, self.membership, durable, self.engine_rng(self.incarnation)
        )
        self.state = NodeState.UP
        self._in_ready = False
        self.crash_at_fsync = False
        self._schedule_tick(first=True)
        self._pump()

    def crash(self) -> None:
        if self.state is NodeState.DOWN:
            return
        self.stats.crashes += 1
        self.state = NodeState.DOWN
        self.incarnation += 1
        self.engine = None
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self._inbox.clear()
        self._writes.clear()
        self._reads.clear()
        self._served_reads.clear()
        lost = self.disk.crash(self.crash_rng, self.config.torn_prob)
        self.sched.note(f"crash {self.id} lost={lost}")

    def stop(self) -> None:
        """The node left the cluster: it goes down and stays down."""
        self.removed = True
        self.crash()

    def restart(self) -> None:
        if self.state is NodeState.DOWN and not self.removed:
            self.stats.restarts += 1
            self.start()

    def pause(self) -> None:
        if self.state is NodeState.UP:
            self.stats.pauses += 1
            self.state = NodeState.PAUSED

    def resume(self) -> None:
        if self.state is not NodeState.PAUSED:
            return
        self.state = NodeState.UP
        # What piled up is handled in a random interleaving of its sources, each
        # source in order: after a stall a process finds many sockets readable at
        # once and serves them in no particular order, but a TCP stream stays FIFO.
        queues: dict[str, list[Callable[[], None]]] = {}
        for source, work in self._inbox:
            queues.setdefault(source, []).append(work)
        self._inbox = []
        pending = [q[::-1] for q in queues.values()]
        while pending and self.state is NodeState.UP:
            i = self.crash_rng.randrange(len(pending))
            pending[i].pop()()
            if not pending[i]:
                pending.pop(i)
        # Only a crash (armed for an fsync) stops this loop early; the rest is lost.

    # --- inputs -----------------------------------------------------------------

    def _schedule_tick(self, first: bool = False) -> None:
        cfg = self.config
        interval = max(1, round(cfg.tick_us / cfg.drift))
        delay = interval
        if first:
            # The skew shifts the phase of this node's ticks against the others'.
            delay = interval - (cfg.skew_us % interval)
        self._tick = self.sched.after(delay, f"tick {self.id}", self._on_tick)

    def _on_tick(self) -> None:
        self._schedule_tick()
        if self.state is NodeState.UP:
            assert self.engine is not None
            self.engine.tick()
            self._pump()

    def receive(self, msg: Message) -> None:
        if self.state is NodeState.DOWN:
            return
        if self.state is NodeState.PAUSED:
            self._inbox.append((msg.src, partial(self.receive, msg)))
            return
        assert self.engine is not None
        self.engine.step(msg)
        self._pump()

    def submit_write(self, data: bytes, reply: ReplyFn) -> None:
        """A client command (an encoded KV Request). Replies once it is applied here."""
        if self.state is NodeState.DOWN:
            return
        if self.state is NodeState.PAUSED:
            self._inbox.append(("client", partial(self.submit_write, data, reply)))
            return
        assert self.engine is not None
        try:
            self.engine.propose(data)
        except NotLeader as exc:
            reply(Reply("not_leader", leader=exc.leader))
            return
        except ProposalDropped:
            reply(Reply("dropped", leader=self.engine.status().leader))
            return
        self._writes.setdefault(data, []).append(reply)
        self._pump()

    def submit_read(self, ctx: bytes, key: str, reply: ReplyFn) -> None:
        """A linearizable read through ReadIndex; `ctx` must be unique per attempt."""
        if self.state is NodeState.DOWN:
            return
        if self.state is NodeState.PAUSED:
            self._inbox.append(("client", partial(self.submit_read, ctx, key, reply)))
            return
        assert self.engine is not None
        try:
            self.engine.read_index(ctx)
        except NotLeader as exc:
            reply(Reply("not_leader", leader=exc.leader))
            return
        self._reads[ctx] = _ReadWait(key, reply)
        self._pump()

    def propose_membership(self, change: ConfChange) -> None:
        """Ask this node's engine for a membership step (raises what the engine raises)."""
        if self.state is not NodeState.UP or self.engine is None:
            return
        self.engine.propose_membership(change)
        self._pump()

    def transfer_leadership(self, target: str) -> None:
        if self.state is not NodeState.UP or self.engine is None:
            return
        self.engine.transfer_leadership(target)
        self._pump()

    # --- the Ready/Advance loop -------------------------------------------------

    def _pump(self) -> None:
        engine = self.engine
        assert engine is not None
        self.inv.now = self.sched.now
        empty = 0
        while not self._in_ready and self.state is NodeState.UP and engine.has_ready():
            rd = engine.ready()
            self.stats.readies += 1
            if rd.is_empty():
                empty += 1
                if empty >= _MAX_EMPTY_READIES:
                    # The driver would spin forever: a finding, not a hang.
                    self.inv.fail(self.id, "livelock", "has_ready() stays true, ready() is empty")
            else:
                empty = 0
            crash = rd.must_sync and self.crash_at_fsync
            hs = rd.hard_state
            if self.vote_crash_prob and hs is not None and not crash:
                old = self.disk.live.hard_state
                if (hs.term, hs.vote) != (old.term, old.vote):
                    crash = self.crash_rng.random() < self.vote_crash_prob
            self._send(rd.send_now)
            self._write(rd)
            if crash:
                self.crash()  # power fails while this batch is in the page cache
                if self.on_self_crash is not None:
                    self.on_self_crash(self)
                return
            if rd.must_sync and self.config.fsync_latency_us > 0:
                self._in_ready = True
                self.sched.after(
                    self.config.fsync_latency_us,
                    f"fsync {self.id}",
                    partial(self._after_fsync, rd, self.incarnation),
                )
                break
            self._finish(rd)
        if self.state is NodeState.UP:
            self.inv.on_status(engine.status())

    def _after_fsync(self, rd: Ready, incarnation: int) -> None:
        if incarnation != self.incarnation:
            return  # crashed before the fsync completed: nothing of it happened
        if self.state is NodeState.PAUSED:
            self._inbox.append(("disk", partial(self._after_fsync, rd, incarnation)))
            return
        self.inv.now = self.sched.now
        self._in_ready = False
        self._finish(rd)
        self._pump()

    def _send(self, msgs: list[Message]) -> None:
        if not msgs:
            return
        send = self.net.send
        for msg in sorted(msgs, key=_dst) if len(msgs) > 1 else msgs:
            send(msg)

    def _write(self, rd: Ready) -> None:
        if rd.snapshot is None and not rd.entries and rd.hard_state is None:
            return
        disk = self.disk
        live = disk.live
        old_commit = live.hard_state.commit
        disk.write(rd.snapshot, rd.entries, rd.hard_state)
        if rd.entries:
            term_at = live.term_at
            self.inv.on_write(self.id, rd.entries, [term_at(e.index - 1) for e in rd.entries])
        hs = rd.hard_state
        if hs is not None and hs.commit > old_commit:
            lo = max(old_commit, self.inv.commit_index.get(self.id, 0)) + 1
            self.inv.on_commit(
                self.id, hs.commit, [live.entry(i) for i in range(lo, hs.commit + 1)]
            )
            if self.inv.on_leader_commit is not None and self.engine is not None:
                self.inv.leader_committed(self.engine.status())

    def _finish(self, rd: Ready) -> None:
        engine = self.engine
        assert engine is not None
        if rd.must_sync:
            self.disk.fsync()
        self._send(rd.messages)
        if rd.snapshot is not None and rd.snapshot.index > self.kv.applied_index:
            self.kv = KVStore.restore(rd.snapshot.data)
            self._snap_index = rd.snapshot.index
            self.inv.on_restore(self.id, self.kv.applied_index)
        if rd.committed:
            self._apply(rd)
        for rs in rd.read_states:
            wait = self._reads.pop(rs.ctx, None)
            if wait is not None:
                wait.index = rs.index
                self._served_reads.append(wait)
        if self._served_reads:
            self._serve_reads()
        engine.advance(rd)
        if self.kv.applied_index - self._snap_index >= self.config.snapshot_every:
            self._take_snapshot()

    def _apply(self, rd: Ready) -> None:
        kv = self.kv
        inv = self.inv
        writes = self._writes
        for e in rd.committed:
            if e.index <= kv.applied_index:
                continue  # covered by a snapshot installed earlier
            inv.on_apply(self.id, e)
            if e.kind is EntryKind.NORMAL:
                result = kv.apply(e.index, e.data)
                waiting = writes.pop(e.data, None) if writes else None
                if waiting:
                    for reply in waiting:
                        reply(Reply("ok", result=result))
            else:
                kv.skip(e.index)
                if e.kind is EntryKind.CONF_CHANGE and self.on_conf_applied is not None:
                    self.on_conf_applied(self.id, e)
            self.stats.applied += 1

    def _serve_reads(self) -> None:
        applied = self.kv.applied_index
        still: list[_ReadWait] = []
        for wait in self._served_reads:
            if wait.index <= applied:
                wait.reply(Reply("value", value=self.kv.get(wait.key)))
            else:
                still.append(wait)
        self._served_reads = still

    def _take_snapshot(self) -> None:
        engine = self.engine
        assert engine is not None
        index = self.kv.applied_index
        term = self.disk.live.term_at(index)
        if term is None:
            return  # the entry is not in the log (just installed from a snapshot)
        data = self.kv.snapshot()
        membership = engine.status().membership
        meta: Callable[[int], tuple[int, Membership]] | None = getattr(
            engine, "snapshot_meta", None
        )
        if meta is not None:
            # The engine's own (term, membership) at `index`: status().membership may
            # hold later, uncommitted changes that a truncation would undo, and the
            # stored snapshot must be the very one the engine keeps (runtime/driver.py).
            try:
                term, membership = meta(index)
            except ConsensusError:
                # The engine took a newer snapshot from the leader while the Ready
                # that applied `index` was being synced: `index` is no longer in its
                # log, and the next Ready installs that snapshot anyway.
                return
        snap = Snapshot(index, term, membership, data)
        self.disk.save_snapshot(snap)
        self._snap_index = index
        self.stats.snapshots += 1
        engine.compact(index, data)


_MAX_EMPTY_READIES = 1000  # in a row, in one pump: the engine's has_ready() is lying


def _dst(msg: Message) -> str:
    return msg.dst
