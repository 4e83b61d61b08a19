"""Membership as a function of the log: one server at a time (Raft thesis ch. 4).

Rules this file keeps:
- a configuration takes effect on every node as soon as its CONF_CHANGE entry is
  in that node's log (appended, not committed: thesis 4.1), and is undone if that
  entry is truncated away. So the current membership is always "the snapshot's
  membership, then every CONF_CHANGE entry in the log, in order";
- `apply_change` is a pure function of (membership, change): a change that does
  not apply (promote a voter, remove a stranger) leaves membership unchanged, the
  same way on every node, so logs never disagree about membership;
- the log is self-describing (etcd's rule: the initial configuration is in the
  log). A fresh cluster's first leader (empty log, no snapshot) writes, as entry
  1 and instead of its NOOP, a CONF_BOOTSTRAP entry carrying the full membership
  (voters and learners) it was started with; every founding node is started with
  the same --cluster, so whichever wins writes the same one. Replay treats that
  entry as a reset: the membership at its index is the one it carries, whatever
  base the node was constructed with. Without it a joiner (whose base is only
  what --cluster says *now*) would replay the history on the wrong initial
  voters: e.g. an unpromoted learner listed in --cluster would count as a voter
  (its ADD_LEARNER skipped as "already a member"), and quorums could be disjoint.
  A joiner that gets a snapshot instead takes the snapshot's membership. A
  joiner never campaigns before a PROMOTE of its own id (it is in no base and in
  no bootstrap), so the reset never makes it a candidate. Logs written before
  this rule have no such entry and replay on the base exactly as before.
"""

from __future__ import annotations

import msgpack

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, EntryKind, Membership
from senate.errors import MalformedInput


def encode_bootstrap(m: Membership) -> bytes:
    return msgpack.packb(m.to_obj())


def decode_bootstrap(data: bytes) -> Membership:
    """The membership a CONF_BOOTSTRAP entry carries; MalformedInput on garbage."""
    try:
        obj = msgpack.unpackb(data)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise MalformedInput(f"bad bootstrap entry: {data!r}") from exc
    m = Membership.from_obj(obj)
    if not m.voters or m.voters & m.learners:
        raise MalformedInput(f"bad bootstrap entry: {data!r}")
    return m


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
    """(index, membership) for the base (snapshot) and each CONF_CHANGE or
    CONF_BOOTSTRAP in the log."""

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
        """Account for entries just appended (after any truncation); True if changed."""
        changed = False
        for entry in entries:
            if entry.kind == EntryKind.CONF_CHANGE:
                self.steps.append(
                    (entry.index, apply_change(self.current, ConfChange.decode(entry.data)))
                )
                changed = True
            elif entry.kind == EntryKind.CONF_BOOTSTRAP:
                # Replaces, not amends: the base may be a joiner's guess from --cluster.
                self.steps.append((entry.index, decode_bootstrap(entry.data)))
                changed = True
        return changed

    def truncate_from(self, index: int) -> bool:
        """Entries from `index` on left the log; True if that undid a change."""
        changed = False
        while len(self.steps) > 1 and self.steps[-1][0] >= index:
            self.steps.pop()
            changed = True
        return changed

    def at(self, index: int) -> Membership:
        for step_index, membership in reversed(self.steps):
            if step_index <= index:
                return membership
        return self.steps[0][1]

    def compact(self, index: int) -> None:
        """The log up to `index` is now a snapshot: its membership becomes the base."""
        base = self.at(index)
        self.steps = [(index, base)] + [s for s in self.steps if s[0] > index]
