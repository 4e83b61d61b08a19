"""Admission of remote ops: what a merge will apply, park or refuse, decided before it
changes anything.

Rules kept in this file:
- `plan` decides and doc.py executes the Plan without further checks, so a merge
  that is refused changes nothing (the one thing `plan` touches, the heaps of
  waiting ops it wakes, it puts back when it refuses);
- an op is refused (CRDTError) when it can never become valid, whatever arrives later:
    * it references its own replica's present or future (an origin or delete target
      at or after its own seq: no author can have seen it),
    * one update claims a seq of one replica both as an insert and as a delete (an
      update and a waiting op that disagree so are sorted out when the first of
      them applies: the other is then refused, or dropped if it was waiting),
    * an origin or delete target is a seq that is (or is known to become) a delete
      op, not a character,
    * part of it is already applied here as the other kind of op,
    * the ops still waiting after the merge would wait on each other in a cycle
      (nothing can ever arrive that lets any of them go first),
    * the waiting buffer would pass MAX_PENDING ops;
- an op that waited in the buffer and turns out invalid when its dependencies
  arrive is dropped (the update that revealed it is fine and is applied).

Theory of operation. The planner replays the merge on a shadow of the version vector:
an op whose dependencies are all applied (or applied earlier in this replay) is
checked and "applied" in the shadow, which wakes the ops waiting on its replica, as
doc.py's merge loop does. What is left waits. Those ops must not form a cycle: op O
depends on every waiting op that covers a seq O needs (its replica's earlier seqs,
its origins, its delete targets) above the shadow version. Without a cycle, every
waiting op drains once the seqs no received op covers (`wanted`) are delivered, in
whatever order: the property tests/crdt/test_text_admit.py checks.

Limits. The cycle search from the new waiting ops visits at most CYCLE_SEARCH waiting
ops per merge (a late joiner of a long session parks tens of thousands of honest ops,
and a full search per merge would be quadratic): a cycle through more waiting ops than
that is not refused; its ops stay in the bounded buffer, and `wanted` then names no
seq that would free them. Forged ops (well-formed ops that claim another replica's id) are out of
scope: Text has no authentication, and a replica that accepts a forged op keeps it.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from senate.crdt.text.records import DeleteRun, InsertRun
from senate.errors import CRDTError

if TYPE_CHECKING:
    from senate.crdt.text.doc import Text

Op = InsertRun | DeleteRun
MAX_PENDING = 100_000  # ops a replica keeps waiting (a late joiner of a long session needs many)


@dataclass(slots=True)
class Plan:
    apply: list[Op] = field(default_factory=list)  # in this order, each ready when reached
    park: list[Op] = field(default_factory=list)  # new ops, and woken old ones, that wait
    woken: list[Op] = field(default_factory=list)  # old waiting ops taken off their heaps


def refs(op: Op) -> list[tuple[str, int, int]]:
    """(replica, start, end) seq ranges `op` needs applied (besides its own replica's
    earlier seqs)."""
    if isinstance(op, InsertRun):
        return [(o[0], o[1], o[1] + 1) for o in (op.left, op.right) if o is not None]
    return [(a, s, s + m) for a, s, m in op.targets]


def check_static(op: Op) -> None:
    """What is wrong with `op` on its own, whatever the document holds."""
    name = f"{op.agent}:{op.seq}"
    if op.seq < 0 or op.length < 1:
        raise CRDTError(f"op {name} has a negative seq or an empty length")
    if isinstance(op, InsertRun):
        if (op.deleted and op.text) or (not op.deleted and len(op.text) != op.length):
            raise CRDTError(f"insert {name}: its text does not match its length")
        if op.left is not None and op.left == op.right:
            raise CRDTError(f"insert {name}: its left and right origins are one character")
        for o in (op.left, op.right):
            if o is not None and (o[1] < 0 or (o[0] == op.agent and o[1] >= op.seq)):
                raise CRDTError(
                    f"insert {name} is anchored on {o[0]}:{o[1]}, which its author cannot "
                    "have seen (its own replica's present or future)"
                )
    else:
        for a, s, m in op.targets:
            if s < 0 or m < 1:
                raise CRDTError(f"delete {name} has an empty or negative target range")
            if a == op.agent and s + m > op.seq:
                raise CRDTError(
                    f"delete {name} targets {a}:{s}+{m}, which its author cannot have seen "
                    "(its own replica's present or future)"
                )


def _seq(op: Op) -> int:
    return op.seq


def _kind(op: Op) -> str:
    return "insert" if isinstance(op, InsertRun) else "delete"


def check_kinds(ops: list[Op]) -> None:
    """Refuse ops that claim one seq both as an insert and as a delete."""
    by_agent: dict[str, list[Op]] = {}
    for op in ops:
        by_agent.setdefault(op.agent, []).append(op)
    for agent, group in by_agent.items():
        if len(group) == 1:
            continue
        group.sort(key=lambda o: o.seq)
        ends = {"insert": -1, "delete": -1}
        for op in group:
            mine = _kind(op)
            other = "delete" if mine == "insert" else "insert"
            if op.seq < ends[other]:
                raise CRDTError(f"ops claim seq {agent}:{op.seq} both as an insert and as a delete")
            ends[mine] = max(ends[mine], op.seq + op.length)


class _Shadow:
    """The document's version and characters as the replay has advanced them."""

    def __init__(self, doc: Text) -> None:
        self.doc = doc
        self.vv = doc._vv
        self.ahead: dict[str, int] = {}  # advanced entries
        self.new_chars: dict[str, list[tuple[int, int]]] = {}  # inserted in the replay
        self.new_starts: dict[str, list[int]] = {}  # their starts

    def have(self, agent: str) -> int:
        got = self.ahead.get(agent)
        return self.vv.get(agent, 0) if got is None else got

    def missing(self, op: Op, have: int) -> tuple[str, int] | None:
        if op.seq > have:
            return (op.agent, op.seq)
        for a, _, end in refs(op):
            if self.have(a) < end:
                return (a, end)
        return None

    def all_chars(self, agent: str, start: int, end: int) -> bool:
        """Every seq in [start, end) (all applied) is a character."""
        base = self.vv.get(agent, 0)
        if start < base and not self.doc._rl.covers(agent, start, min(end, base)):
            return False
        cur = max(start, base)
        if cur >= end:
            return True
        ranges = self.new_chars.get(agent)
        if not ranges:
            return False
        starts = self.new_starts[agent]
        i = bisect_right(starts, cur) - 1
        if i < 0:
            return False
        while i < len(ranges) and cur < end:
            s, e = ranges[i]
            if s > cur or e <= cur:
                return False
            cur = e
            i += 1
        return cur >= end

    def no_chars(self, agent: str, start: int, end: int) -> bool:
        """No seq in [start, end) (all applied) is a character."""
        base = self.vv.get(agent, 0)
        if start < base:
            nxt = self.doc._rl.next_id_at_or_after(agent, start)
            if nxt is not None and nxt < min(end, base):
                return False
        ranges = self.new_chars.get(agent)
        if not ranges:
            return True
        i = max(0, bisect_right(self.new_starts[agent], start) - 1)
        while i < len(ranges) and ranges[i][0] < end:
            if ranges[i][1] > start:
                return False
            i += 1
        return True

    def problem(self, op: Op, have: int) -> str | None:
        """Why the ready `op` cannot be applied, or None."""
        name = f"{_kind(op)} {op.agent}:{op.seq}"
        if op.seq < have:
            ok = (
                self.all_chars(op.agent, op.seq, have)
                if isinstance(op, InsertRun)
                else self.no_chars(op.agent, op.seq, have)
            )
            if not ok:
                return f"{name} overlaps seqs applied here as the other kind of op"
        for a, s, e in refs(op):
            if not self.all_chars(a, s, e):
                return f"{name} references {a}:{s}..{e - 1}, which is not all characters"
        return None

    def advance(self, op: Op, have: int) -> None:
        end = op.seq + op.length
        if isinstance(op, InsertRun):  # ranges are appended in seq order, disjoint
            self.new_chars.setdefault(op.agent, []).append((have, end))
            self.new_starts.setdefault(op.agent, []).append(have)
        self.ahead[op.agent] = end


