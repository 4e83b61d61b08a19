"""The document sequence: runs of characters in document order, chunked into blocks.

Rules kept in this file:
- the sequence holds every character ever integrated, visible or tombstone, in the
  one order all replicas agree on; this file never decides that order (fugue.py
  does) and never creates ids (doc.py does);
- a Run is a maximal-enough piece of one replica's consecutive characters where each
  character's left origin is the previous one and all share one right origin; a run
  is split on demand (an origin or a delete lands inside it) and the two halves stay
  a valid pair of runs: the second half's left origin is the first half's last char;
- a deleted run keeps its ids and origins but drops its text (`text == ""`);
- every run is in exactly one Block and in the per-replica id index.

Theory of operation. Blocks are short Python lists of runs (at most BLOCK_MAX) with
a cached count of visible characters, so a visible position is found by skipping
whole blocks and then walking one short list. Two caches make that walk short for
an editor, which edits next to where it just edited: a block cursor (block index,
visible characters before it), kept exact by `_vis` and `_split_block`, and a run
hint set by the local edit itself (the run it ended next to and the visible
characters before that run), dropped at the next change of any visible count.
Finding a run by character id goes through a per-replica SeqIndex (seqindex.py).
Deleted neighbours that are halves of one split run are rejoined, so backspacing a
word leaves one tombstone run, not one per keystroke.
"""

from __future__ import annotations

from collections.abc import Iterator

from senate.crdt.text.records import CharId
from senate.crdt.text.seqindex import SeqIndex

BLOCK_MAX = 64  # runs per block before it splits: short enough to walk, long enough to skip


class Run:
    """Characters (agent, seq) .. (agent, seq + length - 1); see the module rules."""

    __slots__ = ("agent", "block", "deleted", "left", "length", "right", "seq", "text")

    def __init__(
        self,
        agent: str,
        seq: int,
        length: int,
        text: str,
        deleted: bool,
        left: CharId | None,
        right: CharId | None,
    ) -> None:
        self.agent = agent
        self.seq = seq
        self.length = length
        self.text = text
        self.deleted = deleted
        self.left = left
        self.right = right
        self.block: Block | None = None

    def __repr__(self) -> str:
        state = "deleted" if self.deleted else repr(self.text)
        return f"Run({self.agent}:{self.seq}+{self.length} {state} L={self.left} R={self.right})"


class Block:
    __slots__ = ("idx", "runs", "vis")

    def __init__(self, runs: list[Run], idx: int) -> None:
        self.runs = runs
        self.idx = idx
        self.vis = 0
        for r in runs:
            r.block = self
            if not r.deleted:
                self.vis += r.length


