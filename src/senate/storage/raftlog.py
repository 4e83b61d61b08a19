"""Durable storage of a consensus engine's log, hard state and snapshot.

A driver persists each Ready with `save` and rebuilds its engine with `load`.
Acknowledged means durable: once `save(..., sync=True)` returns, everything
saved so far survives a crash, and a restart's `load` returns it.

Directory layout:
    wal/<n>.wal                 the write-ahead log (wal.py); one record per save
    snap-<index>-<term>.snap    the newest snapshot (snapshot.py)
    hardstate                   a hard state checkpoint (hardstate.py)

Rules this file keeps:
- Each `save` is one WAL record (several only when it exceeds max_record_bytes)
  holding, in order: a snapshot marker if a snapshot is installed, the hard
  state, the entries. One record means a crash keeps the whole save or none of
  it. The running hard state lives in the WAL so it shares the entries' fsync.
- Overwriting a suffix needs no special record: replay truncates the log at an
  entry whose index is <= the last one (logstate.py), just as the live save did.
- fsync points: `save(sync=True)` ends with one fdatasync of the WAL (after
  fsyncing the snapshot file first if one is given); `save(sync=False)` only
  fsyncs an installed snapshot; `save_snapshot` fsyncs the snapshot file and the
  directory; `compact` fsyncs the WAL, and if it deletes segments it first
  writes the hard state checkpoint atomically (fsync, rename, directory fsync)
  and then deletes them oldest first (a directory fsync after each). The WAL
  also fsyncs a segment when it is sealed.
- `compact(index)` deletes whole sealed segments whose entries are all at or
  below `index`, which must be covered by the newest snapshot. The checkpoint
  written just before keeps the hard state those segments held.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from senate.consensus.types import DurableState, Entry, HardState, Snapshot
from senate.errors import StorageError
from senate.storage.fileutil import fsync_dir, remove_temp_files
from senate.storage.hardstate import HardStateFile
from senate.storage.logstate import LogState
from senate.storage.records import Batch, decode_batch, encode_batch, split_batch
from senate.storage.snapshot import SnapshotStore
from senate.storage.wal import DEFAULT_MAX_RECORD_BYTES, DEFAULT_SEGMENT_BYTES, WAL


class LogStore(Protocol):
    """What a driver needs from durable storage (FileLogStore, MemoryLogStore)."""

    def load(self) -> DurableState:
        """Hard state, newest snapshot and the log after it, as saved."""

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None,
        sync: bool,
    ) -> None:
        """Persist one Ready; durable on return when `sync` is true."""

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        """Durably keep a local state machine snapshot; False if not newer."""

    def compact(self, index: int) -> None:
        """Drop log entries up to `index` (<= the newest snapshot's index)."""

    def close(self) -> None: ...


class FileLogStore:
    """The embedded default: WAL segments, snapshot files and a hard state file."""

    def __init__(
        self,
        directory: Path | str,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        repair: bool = False,
    ) -> None:
        """Open (or create) a data directory and recover it.

        Raises StorageError if it is corrupt in the middle; a torn WAL tail is
        truncated (and logged). `repair` is passed to WAL.open (operator use).
        """
        self.directory = Path(directory)
        if not self.directory.is_dir():
            self.directory.mkdir(parents=True)
            fsync_dir(self.directory.parent)
        remove_temp_files(self.directory)
        self._max_record_bytes = max_record_bytes
        self._snapshots = SnapshotStore(self.directory)
        self._hard_state_file = HardStateFile(self.directory)
        self._state = LogState(self._hard_state_file.load(), self._snapshots.load())
        self._wal, records = WAL.open(
            self.directory / "wal",
            segment_bytes=segment_bytes,
            max_record_bytes=max_record_bytes,
            repair=repair,
        )
        self._segment_max: dict[int, int] = {}  # segment -> highest entry index in it
        for segment, payload in records:
            where = f"{self._wal.directory}/segment {segment}"
            batch = decode_batch(payload, where)
            self._replay(batch, where)
            self._note(segment, batch)
        self._state.durable_state(str(self.directory))  # refuse a log with a gap now

    def _replay(self, batch: Batch, where: str) -> None:
        if batch.marker is not None and batch.marker[0] > self._state.snapshot_index:
            raise StorageError(
                f"{where}: the log was replaced by a snapshot at index {batch.marker[0]} "
                f"but the newest snapshot file is at {self._state.snapshot_index}"
            )
        try:
            self._state.apply_batch(batch)
        except ValueError as exc:
            raise StorageError(f"{where}: {exc}") from exc

    def _note(self, segment: int, batch: Batch) -> None:
        if batch.entries:
            high = batch.entries[-1].index
            self._segment_max[segment] = max(self._segment_max.get(segment, 0), high)

    def load(self) -> DurableState:
        """Everything saved so far (after a restart: everything that was on disk)."""
        return self._state.durable_state(str(self.directory))

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None,
        sync: bool,
    ) -> None:
        """Persist one Ready. fsyncs: the snapshot file if given; the WAL if `sync`.

        `entries[0].index` may be at or below the last index: the log is cut
        there and replaced. A snapshot here is one installed from the leader:
        it replaces the whole log, and `entries` (if any) continue it.
        Raises ValueError on a gap or an overwrite of snapshotted entries.
        """
        self._state.check_save(entries, snapshot)
        if snapshot is not None:
            self._snapshots.save(snapshot)
            self._state.snapshot = snapshot
        if hard_state is not None or entries or snapshot is not None:
            marker = None if snapshot is None else (snapshot.index, snapshot.term)
            batch = Batch(marker, hard_state, entries)
            parts = split_batch(batch, self._max_record_bytes // 2)
            segment = self._wal.append([encode_batch(part) for part in parts])
            self._state.apply_batch(batch)
            self._note(segment, batch)
        if sync:
            self._wal.sync()

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        """Durably store a local snapshot (fsync file and directory).

        It does not change the log; call `compact` to drop what it covers.
        Returns False (and stores nothing) if it is not newer than the newest.
        """
        if not self._snapshots.save(snapshot):
            return False
        self._state.snapshot = snapshot
        return True

    def compact(self, index: int) -> None:
        """Drop entries up to `index` and delete WAL segments holding only those.

        fsyncs the WAL, then the hard state checkpoint (atomic), then deletes.
        """
        if index > self._state.snapshot_index:
            raise ValueError(
                f"cannot compact to {index}: the newest snapshot is at {self._state.snapshot_index}"
            )
        self._wal.sync()  # first: the checkpoint below must not be ahead of the WAL
        self._state.trim(index)
        sealed = self._wal.segments[:-1]
        doomed: list[int] = []
        for segment in sealed:
            if self._segment_max.get(segment, 0) > index:
                break
            doomed.append(segment)
        if not doomed:
            return
        self._hard_state_file.save(self._state.hard_state)
        self._wal.remove_segments(doomed)
        for segment in doomed:
            self._segment_max.pop(segment, None)

    @property
    def segments(self) -> list[int]:
        """The WAL segment numbers on disk (for tests and `senate status`)."""
        return self._wal.segments

    def close(self) -> None:
        self._wal.close()
