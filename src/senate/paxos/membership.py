"""Membership as a function of the log: one server at a time.

Rules this file keeps:
- a CONF_CHANGE entry at slot i governs the slots after it: the configuration of
  slot j is "the snapshot's membership, then every CONF_CHANGE at a slot < j".
  It takes effect on a node as soon as the entry is in that node's log and is
  undone if the entry is truncated away (`truncate_from`);
- `apply_change` is a pure function of (membership, change): a change that does
  not apply leaves membership unchanged, the same way on every node.
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
        return m  # never remove the last voter
    return Membership(m.voters - {cc.node}, m.learners - {cc.node})


class ConfHistory:
    """(index, membership) for the base (snapshot) and each CONF_CHANGE in the log."""

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
                self.steps.append(
                    (entry.index, apply_change(self.current, ConfChange.decode(entry.data)))
                )
                changed = True
        return changed

    def truncate_from(self, index: int) -> bool:
        changed = False
        while len(self.steps) > 1 and self.steps[-1][0] >= index:
            self.steps.pop()
            changed = True
        return changed

    def at(self, index: int) -> Membership:
        """Membership after every change at a slot <= index (it governs slot index + 1)."""
        for step_index, membership in reversed(self.steps):
            if step_index <= index:
                return membership
        return self.steps[0][1]

    def after(self, index: int) -> list[tuple[int, Membership]]:
        """The changes at slots > index, in order."""
        return [s for s in self.steps[1:] if s[0] > index]

    def compact(self, index: int) -> None:
        base = self.at(index)
        self.steps = [(index, base)] + [s for s in self.steps if s[0] > index]
