"""The in-memory Raft log: a snapshot offset, a list of entries, three marks.

Rules this file keeps:
- entries[i] has index `offset + 1 + i`; the entry at `offset` itself is only
  known by its term (`offset_term`, the snapshot's) — no O(n) lookups anywhere;
- applied <= committed <= last_index, and committed never goes back;
- `stable` is the last index the driver reported durable; everything after it is
  "unstable" and goes out in the next Ready. Truncating a suffix pulls `stable`
  back, so the rewritten suffix is persisted again (the driver truncates there);
- a committed entry is never truncated (that would be a safety bug: raise).
"""

from __future__ import annotations

from senate.consensus.types import Entry
from senate.raft.errors import EngineMisuse

ENTRY_OVERHEAD = 16  # rough per-entry framing bytes, for the batch byte limit


def entry_size(entry: Entry) -> int:
    return len(entry.data) + ENTRY_OVERHEAD


class RaftLog:
    __slots__ = ("applied", "committed", "entries", "offset", "offset_term", "stable")

    def __init__(self, offset: int, offset_term: int, entries: list[Entry]) -> None:
        for i, entry in enumerate(entries):
            if entry.index != offset + 1 + i:
                raise EngineMisuse(
                    "raft log: durable entries are not contiguous after the snapshot"
                )
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

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.offset_term

    def term(self, index: int) -> int | None:
        """The term of the entry at `index`; None when compacted away or absent."""
        if index == self.offset:
            return self.offset_term
        if index < self.offset or index > self.last_index:
            return None
        return self.entries[index - self.offset - 1].term

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Is a log ending at (last_index, last_term) at least as up to date as ours?"""
        mine = self.last_term
        return last_term > mine or (last_term == mine and last_index >= self.last_index)

    def slice(self, lo: int, hi: int, max_entries: int, max_bytes: int) -> list[Entry]:
        """Entries [lo, hi) capped by count and bytes (at least one when any)."""
        lo_pos = lo - self.offset - 1
        hi_pos = min(hi, self.last_index + 1, lo + max_entries) - self.offset - 1
        if lo_pos < 0:
            raise EngineMisuse(f"raft log: slice from compacted index {lo}")
        out = self.entries[lo_pos:hi_pos]
        size = 0
        for n, entry in enumerate(out):
            size += entry_size(entry)
            if size > max_bytes and n > 0:
                return out[:n]
        return out

    def find_conflict(self, entries: tuple[Entry, ...] | list[Entry]) -> int:
        """Index of the first entry absent or of another term in our log; 0 if none."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest (i, term(i)) with i <= index and term(i) <= term (etcd's hint).

        Every entry between the returned index and `index` has a term greater than
        `term`, so none of them can match a log whose entry at `index` has `term`.
        """
        i = min(index, self.last_index)
        while i > self.offset:
            t = self.entries[i - self.offset - 1].term
            if t <= term:
                return i, t
            i -= 1
        if self.offset_term <= term:
            return self.offset, self.offset_term
        return self.offset, 0

    def append(self, entries: list[Entry] | tuple[Entry, ...]) -> None:
        """Put `entries` at their indexes, truncating any suffix from the first one."""
        if not entries:
            return
        first = entries[0].index
        if first <= self.committed:
            raise EngineMisuse(f"raft log: truncating committed index {first}")
        if first > self.last_index + 1:
            raise EngineMisuse(f"raft log: gap before index {first}")
        del self.entries[first - self.offset - 1 :]
        self.entries.extend(entries)
        self.stable = min(self.stable, first - 1)

    def commit_to(self, index: int) -> bool:
        index = min(index, self.last_index)
        if index > self.committed:
            self.committed = index
            return True
        return False

    def unstable(self) -> list[Entry]:
        return self.entries[self.stable - self.offset :]

    def stable_to(self, index: int, term: int) -> None:
        # Only if that entry is still there: a suffix may have been rewritten
        # between ready() and advance(); then it goes out again.
        if self.match_term(index, term) and index > self.stable:
            self.stable = index

    def restore(self, index: int, term: int) -> None:
        """Reset to an installed snapshot at (index, term): no entries, all committed."""
        self.offset, self.offset_term = index, term
        self.entries = []
        self.committed = index
        self.stable = index

    def compact(self, index: int) -> None:
        """Drop entries up to `index` (already in a snapshot)."""
        term = self.term(index)
        if term is None or index <= self.offset:
            return
        del self.entries[: index - self.offset]
        self.offset, self.offset_term = index, term
