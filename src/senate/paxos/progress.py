"""What a leader knows about each acceptor's log in its ballot.

Rules this file keeps:
- `match` is the last slot the acceptor acknowledged *in this ballot* (so its log
  up to there is the leader's); it only grows. `next` is a guess that may go back;
- PROBE: one accept in flight until the acceptor answers (finding where logs
  agree); REPLICATE: up to `max_inflight` accepts pipelined; SNAPSHOT: nothing
  more until the snapshot is acknowledged or given up on after an election timeout;
- a stale or duplicated answer never moves `next` below `match + 1`.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field


class Flow(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


@dataclass(slots=True)
class Progress:
    match: int
    next: int
    max_inflight: int
    state: Flow = Flow.PROBE
    probe_sent: bool = False
    inflight: deque[int] = field(default_factory=deque)  # last slot of each open accept
    pending_snapshot: int = 0
    snapshot_elapsed: int = 0
    recent_active: bool = False  # answered (without refusing) since the last quorum check
    stalled_rounds: int = 0  # heartbeats answered while acks stopped coming

    def become_probe(self) -> None:
        self.next = max(self.match + 1, self.pending_snapshot + 1)
        self.state = Flow.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflight.clear()

    def become_replicate(self) -> None:
        self.state = Flow.REPLICATE
        self.next = self.match + 1
        self.probe_sent = False
        self.stalled_rounds = 0
        self.inflight.clear()

    def become_snapshot(self, index: int) -> None:
        self.state = Flow.SNAPSHOT
        self.pending_snapshot = index
        self.snapshot_elapsed = 0
        self.inflight.clear()

    def acked(self, index: int) -> bool:
        """An ack up to `index` arrived; False when it tells nothing new about `match`."""
        while self.inflight and self.inflight[0] <= index:
            self.inflight.popleft()
        self.next = max(self.next, index + 1)
        updated = index > self.match
        if updated:
            self.match = index
            self.stalled_rounds = 0
        self.probe_sent = False
        # Any successful answer proves where the logs agree: pipelining may start.
        if self.state == Flow.PROBE:
            self.become_replicate()
        elif self.state == Flow.SNAPSHOT and index >= self.pending_snapshot:
            self.pending_snapshot = 0
            self.become_replicate()
        return updated

    def refused(self, rejected: int, hint: int) -> bool:
        """The accept after slot `rejected` did not match; False when that is stale."""
        if rejected < self.match:
            return False
        if self.state == Flow.PROBE and rejected != self.next - 1:
            return False
        self.state = Flow.PROBE
        self.inflight.clear()
        self.next = max(self.match + 1, min(rejected, hint + 1))
        self.probe_sent = False
        return True

    def sent(self, last_index: int) -> None:
        if self.state == Flow.REPLICATE:
            self.next = last_index + 1
            self.inflight.append(last_index)
        elif self.state == Flow.PROBE:
            self.probe_sent = True

    def is_paused(self) -> bool:
        if self.state == Flow.PROBE:
            return self.probe_sent
        if self.state == Flow.REPLICATE:
            return len(self.inflight) >= self.max_inflight
        return True
