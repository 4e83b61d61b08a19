"""SeqIndex: one replica's runs sorted by seq, for "which run holds character r:s".

Rules kept in this file:
- the runs of one replica never overlap in seq, so sorting by start seq orders them;
- the index only stores and finds runs; it never changes them.

Theory of operation. A flat sorted list would make every split in the middle of an
old run an O(n) memmove over all of the replica's runs (a quarter of a million
entries for a long editing session). So the entries live in chunks of at most
2 * CHUNK sorted starts, with a top list of each chunk's first start: a lookup is
two bisects, an insert or removal touches one short chunk (a split chunk adds one
entry to the top list). Appending a new run at the end, the common case of typing,
takes the first branch of `add`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from senate.crdt.text.runs import Run

CHUNK = 256


class SeqIndex:
    __slots__ = ("mins", "runs", "starts")

    def __init__(self) -> None:
        self.mins: list[int] = []  # first start of each chunk
        self.starts: list[list[int]] = []
        self.runs: list[list[Run]] = []

    @classmethod
    def of(cls, runs: list[Run]) -> SeqIndex:
        """An index of `runs`, which must be sorted by seq."""
        ix = cls()
        for i in range(0, len(runs), CHUNK):
            chunk = runs[i : i + CHUNK]
            ix.runs.append(chunk)
            ix.starts.append([r.seq for r in chunk])
            ix.mins.append(chunk[0].seq)
        return ix

    def find(self, seq: int) -> Run | None:
        """The run holding `seq`, or None."""
        ci = bisect_right(self.mins, seq) - 1
        if ci < 0:
            return None
        starts = self.starts[ci]
        r = self.runs[ci][bisect_right(starts, seq) - 1]
        return r if seq < r.seq + r.length else None

    def add(self, run: Run) -> None:
        seq = run.seq
        starts_l = self.starts
        if starts_l and seq > starts_l[-1][-1]:
            ci = len(starts_l) - 1
            starts_l[ci].append(seq)
            self.runs[ci].append(run)
        elif not starts_l:
            self.mins.append(seq)
            starts_l.append([seq])
            self.runs.append([run])
            return
        else:
            ci = max(0, bisect_right(self.mins, seq) - 1)
            starts = starts_l[ci]
            i = bisect_right(starts, seq)
            starts.insert(i, seq)
            self.runs[ci].insert(i, run)
            if i == 0:
                self.mins[ci] = seq
        if len(starts_l[ci]) > 2 * CHUNK:
            starts, runs = starts_l[ci], self.runs[ci]
            starts_l.insert(ci + 1, starts[CHUNK:])
            self.runs.insert(ci + 1, runs[CHUNK:])
            self.mins.insert(ci + 1, starts[CHUNK])
            del starts[CHUNK:]
            del runs[CHUNK:]

    def remove(self, run: Run) -> None:
        ci = bisect_right(self.mins, run.seq) - 1
        starts, runs = self.starts[ci], self.runs[ci]
        i = bisect_right(starts, run.seq) - 1
        assert runs[i] is run
        del starts[i]
        del runs[i]
        if not starts:
            del self.mins[ci]
            del self.starts[ci]
            del self.runs[ci]
        elif i == 0:
            self.mins[ci] = starts[0]

    def next_at_or_after(self, seq: int) -> int | None:
        """The smallest seq >= `seq` that some run holds, or None."""
        r = self.find(seq)
        if r is not None:
            return seq
        ci = max(0, bisect_right(self.mins, seq) - 1)
        while ci < len(self.starts):
            starts = self.starts[ci]
            i = bisect_right(starts, seq)
            if i < len(starts):
                return starts[i]
            ci += 1
            seq = -1
        return None

    def runs_from(self, seq: int) -> Iterator[Run]:
        """Runs in seq order, from the one holding or following `seq`."""
        ci = max(0, bisect_right(self.mins, seq) - 1)
        first = True
        while ci < len(self.runs):
            i = max(0, bisect_right(self.starts[ci], seq) - 1) if first else 0
            first = False
            for r in self.runs[ci][i:]:
                if r.seq + r.length > seq:
                    yield r
            ci += 1

    def __iter__(self) -> Iterator[Run]:
        for chunk in self.runs:
            yield from chunk

    def __len__(self) -> int:
        return sum(len(c) for c in self.starts)
