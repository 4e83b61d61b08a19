"""Delta replication with causal delivery and anti-entropy (sans-I/O: no sockets, no
clocks, no files; it returns the messages to send and the ops to persist).

Theory of operation:
- Push: once a local op is durable, its bytes go to every peer (`ship`).
- Causal delivery: a received op is applied when it is its origin's next op and its
  `deps` are all applied (Keyspace.deliverable); otherwise it waits in a bounded buffer.
  Whenever an op applies, waiting ops are retried. So every replica applies ops in a
  causal order, exactly once (an op whose seq is covered by `vv` is a duplicate).
- The log: every op this replica applied since it started (its own and relayed ones),
  per origin, is kept until every peer has acknowledged it; it is the delta buffer.
- Anti-entropy: every interval each replica sends `sync` (its durable version vector)
  to every peer; that is the acknowledgment that trims the log. A replica that gets a
  sync and sees the peer lacking ops of an origin it has, *and* the peer made no
  progress on that origin since its previous sync (so pushes are not just in flight),
  resends from its log, or, when its log no longer reaches back to what the peer has
  (it restarted, or the log was trimmed past its limit), asks its owner to send the
  whole state (`state_wanted`).

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


@dataclass(slots=True)
class PeerView:
    """What this replica knows of one peer."""

    acked: dict[str, int] = field(default_factory=dict)  # its durable vv, last reported
    previous: dict[str, int] = field(default_factory=dict)  # the report before that
    last_sync: float | None = None  # our clock (s) when its last sync arrived
    resent: int = 0  # ops resent to it
    states: int = 0  # whole states sent to it


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
        self.log_size = 0
        self.state_wanted: set[str] = set()
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
        progress = False
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
            if space.deliverable(op):
                self._apply(op, blob, applied)
                progress = True
            elif len(self.waiting) < MAX_WAITING:
                self.waiting[(op.origin, op.seq)] = (op, blob)
                self.counters["buffered"] += 1
        if progress and self.waiting:
            self.drain(applied)
        return applied

    def drain(self, applied: list[tuple[Op, bytes]]) -> None:
        """Apply every waiting op that has become deliverable (repeatedly)."""
        space = self.space
        while True:
            moved = False
            for key, (op, blob) in list(self.waiting.items()):
                if space.is_applied(op):
                    del self.waiting[key]
                elif space.deliverable(op):
                    del self.waiting[key]
                    self._apply(op, blob, applied)
                    moved = True
            if not moved:
                return

    def _apply(self, op: Op, blob: bytes, applied: list[tuple[Op, bytes]]) -> None:
        self.space.apply(op)
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
        self._trim()
        out: list[bytes] = []
        size = 0
        for origin, mine in self.durable_vv.items():
            theirs = vv.get(origin, 0)
            if theirs >= mine or (not first and view.previous.get(origin, 0) != theirs):
                continue  # up to date, or making progress: pushes are arriving
            if theirs < self.floor.get(origin, 0):
                self.state_wanted.add(src)
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
        return [CrdtMessage(self.node, src, OPS, out)]

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
