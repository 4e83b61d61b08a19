"""Durable keyspace: a WAL of applied ops with group commit, and keyspace snapshots.

Theory of operation: every op the replica applies (local or remote) and every whole
state it merges is appended, in application order, as one WAL record (senate.storage's
WAL: CRC per record, torn-tail recovery). A committer task takes everything appended
since its last round, writes it with one write() and one fdatasync in a worker thread,
then marks it durable: so concurrent clients share one fsync (group commit), and the
event loop keeps serving while the disk works. (When fsyncs take under INLINE_SYNC, as
on tmpfs, they run on the loop itself: the thread handoff would cost more.) Before a
round, the committer lingers up to half the last fsync's time while writers answered
by the previous round come back, so a slow disk serves them all with one fsync.
Replies wait on `when_durable` (the RESP server holds them): acknowledged means durable.

Snapshots: when one is due (`snapshot_due`: the WAL grew since the last snapshot by
as many bytes as that snapshot holds, at least SNAPSHOT_MIN_GROWTH, as Redis rewrites
its AOF at 100% growth over a 64 MB floor; or a record count cap), the service hands
`snapshot(state)` the encoded keyspace. Encoding costs in proportion to the keyspace
and the WAL must have grown by as much, so snapshots cost at most about one encoded
byte per logged byte, and a restart replays at most about one keyspace's worth of
WAL. `snapshot(state)` stores the encoded keyspace with write_atomic (temp file,
fsync, rename, directory fsync), naming the WAL segment from which replay must start;
older segments are then deleted. Recovery loads the snapshot and replays every record
of the WAL from that segment on; records the snapshot already covers are passed over by
the keyspace's version vector (ops) or are no-ops (merging an older state).

Rules kept in this file:
- a position (LSN) counts records appended; `durable()` only moves after fdatasync;
- after a failed write or fsync the log refuses all further work (the WAL's own rule)
  and every waiter fails: nothing more is acknowledged, the process must restart;
- the snapshot file is `keyspace.snap`: b"SNAA", CRC32 of the body, body = msgpack
  [first WAL segment to replay, encoded keyspace]; damage is a StorageError.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgpack

from senate.errors import StorageError
from senate.storage.fileutil import remove_temp_files, write_atomic
from senate.storage.wal import WAL

logger = logging.getLogger("senate.activeactive")

OP_RECORD = b"o"
STATE_RECORD = b"s"
SNAP_MAGIC = b"SNAA"
SNAP_NAME = "keyspace.snap"
_CRC = struct.Struct("<I")
SEGMENT_BYTES = 16 << 20
LINGER_STEP = 0.0002  # seconds: group commit polls for more records this often,
LINGER_QUIET = 0.001  # gives up after this long without a new one,
LINGER_MAX = 0.004  # and never waits longer than this
INLINE_SYNC = 0.0002  # an fsync faster than this runs on the event loop, not in a thread
SNAPSHOT_MIN_GROWTH = 8 << 20  # WAL bytes: never snapshot more often than this


class DurableLog:
    """The WAL and snapshot of one replica's keyspace."""

    def __init__(
        self,
        directory: Path,
        on_durable: Callable[[int, dict[str, int]], None],
        cut_state: Callable[[], dict[str, int]],
    ) -> None:
        self.directory = directory
        self._on_durable = on_durable
        self._cut_state = cut_state  # the version vector that a batch cut makes durable
        self._wal: WAL | None = None
        self._pending: list[bytes] = []
        self._appended = 0
        self._durable = 0
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="senate-aa-wal")
        self._snapshot: tuple[bytes, int] | None = None  # (state, position it covers)
        self.broken: str | None = None
        self.records_since_snapshot = 0
        self.bytes_since_snapshot = 0  # WAL bytes appended since the snapshot
        self.snapshot_bytes = 0  # size of the newest snapshot's encoded keyspace
        self.fsyncs = 0
        self._recent: deque[int] = deque(maxlen=16)  # sizes of the last batches
        self._last_sync = 0.0  # seconds the last write + fdatasync took
        self._closing = False

    # -- recovery ---------------------------------------------------------------------------
    def recover(self) -> tuple[bytes | None, list[bytes]]:
        """Open the directory: (snapshot state or None, WAL records to replay in order)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        remove_temp_files(self.directory)
        state, first = self._load_snapshot()
        wal, records = WAL.open(self.directory / "wal", segment_bytes=SEGMENT_BYTES)
        self._wal = wal
        replay = [payload for segment, payload in records if segment >= first]
        for payload in replay:
            if payload[:1] not in (OP_RECORD, STATE_RECORD):
                raise StorageError(f"{self.directory}: unknown WAL record type {payload[:1]!r}")
        self.records_since_snapshot = len(replay)
        self.bytes_since_snapshot = sum(map(len, replay))
        self.snapshot_bytes = len(state) if state is not None else 0
        return state, replay

    def _load_snapshot(self) -> tuple[bytes | None, int]:
        path = self.directory / SNAP_NAME
        if not path.exists():
            return None, 0
        data = path.read_bytes()
        head = len(SNAP_MAGIC) + _CRC.size
        if len(data) < head or data[:4] != SNAP_MAGIC:
            raise StorageError(f"{path}: not a keyspace snapshot")
        (crc,) = _CRC.unpack_from(data, 4)
        if zlib.crc32(data[head:]) != crc:
            raise StorageError(f"{path}: checksum mismatch")
        try:
            first, state = msgpack.unpackb(data[head:], raw=False)
        except Exception as exc:
            raise StorageError(f"{path}: undecodable snapshot: {exc}") from None
        if type(first) is not int or not isinstance(state, bytes):
            raise StorageError(f"{path}: bad snapshot fields")
        return state, first

    # -- appending --------------------------------------------------------------------------
    def append(self, kind: bytes, payload: bytes) -> int:
        """Queue one record; returns its position (durable once `durable() >= it`)."""
        self._pending.append(kind + payload)
        self._appended += 1
        self.records_since_snapshot += 1
        self.bytes_since_snapshot += 1 + len(payload)
        if self._wake is not None:
            self._wake.set()
        return self._appended

    def barrier(self) -> int:
        return self._appended

    def durable(self) -> int:
        return self._durable

    def when_durable(self, position: int) -> asyncio.Future[None]:
        fut = self._waiters.get(position)
        if fut is None:
            fut = self._waiters[position] = asyncio.get_running_loop().create_future()
            if self.broken is not None:
                fut.set_exception(StorageError(self.broken))
        return fut

    def snapshot_due(self, max_records: int) -> bool:
        """Has the WAL grown enough since the last snapshot (see the header)?"""
        growth = max(SNAPSHOT_MIN_GROWTH, self.snapshot_bytes)
        return self.records_since_snapshot >= max_records or self.bytes_since_snapshot >= growth

    def snapshot(self, state: bytes) -> None:
        """Store `state` (the keyspace now: it covers every record appended so far)."""
        self._snapshot = (state, self._appended)
        self.records_since_snapshot = 0
        self.bytes_since_snapshot = 0
        self.snapshot_bytes = len(state)
        if self._wake is not None:
            self._wake.set()

    # -- the committer ------------------------------------------------------------------------
    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="senate-aa-commit")

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending and self._snapshot is None:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._linger()
            batch, self._pending = self._pending, []
            self._recent.append(len(batch))
            position = self._appended
            vv = self._cut_state()
            snap = self._snapshot
            self._snapshot = None
            try:
                if snap is None and self._last_sync < INLINE_SYNC:
                    # A fast disk: a thread handoff would cost more than the fsync itself.
                    self._write(batch, None)
                else:
                    await loop.run_in_executor(self._pool, self._write, batch, snap)
            except (StorageError, OSError) as exc:
                self._fail(f"{type(exc).__name__}: {exc}")
                return
            self.fsyncs += 1
            self._durable = position
            for pos in [p for p in self._waiters if p <= position]:
                fut = self._waiters.pop(pos)
                if not fut.done():
                    fut.set_result(None)
            self._on_durable(position, vv)

    async def _linger(self) -> None:
        """Group commit: wait briefly for the writers the last fsync answered, so one
        fdatasync serves them all again (they send their next writes a fraction of a
        millisecond after their replies). Waits only while the batch is smaller than the
        largest of the last 16, stops after LINGER_QUIET with no new record, and never
        past half the last fsync's time or LINGER_MAX; a lone writer is synced at once."""
        loop = asyncio.get_running_loop()
        start = last_arrival = loop.time()
        seen = len(self._pending)
        # Worth waiting only when the disk is slow: at most half the last fsync's time.
        limit = min(LINGER_MAX, self._last_sync / 2)
        target = max(self._recent, default=0)
        while len(self._pending) < target and loop.time() - start < limit:
            await asyncio.sleep(LINGER_STEP)
            now = loop.time()
            if len(self._pending) != seen:
                seen, last_arrival = len(self._pending), now
            elif now - last_arrival > LINGER_QUIET:
                return

    def _write(self, batch: list[bytes], snap: tuple[bytes, int] | None) -> None:
        wal = self._wal
        assert wal is not None
        if batch:
            began = time.perf_counter()
            wal.append(batch)
            wal.sync()
            self._last_sync = time.perf_counter() - began
        if snap is not None:
            # Every record the snapshot covers was appended before this batch ended, so
            # replay can start at the segment now active; older segments can go.
            first = wal.active
            body = msgpack.packb([first, snap[0]], use_bin_type=True)
            write_atomic(
                self.directory / SNAP_NAME, SNAP_MAGIC + _CRC.pack(zlib.crc32(body)) + body
            )
            old = [n for n in wal.segments if n < first]
            wal.remove_segments(old)
            logger.info("%s: keyspace snapshot written (%d bytes)", self.directory, len(body))

    def _fail(self, why: str) -> None:
        self.broken = why
        logger.critical("%s: durable log failed, refusing writes: %s", self.directory, why)
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(StorageError(why))
        self._waiters.clear()

    async def close(self) -> None:
        """Write what is pending (and a requested snapshot), then stop."""
        if self._task is not None and self._wake is not None:
            self._closing = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10.0)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self._pool.shutdown(wait=True)
        if self._wal is not None:
            self._wal.close()