class RunList:
    """The sequence of runs with position and id lookup."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.length = 0  # visible characters
        self.index: dict[str, SeqIndex] = {}
        self._cb = 0  # cursor: a block index ...
        self._cs = 0  # ... and the visible characters before it
        self._hint: Run | None = None  # a run the last local edit ended next to ...
        self._hint_pos = 0  # ... and the visible characters before it

    # ---- reading -------------------------------------------------------------

    def runs(self) -> Iterator[Run]:
        for b in self.blocks:
            yield from b.runs

    def run_count(self) -> int:
        return sum(len(b.runs) for b in self.blocks)

    def __str__(self) -> str:
        return "".join([r.text for b in self.blocks for r in b.runs])

    def find_id(self, agent: str, seq: int) -> Run | None:
        """The run holding character (agent, seq), or None if it is not here."""
        ix = self.index.get(agent)
        return None if ix is None else ix.find(seq)

    def set_hint(self, run: Run, visible_before: int) -> None:
        """Remember that `visible_before` visible characters precede `run`.

        Valid until the next change of any visible count (see `_vis`). Editors type
        and backspace next to where they just did, so the next lookup is a short
        walk from this run instead of a scan of its block from the start.
        """
        self._hint = run
        self._hint_pos = visible_before

    def find_visible(self, pos: int) -> tuple[Block, int, int]:
        """(block, run index, offset) of the visible character at `pos` (< length)."""
        hint = self._hint
        if hint is not None and hint.block is not None:
            blk = hint.block
            runs = blk.runs
            j = runs.index(hint)
            d = pos - self._hint_pos
            if d >= 0:
                while j < len(runs):
                    r = runs[j]
                    if not r.deleted:
                        if d < r.length:
                            return blk, j, d
                        d -= r.length
                    j += 1
            else:
                while j > 0:
                    j -= 1
                    r = runs[j]
                    if not r.deleted:
                        d += r.length
                        if d >= 0:
                            return blk, j, d
        blocks = self.blocks
        bi, start = self._cb, self._cs
        if pos < start:
            while pos < start:
                bi -= 1
                start -= blocks[bi].vis
        else:
            while pos >= start + blocks[bi].vis:
                start += blocks[bi].vis
                bi += 1
        self._cb, self._cs = bi, start
        blk = blocks[bi]
        off = pos - start
        for ri, r in enumerate(blk.runs):
            if not r.deleted:
                if off < r.length:
                    return blk, ri, off
                off -= r.length
        raise AssertionError("block visible count out of sync")

    def before(self, blk: Block, ri: int) -> Run | None:
        """The run just before position `ri` of `blk` in document order."""
        if ri > 0:
            return blk.runs[ri - 1]
        bi = blk.idx
        while bi > 0:
            bi -= 1
            runs = self.blocks[bi].runs
            if runs:
                return runs[-1]
        return None

    def last(self) -> Run | None:
        for b in reversed(self.blocks):
            if b.runs:
                return b.runs[-1]
        return None

    def iter_after(self, run: Run | None) -> Iterator[Run]:
        """Runs after `run` (or from the start when None), in document order."""
        if run is None:
            bi, ri = 0, 0
        else:
            blk = run.block
            assert blk is not None
            bi, ri = blk.idx, blk.runs.index(run) + 1
        blocks = self.blocks
        while bi < len(blocks):
            runs = blocks[bi].runs
            while ri < len(runs):
                yield runs[ri]
                ri += 1
            bi += 1
            ri = 0

    def next_run(self, run: Run) -> Run | None:
        blk = run.block
        assert blk is not None
        ri = blk.runs.index(run) + 1
        if ri < len(blk.runs):
            return blk.runs[ri]
        for b in self.blocks[blk.idx + 1 :]:
            if b.runs:
                return b.runs[0]
        return None

    def covers(self, agent: str, start: int, end: int) -> bool:
        """Whether runs hold every seq of `agent` in [start, end)."""
        ix = self.index.get(agent)
        if ix is None:
            return start >= end
        cur = start
        for r in ix.runs_from(start):
            if cur >= end or r.seq > cur:
                break
            cur = r.seq + r.length
        return cur >= end

    def next_id_at_or_after(self, agent: str, seq: int) -> int | None:
        """The smallest seq >= `seq` of `agent` that some run holds, or None."""
        ix = self.index.get(agent)
        return None if ix is None else ix.next_at_or_after(seq)

    # ---- writing -------------------------------------------------------------

    def _vis(self, blk: Block, d: int) -> None:
        self._hint = None
        blk.vis += d
        self.length += d
        if blk.idx < self._cb:
            self._cs += d

    def _index_add(self, run: Run) -> None:
        ix = self.index.get(run.agent)
        if ix is None:
            ix = self.index[run.agent] = SeqIndex()
        ix.add(run)

    def insert_at(self, blk: Block | None, ri: int, run: Run) -> None:
        """Put a new run at index `ri` of `blk` (None: append to the last block)."""
        if blk is None:
            if not self.blocks:
                self.blocks.append(Block([], 0))
            blk = self.blocks[-1]
            ri = len(blk.runs)
        blk.runs.insert(ri, run)
        run.block = blk
        if not run.deleted:
            self._vis(blk, run.length)
        self._index_add(run)
        if len(blk.runs) > BLOCK_MAX:
            self._split_block(blk)

    def insert_after(self, prev: Run | None, run: Run) -> None:
        """Put a new run right after `prev` (None: at the very start)."""
        if prev is None:
            self.insert_at(self.blocks[0] if self.blocks else None, 0, run)
        else:
            blk = prev.block
            assert blk is not None
            self.insert_at(blk, blk.runs.index(prev) + 1, run)

    def extend(self, run: Run, text: str, n: int) -> None:
        """Append `n` characters (`text`, or "" for a tombstone run) to `run`."""
        run.text += text
        run.length += n
        if not run.deleted:
            blk = run.block
            assert blk is not None
            self._vis(blk, n)

    def _split_block(self, blk: Block) -> None:
        half = len(blk.runs) // 2
        moved = blk.runs[half:]
        del blk.runs[half:]
        new = Block(moved, blk.idx + 1)
        blk.vis -= new.vis
        self.blocks.insert(new.idx, new)
        for i in range(new.idx + 1, len(self.blocks)):
            self.blocks[i].idx = i
        if self._cb > blk.idx:
            self._cb += 1

    def split(self, run: Run, k: int) -> Run:
        """Cut `run` after its first `k` characters; return the new second half."""
        tail = Run(
            run.agent,
            run.seq + k,
            run.length - k,
            run.text[k:],
            run.deleted,
            (run.agent, run.seq + k - 1),
            run.right,
        )
        run.text = run.text[:k]
        run.length = k
        blk = run.block
        assert blk is not None
        blk.runs.insert(blk.runs.index(run) + 1, tail)
        tail.block = blk
        self._index_add(tail)
        if len(blk.runs) > BLOCK_MAX:
            self._split_block(blk)
        return tail

    def run_ending_at(self, cid: CharId) -> Run | None:
        """The run whose last character is `cid`, splitting if needed (None: unknown)."""
        r = self.find_id(cid[0], cid[1])
        if r is not None and cid[1] != r.seq + r.length - 1:
            self.split(r, cid[1] - r.seq + 1)
        return r

    def run_starting_at(self, cid: CharId) -> Run | None:
        """The run whose first character is `cid`, splitting if needed (None: unknown)."""
        r = self.find_id(cid[0], cid[1])
        if r is not None and cid[1] != r.seq:
            r = self.split(r, cid[1] - r.seq)
        return r

    def mark_deleted(self, run: Run) -> Run:
        """Make `run` a tombstone; return the run now holding it (merged tombstones)."""
        if run.deleted:
            return run
        run.deleted = True
        run.text = ""
        blk = run.block
        assert blk is not None
        self._vis(blk, -run.length)
        # Rejoin it with tombstone neighbours from the same split run: backspacing
        # would otherwise leave one run per deleted character.
        runs = blk.runs
        i = runs.index(run)
        if i + 1 < len(runs) and _joinable(run, runs[i + 1]):
            self._absorb(run, runs, i + 1)
        if i > 0 and _joinable(runs[i - 1], run):
            run = runs[i - 1]
            self._absorb(run, runs, i)
        return run

    def _absorb(self, run: Run, runs: list[Run], j: int) -> None:
        """Fold tombstone runs[j] into the tombstone `run` just before it."""
        nxt = runs[j]
        run.length += nxt.length
        del runs[j]
        self.index[nxt.agent].remove(nxt)
        nxt.block = None

    def rebuild(self, runs: list[Run] | None = None) -> None:
        """Re-chunk all runs into half-full blocks (after decoding or compaction)."""
        if runs is None:
            runs = [r for b in self.blocks for r in b.runs]
        size = BLOCK_MAX // 2
        self.blocks = [Block(runs[i : i + size], i // size) for i in range(0, len(runs), size)]
        self.length = sum(b.vis for b in self.blocks)
        self._cb = self._cs = 0
        self._hint = None
        self.index = {}
        by_agent: dict[str, list[Run]] = {}
        for r in runs:
            by_agent.setdefault(r.agent, []).append(r)
        for agent, rs in by_agent.items():
            rs.sort(key=lambda r: r.seq)
            self.index[agent] = SeqIndex.of(rs)


def _joinable(a: Run, b: Run) -> bool:
    """Whether tombstones a, b (adjacent, a first) are one run split in two."""
    return (
        a.deleted
        and b.deleted
        and a.agent == b.agent
        and a.seq + a.length == b.seq
        and b.left == (a.agent, b.seq - 1)
        and a.right == b.right
    )
