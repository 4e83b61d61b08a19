"""Safety properties checked while the simulation runs, after every step.

Rules this file keeps:
- Each check is incremental (work proportional to what just changed), so checking
  after every event stays cheap; the first violation stops the run with the sim
  time and a description (`Violation`).
- The properties (Raft paper, figure 3, phrased engine-neutrally):
  1. election safety: at most one leader per term (from `engine.status()`);
  2. log matching: if two logs hold an entry with the same index and term, the
     entries are equal and so are all entries before them. Checked by remembering,
     for every (index, term) ever written by any node, the entry and the term of
     the entry before it; by induction on the index this covers the whole prefix;
  3. a committed entry never changes: no node commits or applies at an index an
     entry different from one committed or applied there before, and no node
     truncates its log at or below its own commit index;
  4. state machine safety: no two nodes apply different entries at one index, and
     each node applies indexes in order without gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from senate.consensus.types import Entry, Role, Status


@dataclass(slots=True, frozen=True)
class Violation:
    time_us: int
    node: str
    kind: str
    description: str

    def __str__(self) -> str:
        return f"t={self.time_us / 1e6:.6f}s {self.node}: {self.kind}: {self.description}"


class ViolationFound(Exception):
    """Raised to stop the run at the first broken invariant."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation


@dataclass(slots=True)
class Invariants:
    leaders: dict[int, str] = field(default_factory=dict)  # term -> leader id
    # (index, term) -> (entry, term of the entry before it)
    written: dict[tuple[int, int], tuple[Entry, int | None]] = field(default_factory=dict)
    chosen: dict[int, Entry] = field(default_factory=dict)  # committed or applied, by index
    commit_index: dict[str, int] = field(default_factory=dict)  # per node, what it knows
    applied_index: dict[str, int] = field(default_factory=dict)
    now: int = 0
    # Called with (node, term) the first time a node is seen leading a term: the
    # nemesis uses it to aim faults at fresh leaders.
    on_new_leader: Callable[[str, int], None] | None = None
    # Called with (node, term) when a leader first advances its commit index in a
    # term: the moment a new leader has just decided something.
    on_leader_commit: Callable[[str, int], None] | None = None
    _first_commits: set[int] = field(default_factory=set)

    def fail(self, node: str, kind: str, description: str) -> None:
        raise ViolationFound(Violation(self.now, node, kind, description))

    def on_status(self, status: Status) -> None:
        if status.role is Role.LEADER:
            other = self.leaders.get(status.term)
            if other is None:
                self.leaders[status.term] = status.id
                if self.on_new_leader is not None:
                    self.on_new_leader(status.id, status.term)
            elif other != status.id:
                self.fail(
                    status.id,
                    "election safety",
                    f"two leaders in term {status.term}: {other} and {status.id}",
                )

    def on_write(self, node: str, entries: list[Entry], prev_terms: list[int | None]) -> None:
        """`entries` were just written to `node`'s log; prev_terms[i] is the term at
        entries[i].index - 1 in that log (None if not known, e.g. compacted away)."""
        if not entries:
            return
        commit = self.commit_index.get(node, 0)
        if entries[0].index <= commit:
            for e in entries:
                old = self.chosen.get(e.index)
                if e.index > commit:
                    break
                if old is not None and old != e:
                    self.fail(
                        node,
                        "committed entry changed",
                        f"log overwritten at {e.index} <= commit {commit}: "
                        f"{_show(old)} -> {_show(e)}",
                    )
        written = self.written
        for e, prev in zip(entries, prev_terms, strict=True):
            if prev is not None and e.term < prev:
                self.fail(node, "log matching", f"term goes down at {e.index}: {prev} -> {e.term}")
            key = (e.index, e.term)
            seen = written.get(key)
            if seen is None:
                written[key] = (e, prev)
                continue
            if seen[0] != e:
                self.fail(
                    node,
                    "log matching",
                    f"two entries at index {e.index} term {e.term}: {_show(seen[0])} vs {_show(e)}",
                )
            if prev is not None and seen[1] is not None and seen[1] != prev:
                self.fail(
                    node,
                    "log matching",
                    f"entry {e.index}/{e.term} follows term {prev} here, {seen[1]} elsewhere",
                )

    def on_commit(self, node: str, commit: int, entries: list[Entry | None]) -> None:
        """`node` now knows entries up to `commit` committed; `entries` are its log
        entries from its previous commit + 1 (None where compacted)."""
        for e in entries:
            if e is not None:
                self._choose(node, e, "commit")
        self.commit_index[node] = max(self.commit_index.get(node, 0), commit)

    def leader_committed(self, status: Status) -> None:
        if status.role is Role.LEADER and status.term not in self._first_commits:
            self._first_commits.add(status.term)
            if self.on_leader_commit is not None:
                self.on_leader_commit(status.id, status.term)

    def on_apply(self, node: str, e: Entry) -> None:
        last = self.applied_index.get(node, 0)
        if e.index != last + 1:
            self.fail(node, "apply order", f"applied {e.index} after {last}")
        self.applied_index[node] = e.index
        self._choose(node, e, "apply")

    def on_restore(self, node: str, index: int) -> None:
        """The node's state machine was reset to a snapshot at `index`."""
        self.applied_index[node] = index

    def on_restart(self, node: str, durable_commit: int, snapshot_index: int) -> None:
        self.commit_index[node] = durable_commit
        self.applied_index[node] = snapshot_index

    def _choose(self, node: str, e: Entry, how: str) -> None:
        old = self.chosen.setdefault(e.index, e)
        if old != e:
            self.fail(
                node,
                "state machine safety",
                f"{how} at index {e.index} of {_show(e)}, but {_show(old)} was chosen there",
            )


def _show(e: Entry) -> str:
    data = e.data if len(e.data) <= 40 else e.data[:40] + b"..."
    return f"[{e.index}/{e.term} {e.kind.name} {data!r}]"
