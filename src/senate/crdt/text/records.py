"""The operations a Text replica ships: insert runs and delete runs, and the delta holding them.

Rules kept in this file:
- a character id is (replica, seq) with seq counted from 0; it is the dot
  (replica, seq + 1) of senate.clocks, so a version vector entry n means seqs 0..n-1;
- every operation consumes consecutive seqs of its replica: an insert of n characters
  takes n seqs (one per character), a delete of n characters takes n seqs too;
- an InsertRun is n characters typed left to right: the first has origins
  (left, right), every later one has the previous character as its left origin and
  the same right origin (this is what lets a run travel and sit in memory as one);
- a DeleteRun deletes a set of character ids, given as (replica, seq, length) ranges;
  it is applied whole and is idempotent, so re-sending it is harmless;
- records are immutable NamedTuples: cheap to build on every keystroke.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

CharId = tuple[str, int]


class InsertRun(NamedTuple):
    """`length` characters with ids (agent, seq) .. (agent, seq + length - 1).

    `text` holds the characters, or is "" when the run travels as a tombstone
    (`deleted`): a deleted character's content is never needed again.
    """

    agent: str
    seq: int
    length: int
    text: str
    deleted: bool
    left: CharId | None
    right: CharId | None


class DeleteRun(NamedTuple):
    """The ops (agent, seq) .. (agent, seq + length - 1), deleting `targets`."""

    agent: str
    seq: int
    length: int
    targets: tuple[tuple[str, int, int], ...]


@dataclass(slots=True)
class TextDelta:
    """An update: what a local mutator returns and what `merge` accepts.

    A delta is a bag of operations; merging it twice, or merging its operations in
    any order, has the same effect as merging it once in causal order.
    """

    inserts: list[InsertRun] = field(default_factory=list)
    deletes: list[DeleteRun] = field(default_factory=list)

    def encode(self) -> bytes:
        from senate.crdt.text.codec import encode_update

        return encode_update(self)

    def merge(self, other: TextDelta) -> None:
        """Join another delta into this one (a delta-group: the union of the ops)."""
        self.inserts.extend(other.inserts)
        self.deletes.extend(other.deletes)

    def copy(self) -> TextDelta:
        return TextDelta(list(self.inserts), list(self.deletes))

    def is_empty(self) -> bool:
        return not self.inserts and not self.deletes

    def __len__(self) -> int:
        """Number of operations (one per seq) the delta carries."""
        return sum(r.length for r in self.inserts) + sum(d.length for d in self.deletes)
