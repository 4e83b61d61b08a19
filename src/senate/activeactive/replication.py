"""Delta replication with causal delivery and anti-entropy (sans-I/O: no sockets, no
clocks, no files; it returns the messages to send and the ops to persist).

Theory of operation:
- Push: once a local op is durable, its bytes go to every peer (`ship`).
- Causal delivery: a received op is applied when it is its origin's next op and its
  `deps` are all applied (Keyspace.deliverable); otherwise it waits in a bounded buffer,
  filed under the one (origin, n) it waits for, and is looked at again only when op n
  of that origin applies (so a backlog of W ops drains in O(W x deps)). So every
  replica applies ops in a causal order, exactly once (an op whose seq is covered by
  `vv` is a duplicate).
- The log: every op this replica applied since it started (its own and relayed ones),
  per origin, is kept until every peer has acknowledged it; it is the delta buffer.
- Anti-entropy: every interval each replica sends `sync` (its durable version vector)
  to every peer; that is the acknowledgment that trims the log. A replica that gets a
  sync and sees the peer lacking ops of an origin it has, *and* the peer made no
  progress on that origin since its previous sync (so pushes are not just in flight),
  resends from its log, or, when its log no longer reaches back to what the peer has
  (it restarted, or the log was trimmed past its limit), asks its owner to send the
  whole state (`state_wanted`). Resends to a peer are paced: while its reports show no
  progress, each waits twice as long as the one before (RESEND_QUIET up to
  RESEND_QUIET_MAX); any progress resets that.

Origins (whose dots a replica's ops carry): a dot (origin, seq) must name one op only.
A replica that issued ops up to seq N and then forgot them (its data dir was wiped, or
restored from an older copy) would issue seq N+1.. again, and peers would drop those new
ops as duplicates: acknowledged writes silently lost, and replicas diverged for good. So
the origin is not the node id but an id per *incarnation of the data dir*: a replica
whose data dir holds no state at all (new, or wiped) takes a fresh origin, `<node>~<32
random bits>`, and records it durably (service.py, the file ORIGIN) before its first op;
a restart with its state keeps it. Its old origin's ops are ordinary remote ops: peers
send them back by anti-entropy (resends, or the whole state), so a wiped replica gets
its old data back, and its new writes reach everyone. This needs no peer to answer
first, so a wiped replica is writable at once, and a partition cannot make it unsafe.
The case it cannot prevent, a data dir restored from an older copy of itself (state and
ORIGIN, but behind what peers saw), is detected here: a peer's sync, ops or whole state
showing our origin past our own count sets `origin_ahead`, and the service takes a fresh
origin before it makes another op (ops made between the restart and that message may
collide and be lost; the log says so). Each new origin adds one entry to version
vectors, once per wipe, not per restart. Not chosen: keeping the node id and refusing
writes (or adopting the peers' count) until the peers say how far our origin went. That
is only safe once *every* peer has answered (any one may hold our latest op), so one
down peer would keep a wiped replica read-only, and a peer's report is its durable
vector, which may lag an op it already holds; and it still needs our old ops back before
a counter total of our origin may move again.

Rules kept in this file:
- nothing leaves before it is durable here: pushes, resends and syncs use the durable
  version vector, so a crash can never make this replica reuse a dot a peer has seen;
- an op is logged (and returned for the WAL) in the order it was applied, which is a
  causal order, so replaying the WAL or the log in order always delivers;
- every buffer is bounded (waiting ops, the log, ops per message); overflow only costs
  a resend or a full state transfer later, never correctness.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from senate.activeactive.keyspace import Keyspace, Op, decode_op
from senate.activeactive.messages import OPS, SYNC, CrdtMessage
from senate.errors import DecodeError

logger = logging.getLogger("senate.activeactive")

MAX_WAITING = 200_000  # ops buffered for causal delivery
MAX_LOG = 1_000_000  # ops kept for peers before the oldest are dropped
MAX_BATCH_OPS = 4096  # ops per resend message
MAX_BATCH_BYTES = 4 << 20
RESEND_QUIET = 0.1  # seconds before another resend to a peer that made no progress,
RESEND_QUIET_MAX = 2.0  # doubling per futile resend up to this


@dataclass(slots=True)
class PeerView:
    """What this replica knows of one peer."""

    acked: dict[str, int] = field(default_factory=dict)  # its durable vv, last reported
    previous: dict[str, int] = field(default_factory=dict)  # the report before that
    last_sync: float | None = None  # our clock (s) when its last sync arrived
    resent: int = 0  # ops resent to it
    states: int = 0  # whole states sent to it
    futile: int = 0  # resends (or states) in a row that its reports showed no progress after
    quiet_until: float = 0.0  # no resend or state to it before this (our clock, s)


class Replicator:
    """The replication state machine of one replica."""

    def __init__(self, node: str, peers: Iterable[str], space: Keyspace) -> None:
        self.node = node
        self.space = space
        self.peers: dict[str, PeerView] = {p: PeerView() for p in peers if p != node}
        self.log: dict[str, deque[tuple[int, bytes]]] = {}
        self.floor: dict[str, int] = dict(space.vv)  # the log holds each origin's ops > floor
        self.durable_vv: dict[str, int] = dict(space.vv)
        self.waiting: dict[tuple[str, int], tuple[Op, bytes]] = {}
        # (origin, n) -> keys of waiting ops that wait for vv[origin] to reach n
        self._blocked: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.log_size = 0
        self.state_wanted: set[str] = set()
        self.origin_ahead: int | None = None  # a seq of our origin a peer has and we never made
        self.counters = {"applied": 0, "duplicates": 0, "buffered": 0, "malformed": 0}

    # -- local ops ------------------------------------------------------------------------
    def logged(self, origin: str, seq: int, blob: bytes) -> None:
        """Record an op this replica applied (made here, received, or replayed)."""
        if not self.peers:
            self.floor[origin] = seq  # nobody to keep it for
            return
        entries = self.log.get(origin)
        if entries is None:
            entries = self.log[origin] = deque()
        entries.append((seq, blob))
        self.log_size += 1
        if self.log_size > MAX_LOG:
            self._trim(force=True)

    def ship(self, blobs: list[bytes]) -> list[CrdtMessage]:
        """Messages pushing durable local ops to every peer."""
        if not blobs:
            return []
        return [CrdtMessage(self.node, p, OPS, blobs) for p in self.peers]

    # -- receiving ------------------------------------------------------------------------
    def receive_ops(self, blobs: list[bytes]) -> list[tuple[Op, bytes]]:
        """Apply what can be applied; returns the applied ops in order (to persist)."""
        applied: list[tuple[Op, bytes]] = []
        space = self.space
        for blob in blobs:
            try:
                op = decode_op(blob)
            except DecodeError as exc:
                self.counters["malformed"] += 1
                logger.warning("node %s: dropping a malformed op: %s", self.node, exc)
                continue
            if space.is_applied(op):
                self.counters["duplicates"] += 1
                continue
            if op.origin == space.node:
                self.saw_origin(op.seq)  # ours, not applied: made by a forgotten past
            key = (op.origin, op.seq)
            need = self._need(op)
            if need is None:
                self._apply(op, blob, applied)
            elif key not in self.waiting and len(self.waiting) < MAX_WAITING:
                self.waiting[key] = (op, blob)
                self._blocked.setdefault(need, []).append(key)
                self.counters["buffered"] += 1
        return applied

    def _need(self, op: Op) -> tuple[str, int] | None:
        """What an unapplied op waits for, as (origin, n): vv[origin] must reach n. None:
        it is deliverable (its origin's next op, and every dependency applied)."""
        vv = self.space.vv
        if vv.get(op.origin, 0) + 1 < op.seq:
            return (op.origin, op.seq - 1)
        for o, n in op.deps.items():
            if o != op.origin and vv.get(o, 0) < n:
                return (o, n)
        return None

    def drain(self, applied: list[tuple[Op, bytes]]) -> None:
        """Look at every waiting op again (after the vv jumped: a whole state merged):
        apply the deliverable ones, file the others under what they wait for now."""
        self._blocked.clear()
        self._wake(list(self.waiting), applied)

    def _wake(self, keys: list[tuple[str, int]], applied: list[tuple[Op, bytes]]) -> None:
        """Re-examine the waiting ops `keys`, and those that applying them unblocks.

        Causal delivery without rescans: a waiting op is filed under one thing it waits
        for, (origin, n); applying op n of that origin moves vv[origin] to exactly n (one
        origin's ops apply one by one, in order), which wakes just the ops filed there.
        Each op is filed at most once per dependency, so draining W ops costs O(W x deps),
        not a pass over every waiting op per applied op (which, with a long causal chain
        alternating between two origins, went quadratic and stalled the event loop)."""
        space = self.space
        todo = keys
        while todo:
            key = todo.pop()
            entry = self.waiting.get(key)
            if entry is None:
                continue  # applied meanwhile (it arrived again) or already handled
            op, blob = entry
            if space.is_applied(op):
                del self.waiting[key]
                continue
            need = self._need(op)
            if need is not None:
                self._blocked.setdefault(need, []).append(key)
                continue
            del self.waiting[key]
            self.space.apply(op)
            self._logged_applied(op, blob, applied)
            todo.extend(self._blocked.pop(key, ()))

    def _apply(self, op: Op, blob: bytes, applied: list[tuple[Op, bytes]]) -> None:
        self.space.apply(op)
        key = (op.origin, op.seq)
        self.waiting.pop(key, None)
        self._logged_applied(op, blob, applied)
        woken = self._blocked.pop(key, None)
        if woken:
            self._wake(woken, applied)

    def _logged_applied(self, op: Op, blob: bytes, applied: list[tuple[Op, bytes]]) -> None:
        self.logged(op.origin, op.seq, blob)
        applied.append((op, blob))
        self.counters["applied"] += 1

    def joined_state(self, applied: list[tuple[Op, bytes]]) -> None:
        """After a whole state was merged: ops below the new vv are not in the log."""
        for origin, n in self.space.vv.items():
            entries = self.log.get(origin)
            last = entries[-1][0] if entries else self.floor.get(origin, 0)
            if n > last:
                # The log cannot serve these ops; a peer needing them gets a state.
                self.floor[origin] = n
                if entries:
                    self.log_size -= len(entries)
                    entries.clear()
        self.drain(applied)

    # -- anti-entropy -----------------------------------------------------------------------
    def sync_messages(self) -> list[CrdtMessage]:
        vv = dict(self.durable_vv)
        return [CrdtMessage(self.node, p, SYNC, vv) for p in self.peers]

    def receive_sync(self, src: str, vv: dict[str, int], now: float) -> list[CrdtMessage]:
        """A peer's durable vv: trim the log, and resend what it stalls on."""
        view = self.peers.get(src)
        if view is None:
            return []
        first = view.last_sync is None
        view.previous, view.acked, view.last_sync = view.acked, vv, now
        self.saw_origin(vv.get(self.space.node, 0))
        self._trim()
        if any(n > view.previous.get(o, 0) for o, n in vv.items()):
            view.futile, view.quiet_until = 0, 0.0  # it is moving: resends may help again
        if now < view.quiet_until:
            return []  # what we resent last may still be on its way, or being applied
        out: list[bytes] = []
        size = 0
        for origin, mine in self.durable_vv.items():
            theirs = vv.get(origin, 0)
            if theirs >= mine or (not first and view.previous.get(origin, 0) != theirs):
                continue  # up to date, or making progress: pushes are arriving
            if theirs < self.floor.get(origin, 0):
                self.state_wanted.add(src)
                self._hold_off(view, now)
                return []
            for seq, blob in self.log.get(origin, ()):
                if seq <= theirs:
                    continue
                if seq > mine or len(out) >= MAX_BATCH_OPS or size > MAX_BATCH_BYTES:
                    break
                out.append(blob)
                size += len(blob)
        if not out:
            return []
        view.resent += len(out)
        self._hold_off(view, now)
        return [CrdtMessage(self.node, src, OPS, out)]

    @staticmethod
    def _hold_off(view: PeerView, now: float) -> None:
        """After a resend or a state: the next one waits RESEND_QUIET, doubling while the
        peer's reports show no progress (up to RESEND_QUIET_MAX). A peer too busy to keep
        up (a restarted replica applying a backlog) is not buried in duplicates of what
        it already has queued, each of which it must decode and drop."""
        view.quiet_until = now + min(RESEND_QUIET * 2**view.futile, RESEND_QUIET_MAX)
        view.futile = min(view.futile + 1, 30)

    def saw_origin(self, seq: int) -> None:
        """A peer knows op `seq` of our origin: past our own count, our past was lost."""
        if seq > self.space.vv.get(self.space.node, 0):
            self.origin_ahead = max(seq, self.origin_ahead or 0)

    def _trim(self, force: bool = False) -> None:
        for origin, entries in self.log.items():
            acked = min((v.acked.get(origin, 0) for v in self.peers.values()), default=1 << 62)
            while entries and (entries[0][0] <= acked or (force and self.log_size > MAX_LOG)):
                seq, _blob = entries.popleft()
                self.floor[origin] = max(self.floor.get(origin, 0), seq)
                self.log_size -= 1

    # -- metrics ------------------------------------------------------------------------------
    def lag(self, peer: str) -> int:
        """Ops this replica has that `peer` has not acknowledged."""
        acked = self.peers[peer].acked
        return sum(max(0, n - acked.get(o, 0)) for o, n in self.space.vv.items())