def plan(doc: Text, ops: list[Op]) -> Plan:
    """Decide what merging `ops` into `doc` does; raise CRDTError to refuse it all.

    The one change it makes: the document's waiting ops that the merge wakes are
    popped from their heaps into `Plan.woken` (put back if the update is refused).
    """
    woken: list[tuple[str, tuple[int, int, Op]]] = []
    try:
        return _plan(doc, ops, woken)
    except CRDTError:
        for agent, entry in woken:
            heapq.heappush(doc._waiting.setdefault(agent, []), entry)
        raise


def _plan(doc: Text, ops: list[Op], woken: list[tuple[str, tuple[int, int, Op]]]) -> Plan:
    for op in ops:
        check_static(op)
    check_kinds(list(ops))
    shadow = _Shadow(doc)
    out = Plan()
    # Ops parked in this replay: id -> (op, is new); and the heaps that wake them.
    # The document's buffer joins in (it is small, and empty unless ops came early).
    parked: dict[int, tuple[Op, bool]] = {}
    heaps: dict[str, list[tuple[int, int, int]]] = {}
    tick = 0
    work: list[tuple[Op, bool]] = [(op, True) for op in reversed(ops)]
    while work:
        op, new = work.pop()
        have = shadow.have(op.agent)
        if op.seq + op.length <= have:
            continue  # already applied (an old waiting op is thereby dropped)
        need = shadow.missing(op, have)
        if need is not None:
            tick += 1
            parked[id(op)] = (op, new)
            heapq.heappush(heaps.setdefault(need[0], []), (need[1], tick, id(op)))
            continue
        why = shadow.problem(op, have)
        if why is not None:
            if new:
                raise CRDTError(f"refused update: {why}")
            continue  # an old waiting op that can never apply: dropped
        out.apply.append(op)
        shadow.advance(op, have)
        now = shadow.have(op.agent)
        heap = heaps.get(op.agent)
        while heap and heap[0][0] <= now:
            ready = parked.pop(heapq.heappop(heap)[2], None)
            if ready is not None:
                work.append(ready)
        old_heap = doc._waiting.get(op.agent)
        while old_heap and old_heap[0][0] <= now:
            entry = heapq.heappop(old_heap)
            woken.append((op.agent, entry))
            work.append((entry[2], False))
    # What waits afterwards: the new ops parked here, the woken old ones parked again,
    # and the old ones not woken.
    out.park = [op for op, _ in parked.values()]
    out.woken = [entry[2] for _, entry in woken]
    fresh = [op for op, new in parked.values() if new]
    pending = doc.pending_count() + len(out.park)
    if pending > MAX_PENDING:
        raise CRDTError(
            f"refused update: {pending} ops would wait for their dependencies "
            f"(at most {MAX_PENDING})"
        )
    if fresh:
        _check_parked(shadow, doc, fresh, out.park)
    return out


