"""The Ready/Advance loop of the real node: one engine, one durable store, one KVStore.

Rules this file keeps (consensus/engine.py, in this order, for every Ready):
  send send_now -> persist snapshot, entries, hard state (fsync iff must_sync) ->
  send messages -> install snapshot -> apply committed -> serve read states ->
  advance -> maybe take a KV snapshot.
- Group commit: a Ready that must fsync is saved in a worker thread
  (run_in_executor) while the event loop goes on accepting proposals, messages and
  ticks. The engine hands out no new Ready before advance(), so everything that
  arrived during one fsync leaves together in the next save: one write, one fsync.
- Only this loop touches the store, always one call at a time (a single worker
  thread), so FileLogStore needs no locking. A Ready that only moves the commit
  index (no fsync needed) is written inline: it is one small write().
- A storage failure is fatal: the WAL refuses further use after a failed write or
  fsync, so `run` raises and the node stops; a restart recovers from disk.
- Writes complete when their entry is applied *here*, on whatever node the client
  talks to; waiters are keyed by the request's (client id, seq). A follower thus
  needs no reply from the leader: its own log tells it the outcome, and the state
  machine is deterministic, so the result is the leader's. To answer sooner, the
  node that applies a write another node forwarded (`origins`: (client id, seq)
  -> that node) hands the result to `on_remote` after applying it (forward.py):
  the entry is committed by then, so the origin may answer with it.
- A read waiter registered under a ReadIndex `ctx` is released once a ReadState
  for it arrived and the applied index reached that state's index.
- Snapshots: every `snapshot_every` applied entries the KV state is saved durably
  (store.save_snapshot fsyncs file and directory), then handed to the engine
  (compact), then the store drops the WAL segments it covers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack

from senate.consensus.engine import Engine
from senate.consensus.types import Entry, EntryKind, Membership, Message, Ready, Snapshot
from senate.errors import ConsensusError
from senate.kv import KVStore, Result
from senate.storage import LogStore

logger = logging.getLogger("senate.node")

WriteKey = tuple[str, int]
WriteResult = tuple[str, int, Result]  # (client id, seq, result)


@dataclass(slots=True)
class DriverStats:
    readies: int = 0
    syncs: int = 0  # fsyncs of the WAL (each one a group commit)
    synced_entries: int = 0  # entries made durable by those fsyncs
    applied: int = 0
    snapshots: int = 0
    installed: int = 0  # snapshots received from a leader


@dataclass(slots=True)
class _Read:
    future: asyncio.Future[None]
    index: int = -1  # -1 until the ReadState arrived


@dataclass(slots=True)
class Driver:
    engine: Engine
    store: LogStore
    kv: KVStore
    send: Callable[[Message], None]
    snapshot_every: int
    applied_term: int = 0  # term of the entry at kv.applied_index (for snapshots)
    snap_index: int = 0  # index of the newest durable KV snapshot
    stats: DriverStats = field(default_factory=DriverStats)
    on_progress: Callable[[], None] | None = None  # after each Ready (status changes)
    on_apply: Callable[[Result], None] | None = None  # every applied command's result
    on_install: Callable[[], None] | None = None  # after a leader's snapshot replaced the KV
    on_conf_change: Callable[[Entry], None] | None = None  # every applied CONF_CHANGE entry
    # Results of forwarded writes, per origin node, once per Ready (forward.py).
    on_remote: Callable[[str, list[WriteResult]], None] | None = None
    origins: dict[WriteKey, str] = field(default_factory=dict)  # forwarded here, not applied
    _kick: asyncio.Event = field(default_factory=asyncio.Event)
    _pool: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="senate-wal"
        )
    )
    _writes: dict[WriteKey, list[asyncio.Future[Result]]] = field(default_factory=dict)
    _reads: dict[bytes, _Read] = field(default_factory=dict)
    _ready_reads: list[_Read] = field(default_factory=list)

    # ---- inputs ----------------------------------------------------------------

    def kick(self) -> None:
        """Something was fed to the engine: look for a Ready."""
        self._kick.set()

    def wait_write(self, key: WriteKey) -> asyncio.Future[Result]:
        """A future resolved with the Result once the request `key` is applied here."""
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._writes.setdefault(key, []).append(fut)
        return fut

    def forget_write(self, key: WriteKey, fut: asyncio.Future[Result]) -> None:
        waiting = self._writes.get(key)
        if waiting is not None and fut in waiting:
            waiting.remove(fut)
            if not waiting:
                del self._writes[key]

    def swap_write(
        self, key: WriteKey, old: asyncio.Future[Result], new: asyncio.Future[Result]
    ) -> None:
        """Let `new` take the place of the pending `old` (same list slot, no gap)."""
        waiting = self._writes.get(key)
        if waiting is not None:
            for i, fut in enumerate(waiting):
                if fut is old:
                    waiting[i] = new
                    return
        waiting = self._writes.setdefault(key, [])
        waiting.append(new)

    def wait_read(self, ctx: bytes, fut: asyncio.Future[None]) -> None:
        """Resolve `fut` once the ReadState for `ctx` is servable (applied >= index)."""
        self._reads[ctx] = _Read(fut)

    def forget_read(self, ctx: bytes) -> None:
        self._reads.pop(ctx, None)

    def complete_write(self, key: WriteKey, result: Result) -> None:
        """The leader applied request `key` (it is committed): answer its waiters now."""
        waiting = self._writes.pop(key, None)
        if waiting:
            for fut in waiting:
                if not fut.done():
                    fut.set_result(result)

    # ---- the loop --------------------------------------------------------------

    async def run(self) -> None:
        """Drive the engine until cancelled. Raises on a storage failure (fatal)."""
        try:
            while True:
                await self._kick.wait()
                self._kick.clear()
                while self.engine.has_ready():
                    await self._handle(self.engine.ready())
                    if self.on_progress is not None:
                        self.on_progress()
        finally:
            self._pool.shutdown(wait=True)  # let an fsync in flight finish

    async def _handle(self, rd: Ready) -> None:
        self.stats.readies += 1
        for msg in rd.send_now:
            self.send(msg)
        if rd.snapshot is not None or rd.entries or rd.hard_state is not None:
            if rd.must_sync or rd.snapshot is not None:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(
                    self._pool, self.store.save, rd.hard_state, rd.entries, rd.snapshot, True
                )
                self.stats.syncs += 1
                self.stats.synced_entries += len(rd.entries)
            else:
                self.store.save(rd.hard_state, rd.entries, None, False)
        for msg in rd.messages:
            self.send(msg)
        if rd.snapshot is not None and rd.snapshot.index > self.kv.applied_index:
            self._install(rd.snapshot)
        if rd.committed:
            self._apply(rd)
        for rs in rd.read_states:
            read = self._reads.pop(rs.ctx, None)
            if read is not None:
                read.index = rs.index
                self._ready_reads.append(read)
        if self._ready_reads:
            self._serve_reads()
        self.engine.advance(rd)
        if self.kv.applied_index - self.snap_index >= self.snapshot_every:
            await self._take_snapshot()

    def _install(self, snap: Snapshot) -> None:
        # In place: the store keeps its limits and its watch hub (kv/store.py).
        self.kv.install(snap.data)
        self.applied_term = snap.term
        self.snap_index = snap.index
        self.stats.installed += 1
        logger.info("installed a snapshot from the leader at index %d", snap.index)
        if self.on_install is not None:
            self.on_install()
        # Writes whose entries the snapshot covers are never applied one by one
        # here; their outcome is in the snapshot's session table.
        for key in list(self._writes):
            session = self.kv.sessions.get(key[0])
            if session is not None and session.last_seq == key[1]:
                for fut in self._writes.pop(key):
                    if not fut.done():
                        fut.set_result(session.result)

    def _apply(self, rd: Ready) -> None:
        kv = self.kv
        writes = self._writes
        origins = self.origins
        remote: dict[str, list[WriteResult]] = {}
        for e in rd.committed:
            if e.index <= kv.applied_index:
                continue  # covered by a snapshot installed earlier
            if e.kind is EntryKind.NORMAL:
                result = kv.apply(e.index, e.data)
                if self.on_apply is not None:
                    self.on_apply(result)
                key = _write_key(e.data) if writes or origins else None
                if key is not None:
                    waiting = writes.pop(key, None)
                    if waiting:
                        for fut in waiting:
                            if not fut.done():
                                fut.set_result(result)
                    origin = origins.pop(key, None)
                    if origin is not None:
                        remote.setdefault(origin, []).append((key[0], key[1], result))
            else:
                kv.skip(e.index)
                if e.kind is EntryKind.CONF_CHANGE and self.on_conf_change is not None:
                    self.on_conf_change(e)
            self.applied_term = e.term
            self.stats.applied += 1
        if remote and self.on_remote is not None:
            for origin, results in remote.items():
                self.on_remote(origin, results)

    def _serve_reads(self) -> None:
        applied = self.kv.applied_index
        still: list[_Read] = []
        for read in self._ready_reads:
            if read.index <= applied:
                if not read.future.done():
                    read.future.set_result(None)
            else:
                still.append(read)
        self._ready_reads = still

    async def _take_snapshot(self) -> None:
        index = self.kv.applied_index
        try:
            meta = self._snapshot_meta(index)
        except ConsensusError:
            # The engine took a newer snapshot from the leader while the Ready that
            # applied `index` was being synced: `index` is no longer in its log, and
            # the next Ready installs that snapshot anyway (sim/node.py does the same).
            return
        data = self.kv.snapshot()
        snap = Snapshot(index, *meta, data)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self.store.save_snapshot, snap)
        self.engine.compact(index, data)
        await loop.run_in_executor(self._pool, self.store.compact, index)
        self.snap_index = index
        self.stats.snapshots += 1
        logger.info("snapshot at index %d (%d bytes); log compacted", index, len(data))

    def _snapshot_meta(self, index: int) -> tuple[int, Membership]:
        # The engine's own (term, membership) at `index`, so the stored snapshot is
        # the one the engine keeps: status().membership may hold later changes that
        # are not even committed yet, and a truncated one would live on in the file.
        return self.engine.snapshot_meta(index)


def _write_key(data: bytes) -> WriteKey | None:
    """(client id, seq) of an encoded KV request, or None for garbage (never raises)."""
    try:
        obj = msgpack.unpackb(data, raw=False)
    except Exception:
        return None
    if isinstance(obj, list) and len(obj) == 3 and isinstance(obj[0], str):
        seq = obj[1]
        if type(seq) is int:
            return obj[0], seq
    return None
