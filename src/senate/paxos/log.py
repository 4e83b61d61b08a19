"""One replica's slots: a snapshot offset, then a contiguous run of accepted entries.

Rules this file keeps:
- entries[i] sits at slot `offset + 1 + i`; the slot at `offset` itself is only
  known by its ballot tag (`offset_term`, the snapshot's). The log has no holes:
  an acceptor takes slots only in order (core.py says why), and a hole a new
  leader finds is filled with a NOOP before anything after it is proposed;
- `Entry.term` is the ballot of the proposer that first put that value in that
  slot; it never changes while the entry lives, so every replica holds a chosen
  entry byte for byte the same;
- applied <= committed <= last_index; committed never goes back and a committed
  entry is never truncated (that would be a safety bug: raise);
- `stable` is the last slot the driver reported durable; everything after it goes
  out in the next Ready. Rewriting from slot i pulls `stable` below i, so the
  driver truncates its log there. offset <= stable, so has_ready()'s
  `stable < last_index` means unstable() is not empty; a compaction over a slot
  whose rewrite is still pending with nothing after it is a bug (core.py never
  cuts at or below the commit index) and raises.
"""

from __future__ import annotations

from senate.consensus.types import Entry
from senate.paxos.errors import EngineMisuse


class PaxosLog:
    __slots__ = ("applied", "committed", "entries", "offset", "offset_term", "stable")

    def __init__(self, offset: int, offset_term: int, entries: list[Entry]) -> None:
        for i, entry in enumerate(entries):
            if entry.index != offset + 1 + i:
                raise EngineMisuse("paxos log: durable entries are not contiguous")
        self.offset = offset
        self.offset_term = offset_term
        self.entries = entries
        self.committed = offset
        self.applied = offset
        self.stable = self.last_index

    @property
    def first_index(self) -> int:
        return self.offset + 1

    @property
    def last_index(self) -> int:
        return self.offset + len(self.entries)

    def term(self, index: int) -> int | None:
        """The ballot tag at `index`; None when compacted away or absent."""
        if index == self.offset:
            return self.offset_term
        if index < self.offset or index > self.last_index:
            return None
        return self.entries[index - self.offset - 1].term

    def entry(self, index: int) -> Entry | None:
        if index <= self.offset or index > self.last_index:
            return None
        return self.entries[index - self.offset - 1]

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries at slots [lo, hi], clipped to what the log holds after the offset."""
        lo = max(lo, self.first_index)
        hi = min(hi, self.last_index)
        if hi < lo:
            return []
        return self.entries[lo - self.offset - 1 : hi - self.offset]

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Put `entries` at their slots, dropping any suffix from the first one."""
        if not entries:
            return
        first = entries[0].index
        if first <= self.committed:
            raise EngineMisuse(f"paxos log: rewriting chosen slot {first}")
        if first > self.last_index + 1:
            raise EngineMisuse(f"paxos log: hole before slot {first}")
        del self.entries[first - self.offset - 1 :]
        self.entries.extend(entries)
        self.stable = min(self.stable, first - 1)

    def truncate_after(self, index: int) -> None:
        """Drop slots > index; slot `index` is written again (the same entry) so the
        driver truncates its log there too."""
        if index >= self.last_index:
            return
        if index < self.committed or index <= self.offset:
            raise EngineMisuse(f"paxos log: cannot cut inside the chosen prefix at {index}")
        del self.entries[index - self.offset :]
        self.stable = min(self.stable, index - 1)

    def commit_to(self, index: int) -> bool:
        index = min(index, self.last_index)
        if index > self.committed:
            self.committed = index
            return True
        return False

    def unstable(self) -> list[Entry]:
        return self.entries[max(0, self.stable - self.offset) :]

    def stable_to(self, index: int, term: int) -> None:
        # Only if that entry is still there: a suffix rewritten between ready()
        # and advance() goes out again.
        if self.term(index) == term and index > self.stable:
            self.stable = index

    def restore(self, index: int, term: int) -> None:
        """Reset to an installed snapshot at (index, term): no entries, all chosen."""
        self.offset, self.offset_term = index, term
        self.entries = []
        self.committed = index
        self.stable = index

    def compact(self, index: int) -> None:
        term = self.term(index)
        if term is None or index <= self.offset:
            return
        if index > self.stable:
            if index >= self.last_index:
                # A rewrite pending at or below `index` is what cuts the driver's
                # log tail; with nothing after it left to write, that tail would stay
                # (and has_ready() would promise a Ready with nothing in it).
                raise EngineMisuse(
                    f"paxos log: compacting to {index} over unwritten slot {self.stable + 1}"
                )
            self.stable = index  # the entries after it go out again, from index + 1
        del self.entries[: index - self.offset]
        self.offset, self.offset_term = index, term
