"""An in-memory LogStore with the same interface and rules as FileLogStore.

For tests and the simulator. It models the disk's two levels: what was saved
and what was synced. `crash()` forgets the unsynced saves (optionally keeping a
prefix of them, as a page cache may have written some back), so `load()` then
gives exactly what was synced. Snapshots are durable as soon as they are saved,
as their files are fsynced. Records are kept decoded; replay uses the same
LogState rules as the file store, so both report the same state.
"""

from __future__ import annotations

from senate.consensus.types import DurableState, Entry, HardState, Snapshot
from senate.storage.logstate import LogState
from senate.storage.records import Batch


class MemoryLogStore:
    def __init__(self) -> None:
        self._live = LogState()  # everything saved
        self._synced = LogState()  # what survives a crash
        self._pending: list[Batch] = []  # saved but not yet synced, oldest first
        self.syncs = 0  # how many times a save made data durable (for tests)

    def load(self) -> DurableState:
        return self._live.durable_state("memory log store")

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None,
        sync: bool,
    ) -> None:
        self._live.check_save(entries, snapshot)
        if snapshot is not None:
            self._live.snapshot = self._synced.snapshot = snapshot
        if hard_state is not None or entries or snapshot is not None:
            marker = None if snapshot is None else (snapshot.index, snapshot.term)
            batch = Batch(marker, hard_state, list(entries))
            self._live.apply_batch(batch)
            self._pending.append(batch)
        if sync:
            self._sync()

    def _sync(self) -> None:
        for batch in self._pending:
            self._synced.apply_batch(batch)
        if self._pending:
            self.syncs += 1
        self._pending.clear()

    def save_snapshot(self, snapshot: Snapshot) -> bool:
        if not self._live.is_newer(snapshot):
            return False
        self._live.snapshot = self._synced.snapshot = snapshot
        return True

    def compact(self, index: int) -> None:
        if index > self._live.snapshot_index:
            raise ValueError(
                f"cannot compact to {index}: the newest snapshot is at {self._live.snapshot_index}"
            )
        self._sync()  # as FileLogStore does before it drops segments
        self._live.trim(index)
        self._synced.trim(index)

    def crash(self, keep: int = 0) -> None:
        """Lose unsynced saves except the first `keep` of them."""
        for batch in self._pending[:keep]:
            self._synced.apply_batch(batch)
        self._pending.clear()
        self._live = self._synced.copy()

    @property
    def unsynced(self) -> int:
        """How many saves a crash would lose."""
        return len(self._pending)

    def close(self) -> None:
        """Nothing to release."""
