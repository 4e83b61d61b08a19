"""The in-memory ZAB history: a snapshot offset, a list of proposals, three marks.

Rules this file keeps:
- entries[i] has index `offset + 1 + i`; the entry at `offset` is only known by
  its epoch (`offset_epoch`, the snapshot's);
- the zxid mapping: an entry's `term` is its epoch and its `index` its position
  in the history. ZooKeeper's zxid is (epoch, counter) with the counter restarting
  in each epoch; here counter = index - base, where base is the last index of the
  initial history the epoch's leader started from. Every entry of one epoch comes
  from that epoch's only leader, so two zxids of the same epoch have the same
  base and (epoch, index) orders exactly as (epoch, counter) does. The wire and
  every comparison use the pair `zxid() = (epoch, index)`;
- applied <= committed <= last_index; committed never goes back and a committed
  entry is never truncated (EngineMisuse);
- `stable` is the last index the driver reported durable; a truncation pulls it
  back below the last index it keeps, so that entry is written again and the
  driver's log is cut there too (a write at index i truncates from i); never
  below `offset`, so unstable() is exactly what the next Ready writes.
"""

from __future__ import annotations

from senate.consensus.types import Entry
from senate.zab.errors import EngineMisuse

Zxid = tuple[int, int]  # (epoch, index)


class ZabLog:
    __slots__ = ("applied", "committed", "entries", "offset", "offset_epoch", "stable")

    def __init__(self, offset: int, offset_epoch: int, entries: list[Entry]) -> None:
        for i, entry in enumerate(entries):
            if entry.index != offset + 1 + i:
                raise EngineMisuse("zab log: durable entries are not contiguous")
        self.offset = offset
        self.offset_epoch = offset_epoch
        self.entries = entries
        self.committed = offset
        self.applied = offset
        self.stable = self.last_index

    @property
    def last_index(self) -> int:
        return self.offset + len(self.entries)

    @property
    def last_epoch(self) -> int:
        return self.entries[-1].term if self.entries else self.offset_epoch

    def zxid(self) -> Zxid:
        """The last zxid of this history, as (epoch, index)."""
        return (self.last_epoch, self.last_index)

    def epoch(self, index: int) -> int | None:
        """The epoch of the entry at `index`; None when compacted away or absent."""
        if index == self.offset:
            return self.offset_epoch
        if index < self.offset or index > self.last_index:
            return None
        return self.entries[index - self.offset - 1].term

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries [lo, hi]."""
        if lo <= self.offset:
            raise EngineMisuse(f"zab log: slice from compacted index {lo}")
        return self.entries[lo - self.offset - 1 : hi - self.offset]

    def runs_after(self, index: int) -> list[tuple[int, int]]:
        """(epoch, last index of that epoch) for each run of entries after `index`."""
        runs: list[tuple[int, int]] = []
        for e in self.entries[max(0, index - self.offset) :]:
            if runs and runs[-1][0] == e.term:
                runs[-1] = (e.term, e.index)
            else:
                runs.append((e.term, e.index))
        return runs

    def truncate_after(self, index: int) -> None:
        """Drop every entry after `index` (a TRUNC from the leader)."""
        if index >= self.last_index:
            return
        if index < self.committed:
            raise EngineMisuse(f"zab log: truncating committed index {index + 1}")
        del self.entries[max(0, index - self.offset) :]
        # The driver's log drops a suffix only when an entry is written over it:
        # the entry at `index` goes out again (the same entry), so the cut is on
        # disk before anything that depends on it. Otherwise a restart brings the
        # cut proposals back (seed 351: a dead branch's membership change came back
        # and two leaders established one epoch with disjoint quorums).
        if index > self.offset:
            self.stable = min(self.stable, index - 1)
        else:
            self.stable = min(self.stable, index)

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Put `entries` at their indexes; the first must follow the last entry."""
        if not entries:
            return
        if entries[0].index != self.last_index + 1:
            raise EngineMisuse(f"zab log: {entries[0].index} does not follow {self.last_index}")
        self.entries.extend(entries)

    def commit_to(self, index: int) -> bool:
        index = min(index, self.last_index)
        if index > self.committed:
            self.committed = index
            return True
        return False

    def unstable(self) -> list[Entry]:
        return self.entries[self.stable - self.offset :]

    def stable_to(self, index: int, epoch: int) -> None:
        # Only if that entry is still there: a suffix may have been rewritten
        # between ready() and advance(); then it goes out again.
        if self.epoch(index) == epoch and index > self.stable:
            self.stable = index

    def restore(self, index: int, epoch: int) -> None:
        """Reset to an installed snapshot at (index, epoch): no entries, all committed."""
        self.offset, self.offset_epoch = index, epoch
        self.entries = []
        self.committed = index
        self.stable = index

    def compact(self, index: int) -> None:
        """Drop entries up to `index` (already in a snapshot)."""
        epoch = self.epoch(index)
        if epoch is None or index <= self.offset:
            return
        if index > self.stable:
            if index >= self.last_index:
                # The rewrite that cuts the driver's log would be compacted away
                # with nothing after it left to write: the cut would never reach it.
                raise EngineMisuse(
                    f"zab log: compacting to {index} over unwritten index {self.stable + 1}"
                )
            self.stable = index  # what follows goes out again, from index + 1
        del self.entries[: index - self.offset]
        self.offset, self.offset_epoch = index, epoch
