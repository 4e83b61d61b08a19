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
- tombstones are removed only by `compact`, under the rule documented there.

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
from bisect import bisect_right
from collections.abc import Iterable, Mapping

from senate.clocks import VersionVector
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
        self._dels: dict[str, list[DeleteRun]] = {}
        # replica -> heap of (count needed, tiebreak, op): ops waiting for that entry
        self._waiting: dict[str, list[tuple[int, int, Op]]] = {}
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
        for op in ops:
            self._offer(op)

    def _offer(self, first: Op) -> None:
        """Apply `first` if it can be, then everything its application unblocks."""
        work = [first]
        while work:
            op = work.pop()
            vv = self._vv
            have = vv.get(op.agent, 0)
            if op.seq + op.length <= have:
                continue  # already applied
            need = self._missing(op, have)
            if need is not None:
                agent, count = need
                self._tick += 1
                heapq.heappush(self._waiting.setdefault(agent, []), (count, self._tick, op))
                continue
            if isinstance(op, InsertRun):
                self._apply_insert(op, have)
            else:
                self._apply_delete(op)
            vv[op.agent] = op.seq + op.length
            heap = self._waiting.get(op.agent)
            while heap and heap[0][0] <= vv[op.agent]:
                work.append(heapq.heappop(heap)[2])
            if heap is not None and not heap:
                del self._waiting[op.agent]

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
        rl = self._rl
        for o in (op.left, op.right):
            if o is not None and rl.find_id(o[0], o[1]) is None:
                raise CRDTError(
                    f"insert {op.agent}:{op.seq} is anchored on {o[0]}:{o[1]}, a tombstone "
                    "this replica compacted; compact() requires that no replica still "
                    "creates inserts anchored on the tombstones it removes"
                )
        integrate(rl, op, op.text)

    def _apply_delete(self, op: DeleteRun) -> None:
        rl = self._rl
        for agent, start, m in op.targets:
            cur, end = start, start + m
            while cur < end:
                r = rl.find_id(agent, cur)
                if r is None:  # compacted: already deleted everywhere; skip to the next run
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

    def compact(self, stable: VersionLike) -> int:
        """Remove tombstones deleted by ops in `stable`; return characters removed.

        The rule: `stable` must be covered by this replica's version, every replica
        must have applied it, and no replica may create an insert anchored on a
        tombstone it removes. The simple way to honour the last part is to compact
        at a quiescent cut: every replica calls compact(v) with the same v, each
        when its own version is exactly v (no op concurrent with the cut exists).
        A later insert that is anchored on a removed tombstone is refused by merge
        with a CRDTError; a later delete of one is a no-op (it is already deleted).
        """
        s = _plain(stable)
        for agent, count in s.items():
            if count > self._vv.get(agent, 0):
                raise CRDTError(
                    f"compact({agent!r}: {count}) is beyond this replica's version "
                    f"({self._vv.get(agent, 0)}): only a version every replica has applied "
                    "is stable"
                )
        rl = self._rl
        doomed: set[int] = set()
        removed = 0
        for agent, log in self._dels.items():
            keep: list[DeleteRun] = []
            for d in log:
                if d.seq + d.length > s.get(agent, 0):
                    keep.append(d)
                    continue
                for tagent, start, m in d.targets:
                    cur, end = start, start + m
                    while cur < end:
                        r = rl.find_id(tagent, cur)
                        if r is None:
                            nxt = rl.next_id_at_or_after(tagent, cur)
                            if nxt is None:
                                break
                            cur = nxt
                            continue
                        if id(r) in doomed:  # wholly inside an earlier stable range
                            cur = r.seq + r.length
                            continue
                        if r.seq < cur:
                            r = rl.split(r, cur - r.seq)
                        if r.seq + r.length > end:
                            rl.split(r, end - r.seq)
                        if r.deleted:  # never drop visible text
                            doomed.add(id(r))
                            removed += r.length
                        cur = r.seq + r.length
            self._dels[agent] = keep
        if doomed:
            rl.rebuild([r for r in rl.runs() if id(r) not in doomed])
        for agent, count in s.items():
            if count > self._floor.get(agent, 0):
                self._floor[agent] = count
        return removed

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
