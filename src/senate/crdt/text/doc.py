"""Text: a replicated string (sequence CRDT) with FugueMax ordering and run-length storage.

Rules kept in this file:
- local mutators (insert, delete) pick ids and origins and return the delta; nothing
  else creates ids; the replica's own seqs are consecutive across inserts and deletes;
- `merge` is the only way remote state enters; it accepts deltas and whole replicas
  in any order, any number of times: an op already covered by the version vector is
  skipped, an op whose dependencies are missing waits, keyed by the one dependency
  it needs next, and is retried when that replica's entry advances;
- the version vector is exact: entry n for replica r means ops r:0 .. r:n-1 are all
  applied (never "some of them"), so deltas can be cut by version;
- tombstones are compacted only by `compact`, under the rule documented there, into
  placeholders that keep their ids resolvable; `stable_version` finds the cut from
  peers' acknowledgments;
- `merge` refuses (CRDTError, nothing changed) what can never become valid; what it
  keeps waiting is bounded and cannot wait forever once the missing seqs arrive
  (admit.py).

Theory of operation. A local insert at visible position p goes just before the
visible character now at p (after any tombstones before it): its left origin is the
character (maybe a tombstone) just before that point, its right origin the visible
character at p (None at the end). Typing forward therefore always has the previous
keystroke as left origin and the same right origin, so it extends the same run in
place. A remote op waits until (a) its replica's previous ops are applied and (b)
both origins (for an insert) or all targets (for a delete) are present, then
fugue.py places it. A delete op is a DeleteRun: the target id ranges plus its own
seqs, kept in a per-replica log so `delta_since` can resend it.

Dependencies a remote op waits for:   insert: the replica's earlier ops, both origins;
                                      delete: the replica's earlier ops, every target.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping

from senate.clocks import VersionVector
from senate.crdt.text.admit import plan, refs
from senate.crdt.text.fugue import EXTEND_MAX, integrate
from senate.crdt.text.records import CharId, DeleteRun, InsertRun, TextDelta
from senate.crdt.text.runs import Run, RunList
from senate.errors import CRDTError

VersionLike = VersionVector | Mapping[str, int]
Op = InsertRun | DeleteRun


MAX_REPLICA_ID = 256  # the limit senate.clocks puts on replica ids in version vectors


def _plain(version: VersionLike) -> dict[str, int]:
    return {str(k): int(v) for k, v in version.items()}


def check_replica(replica: object) -> str:
    if not isinstance(replica, str) or not 0 < len(replica) <= MAX_REPLICA_ID:
        raise CRDTError(
            f"a Text replica id must be a string of 1..{MAX_REPLICA_ID} characters, "
            f"got {replica!r:.80}"
        )
    return replica


class Text:
    """A text replica. See the package docstring for the API."""

    def __init__(self, replica: str) -> None:
        self.replica = check_replica(replica)
        self._rl = RunList()
        self._vv: dict[str, int] = {}
        self._floor: dict[str, int] = {}  # compacted below this: see compact()
        # peer -> (ack usable for the stable cut, latest ack): see stable_version()
        self._acks: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
        self._dels: dict[str, list[DeleteRun]] = {}
        # replica -> heap of (count needed, tiebreak, op): ops waiting for that entry
        self._waiting: dict[str, list[tuple[int, int, Op]]] = {}
        # replica -> its waiting ops by seq (and their seqs): for admit.py's checks
        self._held: dict[str, list[Op]] = {}
        self._held_seqs: dict[str, list[int]] = {}
        self._tick = 0

    # ---- reading -------------------------------------------------------------

    def __str__(self) -> str:
        return str(self._rl)

    def __len__(self) -> int:
        return self._rl.length

    @property
    def value(self) -> str:
        """The text (the same as str(self)), as the other Senate CRDTs name it."""
        return str(self._rl)

    def copy(self) -> Text:
        """An independent copy with the same replica id and state."""
        from senate.crdt.text.codec import decode_doc, encode_doc

        return decode_doc(encode_doc(self))

    def __repr__(self) -> str:
        return f"Text(replica={self.replica!r}, length={len(self)}, runs={self.run_count()})"

    @property
    def version(self) -> VersionVector:
        """What this replica has applied: entry n for r means ops r:1..n (dots)."""
        return VersionVector(self._vv)

    def run_count(self) -> int:
        return self._rl.run_count()

    def pending_count(self) -> int:
        """Remote ops received but waiting for their dependencies."""
        return sum(len(h) for h in self._waiting.values())

    # ---- local mutators ------------------------------------------------------

    def insert(self, pos: int, text: str) -> TextDelta:
        """Insert `text` so that its first character ends up at visible index `pos`."""
        rl = self._rl
        if not isinstance(text, str) or not _is_int(pos):
            raise CRDTError(f"insert takes an int and a str, got {pos!r:.40}, {text!r:.40}")
        if not 0 <= pos <= rl.length:
            raise CRDTError(f"insert position {pos} is outside 0..{rl.length}")
        n = len(text)
        if n == 0:
            return TextDelta()
        me = self.replica
        seq = self._vv.get(me, 0)
        blk = None
        ri = 0
        right: CharId | None
        rrun: Run | None = None  # the run starting at `right`
        if pos == rl.length:
            prev = rl.last()
            right = None
        else:
            blk, ri, k = rl.find_visible(pos)
            rrun = blk.runs[ri]
            right = (rrun.agent, rrun.seq + k)
            if k:
                prev = rrun
                rrun = rl.split(rrun, k)
                blk = None  # the split may have moved blocks: insert after `prev`
            else:
                prev = rl.before(blk, ri)
        left = None if prev is None else (prev.agent, prev.seq + prev.length - 1)
        if (
            prev is not None
            and prev.agent == me
            and prev.seq + prev.length == seq
            and not prev.deleted
            and prev.right == right
            and prev.length < EXTEND_MAX
        ):
            rl.extend(prev, text, n)
        else:
            new = Run(me, seq, n, text, False, left, right)
            if blk is not None:
                rl.insert_at(blk, ri, new)
            elif right is None:
                rl.insert_at(None, 0, new)  # None: append at the very end
            else:
                rl.insert_after(prev, new)
        if rrun is not None:
            rl.set_hint(rrun, pos + n)
        self._vv[me] = seq + n
        return TextDelta([InsertRun(me, seq, n, text, False, left, right)])

    def delete(self, pos: int, n: int = 1) -> TextDelta:
        """Delete the `n` visible characters starting at visible index `pos`."""
        rl = self._rl
        if not _is_int(pos) or not _is_int(n) or n < 0 or not 0 <= pos <= rl.length - n:
            raise CRDTError(f"cannot delete {n} characters at {pos} of {rl.length}")
        if n == 0:
            return TextDelta()
        blk, ri, k = rl.find_visible(pos)
        run: Run | None = blk.runs[ri]
        assert run is not None
        if k:
            run = rl.split(run, k)
        targets: list[tuple[str, int, int]] = []
        remaining = n
        first: Run | None = None
        while remaining:
            assert run is not None
            if not run.deleted:
                if run.length > remaining:
                    rl.split(run, remaining)
                remaining -= run.length
                if targets and targets[-1][0] == run.agent and (
                    targets[-1][1] + targets[-1][2] == run.seq
                ):
                    a, s, m = targets[-1]
                    targets[-1] = (a, s, m + run.length)
                else:
                    targets.append((run.agent, run.seq, run.length))
                run = rl.mark_deleted(run)
                if first is None:
                    first = run
            if remaining:
                run = rl.next_run(run)
        assert first is not None
        rl.set_hint(first, pos)
        me = self.replica
        seq = self._vv.get(me, 0)
        op = DeleteRun(me, seq, n, tuple(targets))
        self._log_delete(op)
        self._vv[me] = seq + n
        return TextDelta(deletes=[op])

    def fork(self, replica: str) -> Text:
        """An independent replica with id `replica` and this replica's state."""
        if check_replica(replica) == self.replica:
            raise CRDTError("fork needs a replica id different from the original's")
        twin = self.copy()
        twin.replica = replica
        return twin

    # ---- merging -------------------------------------------------------------

    def merge(self, other: Text | TextDelta) -> None:
        """Join a delta or a whole replica into this one (idempotent, any order)."""
        if isinstance(other, Text):
            for agent, floor in other._floor.items():
                if self._vv.get(agent, 0) < floor:
                    raise CRDTError(
                        f"cannot merge replica {other.replica!r}: it compacted tombstones of "
                        f"{agent!r} below {floor} that this replica never saw; fork or "
                        "decode it instead"
                    )
            delta = other._state_delta()
        elif isinstance(other, TextDelta):
            delta = other
        else:
            raise CRDTError(f"merge takes a Text or a TextDelta, got {type(other).__name__}")
        ops: list[Op] = [*delta.inserts, *delta.deletes]
        if not ops:
            return
        todo = plan(self, ops)  # raises CRDTError, changing nothing, to refuse the update
        vv = self._vv
        for op in todo.apply:
            have = vv.get(op.agent, 0)
            if isinstance(op, InsertRun):
                self._apply_insert(op, have)
            else:
                self._apply_delete(op)
            vv[op.agent] = op.seq + op.length
        for op in todo.woken:  # off their heaps; those that still wait are in todo.park
            self._unhold(op)
        for agent in [a for a, heap in self._waiting.items() if not heap]:
            del self._waiting[agent]
        for op in todo.park:
            self._park(op)

    def _park(self, op: Op) -> None:
        have = self._vv.get(op.agent, 0)
        need = self._missing(op, have)
        assert need is not None, "the planner parks only ops that wait"
        self._tick += 1
        heapq.heappush(self._waiting.setdefault(need[0], []), (need[1], self._tick, op))
        held = self._held.setdefault(op.agent, [])
        seqs = self._held_seqs.setdefault(op.agent, [])
        i = bisect_right(seqs, op.seq)
        held.insert(i, op)
        seqs.insert(i, op.seq)

    def _unhold(self, op: Op) -> None:
        held, seqs = self._held[op.agent], self._held_seqs[op.agent]
        i = bisect_left(seqs, op.seq)
        while held[i] is not op:
            i += 1
        del held[i]
        del seqs[i]
        if not held:
            del self._held[op.agent]
            del self._held_seqs[op.agent]

    def wanted(self) -> list[tuple[str, int, int]]:
        """The seqs waiting ops need that no received op covers, as sorted
        (replica, start, end) ranges: what to ask peers for. Ops at those seqs (any
        kind of op will do for the buffer) let every waiting op go."""
        waiting = [op for heap in self._waiting.values() for _, _, op in heap]
        covered: dict[str, list[tuple[int, int]]] = {}
        for op in waiting:
            covered.setdefault(op.agent, []).append((op.seq, op.seq + op.length))
        need: dict[str, int] = {}
        for op in waiting:
            for a, _, e in [*refs(op), (op.agent, op.seq, op.seq)]:
                if e > need.get(a, 0):
                    need[a] = e
        out: list[tuple[str, int, int]] = []
        for a in sorted(need):
            cur, end = self._vv.get(a, 0), need[a]
            for s, e in sorted(covered.get(a, [])):
                if cur >= end:
                    break
                if s > cur:
                    out.append((a, cur, min(s, end)))
                cur = max(cur, e)
            if cur < end:
                out.append((a, cur, end))
        return out

    def _missing(self, op: Op, have: int) -> tuple[str, int] | None:
        """The first (replica, entry needed) that `op` still waits for, or None."""
        if op.seq > have:
            return (op.agent, op.seq)
        vv = self._vv
        if isinstance(op, InsertRun):
            for o in (op.left, op.right):
                if o is not None and vv.get(o[0], 0) <= o[1]:
                    return (o[0], o[1] + 1)
        else:
            for a, s, m in op.targets:
                if vv.get(a, 0) < s + m:
                    return (a, s + m)
        return None

    def _apply_insert(self, op: InsertRun, have: int) -> None:
        if op.seq < have:  # partly applied already: keep the unseen tail
            k = have - op.seq
            text = "" if op.deleted else op.text[k:]
            op = InsertRun(
                op.agent, have, op.length - k, text, op.deleted, (op.agent, have - 1), op.right
            )
        integrate(self._rl, op, op.text)

    def _apply_delete(self, op: DeleteRun) -> None:
        rl = self._rl
        for agent, start, m in op.targets:
            cur, end = start, start + m
            while cur < end:
                r = rl.find_id(agent, cur)
                if r is None:  # not a character (admit.py refuses such targets): skip
                    nxt = rl.next_id_at_or_after(agent, cur)
                    if nxt is None:
                        break
                    cur = nxt
                    continue
                if r.deleted:
                    cur = r.seq + r.length
                    continue
                if r.seq < cur:
                    r = rl.split(r, cur - r.seq)
                if r.seq + r.length > end:
                    rl.split(r, end - r.seq)
                cur = r.seq + r.length
                rl.mark_deleted(r)
        self._log_delete(op)

    def _log_delete(self, op: DeleteRun) -> None:
        log = self._dels.setdefault(op.agent, [])
        if log and log[-1].seq + log[-1].length >= op.seq:
            last = log[-1]
            if op.seq >= last.seq:  # continues or overlaps the last run of deletes
                end = max(last.seq + last.length, op.seq + op.length)
                targets = _fuse(last.targets, op.targets)
                log[-1] = DeleteRun(op.agent, last.seq, end - last.seq, targets)
                return
        i = bisect_right([d.seq for d in log], op.seq) if log and op.seq < log[-1].seq else len(log)
        log.insert(i, op)

    # ---- deltas --------------------------------------------------------------

    def delta_since(self, version: VersionLike) -> TextDelta:
        """Every op this replica has applied that `version` does not cover."""
        v = _plain(version)
        for agent, floor in self._floor.items():
            if v.get(agent, 0) < floor:
                raise CRDTError(
                    f"cannot build a delta from a version below the compaction floor "
                    f"({agent!r}: {v.get(agent, 0)} < {floor}); send the whole document"
                )
        return self._delta_from(v)

    def _state_delta(self) -> TextDelta:
        """Everything: applied ops (from the compaction floor up) and waiting ones."""
        delta = self._delta_from({})
        for heap in self._waiting.values():
            for _, _, op in sorted(heap, key=lambda e: (e[2].agent, e[2].seq)):
                if isinstance(op, InsertRun):
                    delta.inserts.append(op)
                else:
                    delta.deletes.append(op)
        return delta

    def _delta_from(self, v: Mapping[str, int]) -> TextDelta:
        delta = TextDelta()
        for agent in sorted(self._rl.index):
            since = v.get(agent, 0)
            for r in self._rl.index[agent].runs_from(since):
                op = _as_op(r)
                if r.seq < since:
                    k = since - r.seq
                    op = InsertRun(
                        agent, since, r.length - k, r.text[k:], r.deleted, (agent, since - 1),
                        r.right,
                    )
                last = delta.inserts[-1] if delta.inserts else None
                if (
                    last is not None
                    and last.agent == agent
                    and last.seq + last.length == op.seq
                    and op.left == (agent, op.seq - 1)
                    and last.right == op.right
                    and last.deleted == op.deleted
                ):
                    delta.inserts[-1] = InsertRun(
                        agent, last.seq, last.length + op.length, last.text + op.text,
                        last.deleted, last.left, last.right,
                    )
                else:
                    delta.inserts.append(op)
        for agent in sorted(self._dels):
            since = v.get(agent, 0)
            delta.deletes.extend(d for d in self._dels[agent] if d.seq + d.length > since)
        return delta

    # ---- garbage collection --------------------------------------------------

    def acknowledge(self, peer: str, version: VersionLike) -> None:
        """Learn that replica `peer` has applied every op of `version` (its own
        `version` property, sent back as an acknowledgment). Acks only grow: an older
        one that arrives late changes nothing."""
        check_replica(peer)
        if peer == self.replica:
            return
        got = _plain(version)
        usable, latest = self._acks.get(peer, ({}, {}))
        latest = {a: max(latest.get(a, 0), got.get(a, 0)) for a in latest.keys() | got.keys()}
        self._acks[peer] = (usable, latest)

    def stable_version(self, peers: Iterable[str] | None = None) -> VersionVector:
        """The causally stable cut: the pointwise minimum of this replica's version
        and every peer's acknowledged version (`peers`: the whole membership; by
        default the peers heard from). An empty version while some peer never acked.

        A peer's ack counts only once this replica has applied everything in it: an
        op concurrent with a stable op S was made by its author before the author
        applied S, so it is inside the author's ack of S; applying every ack we use
        means every op concurrent with anything stable is already applied here.
        """
        members = sorted(self._acks) if peers is None else sorted(set(peers) - {self.replica})
        vv = self._vv
        cut = dict(vv)
        for peer in members:
            usable, latest = self._acks.get(peer, ({}, {}))
            if latest and all(vv.get(a, 0) >= n for a, n in latest.items()):
                usable = latest
                self._acks[peer] = (usable, latest)
            cut = {a: min(n, usable.get(a, 0)) for a, n in cut.items()}
        return VersionVector({a: n for a, n in cut.items() if n})

    def compact_stable(self, peers: Iterable[str] | None = None) -> int:
        """Compact up to `stable_version(peers)` when it moved; see `compact`."""
        cut = _plain(self.stable_version(peers))
        if all(self._floor.get(a, 0) >= n for a, n in cut.items()):
            return 0
        return self.compact(cut)

    def compact(self, stable: VersionLike) -> int:
        """Compact what `stable` makes causally stable; return the tombstone
        characters turned into placeholders by this call.

        `stable` must be covered by every replica's version, with every op
        concurrent with it applied everywhere: `stable_version()` gives such a cut
        from acknowledgments (so does a quiescent cut that every replica compacts at).
        Then no op still to come is concurrent with a stable op, so:
        - a tombstone whose insert is stable is never again in the region a later
          insert scans (fugue.py), and its origins are never read again: it becomes
          a placeholder, origins dropped, joined with placeholder neighbours of the
          same replica and consecutive seqs (Yjs keeps "GC structs" the same way).
          Its ids stay resolvable, so a later op anchored on it or deleting it still
          finds its place (a placeholder holds no text: tombstones never do);
        - a delete op that is stable is dropped from the delete log: no replica will
          ever ask for it (delta_since refuses versions below the floor);
        - the floor rises to `stable`: replicas behind it get the whole document.
        """
        s = _plain(stable)
        for agent, count in s.items():
            if count > self._vv.get(agent, 0):
                raise CRDTError(
                    f"compact({agent!r}: {count}) is beyond this replica's version "
                    f"({self._vv.get(agent, 0)}): only a version every replica has applied "
                    "is stable"
                )
        old = dict(self._floor)
        for agent, count in s.items():
            if count > self._floor.get(agent, 0):
                self._floor[agent] = count
        floor = self._floor
        for agent, log in self._dels.items():
            self._dels[agent] = [d for d in log if d.seq + d.length > floor.get(agent, 0)]
        self._dels = {a: log for a, log in self._dels.items() if log}
        out: list[Run] = []
        compacted = 0
        changed = False
        for r in self._rl.runs():
            if r.deleted and r.seq + r.length <= floor.get(r.agent, 0):
                if r.seq + r.length > old.get(r.agent, 0):
                    compacted += r.length
                if r.left is not None or r.right is not None:
                    r.left = r.right = None
                    changed = True
                p = out[-1] if out else None
                if (
                    p is not None
                    and p.deleted
                    and p.left is None
                    and p.right is None
                    and p.agent == r.agent
                    and p.seq + p.length == r.seq
                    and p.seq + p.length <= floor.get(p.agent, 0)
                ):
                    p.length += r.length
                    changed = True
                    continue
            out.append(r)
        if changed:
            self._rl.rebuild(out)
        return compacted

    # ---- encoding ------------------------------------------------------------

    def encode(self) -> bytes:
        """The whole replica (state, version, waiting ops) as versioned bytes."""
        from senate.crdt.text.codec import encode_doc

        return encode_doc(self)

    def canonical(self) -> bytes:
        """The state without the replica's own id: equal states give equal bytes."""
        from senate.crdt.text.codec import encode_doc

        return encode_doc(self, canonical=True)

    encode_state = canonical  # the name the other Senate CRDTs use

    @staticmethod
    def decode(data: bytes) -> Text:
        """A replica from `encode()` bytes; raises DecodeError on anything malformed."""
        from senate.crdt.text.codec import decode_doc

        return decode_doc(data)

    @staticmethod
    def decode_update(data: bytes) -> TextDelta:
        from senate.crdt.text.codec import decode_update

        return decode_update(data)

    # ---- used by the codec ---------------------------------------------------

    def _load(
        self,
        runs: list[Run],
        vv: dict[str, int],
        floor: dict[str, int],
        dels: Iterable[DeleteRun],
    ) -> None:
        self._rl.rebuild(runs)
        self._vv = vv
        self._floor = floor
        for d in dels:
            self._log_delete(d)

    def _waiting_ops(self) -> list[Op]:
        ops = [op for heap in self._waiting.values() for _, _, op in heap]
        return sorted(ops, key=lambda op: (isinstance(op, DeleteRun), op.agent, op.seq))


def _fuse(
    old: tuple[tuple[str, int, int], ...], new: tuple[tuple[str, int, int], ...]
) -> tuple[tuple[str, int, int], ...]:
    """Append target ranges, joining one that touches the last (backspacing or
    deleting forward, a run of deletes then holds one range, not one per key)."""
    out = list(old)
    for a, s, m in new:
        if out:
            la, ls, lm = out[-1]
            if la == a and s + m == ls:
                out[-1] = (a, s, m + lm)
                continue
            if la == a and ls + lm == s:
                out[-1] = (a, ls, lm + m)
                continue
        out.append((a, s, m))
    return tuple(out)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _as_op(r: Run) -> InsertRun:
    return InsertRun(r.agent, r.seq, r.length, r.text, r.deleted, r.left, r.right)