CYCLE_SEARCH = 16  # waiting ops one merge's cycle search may visit (see the docstring)


def _check_parked(shadow: _Shadow, doc: Text, fresh: list[Op], parked: list[Op]) -> None:
    """Refuse new waiting ops that reference a delete or wait in a cycle."""
    extra: dict[str, list[Op]] = {}
    for op in parked:
        extra.setdefault(op.agent, []).append(op)

    cache: dict[str, list[tuple[list[Op], list[int]]]] = {}

    def groups(agent: str) -> list[tuple[list[Op], list[int]]]:
        """The ops of `agent` waiting before this merge and parked by it, each by seq
        (ops this merge applied or dropped may still be listed: their dependencies
        are met, so they add no edge)."""
        got = cache.get(agent)
        if got is None:
            got = []
            if agent in doc._held:
                got.append((doc._held[agent], doc._held_seqs[agent]))
            more = sorted(extra.get(agent, []), key=_seq)
            if more:
                got.append((more, [o.seq for o in more]))
            cache[agent] = got
        return got

    for op in fresh:
        for a, s, e in refs(op):
            have = shadow.have(a)
            if s < have and not shadow.all_chars(a, s, min(e, have)):
                raise CRDTError(
                    f"refused update: {_kind(op)} {op.agent}:{op.seq} references "
                    f"{a}:{s}..{min(e, have) - 1}, which is not all characters"
                )
            for ops, starts in groups(a):
                i = bisect_left(starts, e) - 1
                while i >= 0:  # the waiting ops that overlap [s, e)
                    other = ops[i]
                    if isinstance(other, DeleteRun) and s < other.seq + other.length:
                        raise CRDTError(
                            f"refused update: {_kind(op)} {op.agent}:{op.seq} references "
                            f"{a}:{max(s, other.seq)}, which a waiting op claims as a "
                            "delete op, not a character"
                        )
                    if other.seq < s:
                        break
                    i -= 1

    def targets(op: Op) -> list[Op]:
        """The waiting ops `op` depends on (enough edges to find every cycle)."""
        out: list[Op] = []
        ranges = [(a, e) for a, _, e in refs(op)]
        if op.seq > shadow.have(op.agent):
            ranges.append((op.agent, op.seq))
        for a, end in ranges:
            have = shadow.have(a)
            if end <= have:
                continue
            for ops, starts in groups(a):
                i = bisect_left(starts, end) - 1  # the op of `a` starting last before end
                if i < 0:
                    continue
                q = ops[i]
                if q.seq > have:
                    out.append(q)  # q depends on the ones before it in turn
                    continue
                while i >= 0 and ops[i].seq + ops[i].length > have:
                    out.append(ops[i])  # ops overlapping the applied boundary: each counts
                    i -= 1
        return out

    state: dict[int, int] = {}  # 1 on the stack, 2 done
    budget = CYCLE_SEARCH
    for root in fresh:
        if state.get(id(root)):
            continue
        stack: list[tuple[Op, list[Op]]] = [(root, targets(root))]
        state[id(root)] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[id(node)] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            mark = state.get(id(nxt))
            if mark == 1:
                raise CRDTError(
                    f"refused update: {_kind(nxt)} {nxt.agent}:{nxt.seq} would wait for "
                    "itself through a cycle of dependencies"
                )
            if mark is None:
                budget -= 1
                if budget < 0:
                    return  # see the module docstring: long chains are not searched
                state[id(nxt)] = 1
                stack.append((nxt, targets(nxt)))
