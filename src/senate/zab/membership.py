"""Membership as a function of the history: one server at a time.

Rules this file keeps:
- a configuration takes effect on a node as soon as its CONF_CHANGE entry is in
  that node's history (appended, not committed), and is undone if a TRUNC or a
  SNAP removes that entry. The current membership is "the snapshot's membership,
  then every CONF_CHANGE entry in the history, in order";
- `apply_change` is a pure function: a change that does not apply (promote a
  voter, remove a stranger, remove the last voter) changes nothing, the same way
  on every node.
"""

from __future__ import annotations

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, EntryKind, Membership


def apply_change(m: Membership, cc: ConfChange) -> Membership:
    if cc.op == ConfChangeOp.ADD_LEARNER:
        if cc.node in m.members:
            return m
        return Membership(m.voters, m.learners | {cc.node})
    if cc.op == ConfChangeOp.PROMOTE:
        if cc.node not in m.learners:
            return m
        return Membership(m.voters | {cc.node}, m.learners - {cc.node})
    if cc.node not in m.members or m.voters == {cc.node}:
        return m
    return Membership(m.voters - {cc.node}, m.learners - {cc.node})


class ConfHistory:
    """(index, membership) for the base (snapshot) and each CONF_CHANGE in the history."""

    __slots__ = ("steps",)

    def __init__(self, base_index: int, base: Membership) -> None:
        self.steps: list[tuple[int, Membership]] = [(base_index, base)]

    @property
    def current(self) -> Membership:
        return self.steps[-1][1]

    @property
    def last_change_index(self) -> int:
        return self.steps[-1][0]

    def on_append(self, entries: list[Entry] | tuple[Entry, ...]) -> bool:
        changed = False
        for entry in entries:
            if entry.kind == EntryKind.CONF_CHANGE:
                cc = ConfChange.decode(entry.data)
                self.steps.append((entry.index, apply_change(self.current, cc)))
                changed = True
        return changed

    def truncate_after(self, index: int) -> bool:
        """Entries after `index` left the history; True if that undid a change."""
        changed = False
        while len(self.steps) > 1 and self.steps[-1][0] > index:
            self.steps.pop()
            changed = True
        return changed

    def at(self, index: int) -> Membership:
        for step_index, membership in reversed(self.steps):
            if step_index <= index:
                return membership
        return self.steps[0][1]

    def compact(self, index: int) -> None:
        base = self.at(index)
        self.steps = [(index, base)] + [s for s in self.steps if s[0] > index]
