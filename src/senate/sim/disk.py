"""One node's simulated disk: hard state, snapshot and log, with a volatile write
buffer that only `fsync` makes durable.

Rules this file keeps:
- Writes land in the page cache (`pending`) and in the live view the running node
  sees; only `fsync` moves them to the durable copy. A crash keeps the durable copy
  and, when torn, a random prefix of the pending writes (the disk wrote some of the
  queue in order before power went out), never a later write without the earlier.
- Writes are recorded item by item in the order the driver issued them (snapshot,
  then entries one by one, then hard state: the order in engine.py), so a torn
  prefix is exactly what a sequential log device could leave.
- The log is contiguous and starts right after the snapshot. Writing entries at
  index i first truncates the log from i. Entries at or below the snapshot index
  are already covered by it and are skipped.
- A state machine snapshot saved by the driver (`save_snapshot`) is written and
  synced at once (write to a temp file, fsync, rename) and compacts the log.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from senate.consensus.types import DurableState, Entry, HardState, Snapshot


@dataclass(slots=True)
class Store:
    """The contents of one copy (durable or live) of a node's disk."""

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    log: list[Entry] = field(default_factory=list)

    @property
    def first_index(self) -> int:
        """Index of log[0]."""
        return (self.snapshot.index if self.snapshot else 0) + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.log) - 1

    def entry(self, index: int) -> Entry | None:
        pos = index - self.first_index
        return self.log[pos] if 0 <= pos < len(self.log) else None

    def term_at(self, index: int) -> int | None:
        snap = self.snapshot
        if snap is not None and index == snap.index:
            return snap.term
        if index == 0:
            return 0
        e = self.entry(index)
        return e.term if e else None

    def copy(self) -> Store:
        return Store(self.hard_state, self.snapshot, list(self.log))

    def apply(self, item: _Write) -> None:
        if isinstance(item, HardState):
            self.hard_state = item
        elif isinstance(item, Snapshot):
            self._install(item)
        else:
            self._put(item)

    def _put(self, e: Entry) -> None:
        pos = e.index - self.first_index
        if pos < 0:
            return
        if pos > len(self.log):
            raise AssertionError(f"log gap: writing {e.index} after {self.last_index}")
        del self.log[pos:]
        self.log.append(e)

    def _install(self, snap: Snapshot) -> None:
        # Keep a log suffix only if it continues the snapshot (same term at its index).
        keep: list[Entry] = []
        if self.term_at(snap.index) == snap.term:
            keep = [e for e in self.log if e.index > snap.index]
        if self.snapshot is None or snap.index >= self.snapshot.index:
            self.snapshot = snap
            self.log = keep

    def durable_state(self) -> DurableState:
        return DurableState(self.hard_state, self.snapshot, tuple(self.log))


_Write = HardState | Snapshot | Entry


@dataclass(slots=True)
class DiskStats:
    writes: int = 0
    fsyncs: int = 0
    lost_on_crash: int = 0
    torn_crashes: int = 0


@dataclass(slots=True)
class Disk:
    durable: Store = field(default_factory=Store)
    live: Store = field(default_factory=Store)
    pending: list[_Write] = field(default_factory=list)
    stats: DiskStats = field(default_factory=DiskStats)

    def write(
        self,
        snapshot: Snapshot | None,
        entries: list[Entry],
        hard_state: HardState | None,
    ) -> None:
        """Buffer one Ready's writes, in engine.py's order."""
        items: list[_Write] = []
        if snapshot is not None:
            items.append(snapshot)
        items.extend(entries)
        if hard_state is not None:
            items.append(hard_state)
        live = self.live
        for item in items:
            live.apply(item)
        self.pending.extend(items)
        self.stats.writes += len(items)

    def fsync(self) -> None:
        self.stats.fsyncs += 1
        durable = self.durable
        for item in self.pending:
            durable.apply(item)
        self.pending.clear()

    @property
    def dirty(self) -> bool:
        return bool(self.pending)

    def save_snapshot(self, snap: Snapshot) -> None:
        """A driver-made state machine snapshot: synced at once, compacts both copies."""
        for store in (self.durable, self.live):
            if store.snapshot is None or snap.index > store.snapshot.index:
                term = store.term_at(snap.index)
                keep = [e for e in store.log if e.index > snap.index]
                if term is None:
                    keep = []
                store.snapshot = snap
                store.log = keep

    def crash(self, rng: random.Random, torn_prob: float) -> int:
        """Power loss: drop the page cache, keeping a random prefix if torn.

        Returns how many buffered writes were lost.
        """
        survive = 0
        if self.pending and torn_prob and rng.random() < torn_prob:
            survive = rng.randint(0, len(self.pending))
            self.stats.torn_crashes += 1
        for item in self.pending[:survive]:
            self.durable.apply(item)
        lost = len(self.pending) - survive
        self.stats.lost_on_crash += lost
        self.pending.clear()
        self.live = self.durable.copy()
        return lost
