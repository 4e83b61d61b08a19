"""The in-memory view of a persisted log: what replaying saved batches gives.

Rules this file keeps:
- Replay and live saves go through the same `apply_batch`, so what a store
  reports after a save is exactly what a restart would rebuild from the same
  records.
- Entries are kept contiguous. An entry at an index <= the last one truncates the
  log from there (overwrite of a suffix, as Raft's AppendEntries does); an entry
  past last+1 is a gap and is refused.
- A snapshot marker (an installed snapshot) discards the whole log; entries
  after it start at marker.index + 1.
- `durable_state` reports the entries after the newest snapshot, and refuses
  (StorageError) if they do not continue it without a gap.
"""

from __future__ import annotations

import itertools

from senate.consensus.types import DurableState, Entry, HardState, Snapshot
from senate.errors import StorageError
from senate.storage.records import Batch


class LogState:
    def __init__(
        self, hard_state: HardState | None = None, snapshot: Snapshot | None = None
    ) -> None:
        self.hard_state = hard_state or HardState()
        self.snapshot = snapshot
        self.entries: list[Entry] = []

    @property
    def snapshot_index(self) -> int:
        return 0 if self.snapshot is None else self.snapshot.index

    @property
    def last_index(self) -> int:
        last = self.entries[-1].index if self.entries else 0
        return max(last, self.snapshot_index)

    def is_newer(self, snapshot: Snapshot) -> bool:
        """Whether `snapshot` may replace the current one (any may replace none)."""
        return self.snapshot is None or snapshot.index > self.snapshot.index

    def copy(self) -> LogState:
        other = LogState(self.hard_state, self.snapshot)
        other.entries = list(self.entries)
        return other

    def check_save(self, entries: list[Entry], snapshot: Snapshot | None) -> None:
        """Raise ValueError if a driver's save would break the log's shape."""
        if snapshot is not None and not self.is_newer(snapshot):
            raise ValueError(
                f"installed snapshot at {snapshot.index} is not newer than {self.snapshot_index}"
            )
        for before, after in itertools.pairwise(entries):
            if after.index != before.index + 1:
                raise ValueError(f"entries not contiguous: {before.index} then {after.index}")
        if entries:
            floor = snapshot.index if snapshot is not None else self.snapshot_index
            last = floor if snapshot is not None else self.last_index
            if not floor < entries[0].index <= last + 1:
                raise ValueError(
                    f"entries start at {entries[0].index}; must be in {floor + 1}..{last + 1}"
                )

    def apply_batch(self, batch: Batch) -> None:
        """Apply one saved batch. Raises ValueError on a gap."""
        if batch.marker is not None:
            self.entries = []
        if batch.hard_state is not None:
            self.hard_state = batch.hard_state
        if batch.entries:
            self._append(batch.entries)

    def _append(self, entries: list[Entry]) -> None:
        first = entries[0].index
        if self.entries:
            start = self.entries[0].index
            if first > self.entries[-1].index + 1:
                raise ValueError(f"gap: entry {first} after {self.entries[-1].index}")
            del self.entries[max(first - start, 0) :]
        self.entries.extend(entries)

    def trim(self, index: int) -> None:
        """Forget entries up to `index` (covered by a snapshot)."""
        if self.entries and self.entries[0].index <= index:
            del self.entries[: index - self.entries[0].index + 1]

    def durable_state(self, where: str) -> DurableState:
        base = self.snapshot_index
        entries = self.entries
        if entries and entries[0].index <= base:
            entries = entries[base - entries[0].index + 1 :]
        if entries and entries[0].index != base + 1:
            raise StorageError(
                f"{where}: the log starts at index {entries[0].index} but the "
                f"snapshot ends at {base}: entries are missing"
            )
        return DurableState(self.hard_state, self.snapshot, tuple(entries))
