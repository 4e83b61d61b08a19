"""What a leader knows about each follower's log (etcd's tracker.Progress).

Rules this file keeps:
- `match` only grows while one leader leads; `next` is a guess that may go back;
- PROBE: one append in flight at a time until the follower answers (finding where
  logs agree); REPLICATE: optimistic pipelining, up to `max_inflight` appends
  unacknowledged; SNAPSHOT: nothing is sent until the snapshot is acknowledged
  (or given up on after an election timeout, then PROBE again);
- a stale or duplicated answer never moves `next` backwards past `match`.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field


class ProgressState(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


@dataclass(slots=True)
class Inflights:
    """Last index of each unacknowledged append message, oldest first."""

    capacity: int
    items: deque[int] = field(default_factory=deque)

    def full(self) -> bool:
        return len(self.items) >= self.capacity

    def add(self, last_index: int) -> None:
        self.items.append(last_index)

    def free_le(self, index: int) -> None:
        while self.items and self.items[0] <= index:
            self.items.popleft()

    def free_first(self) -> None:
        if self.items:
            self.items.popleft()

    def reset(self) -> None:
        self.items.clear()


@dataclass(slots=True)
class Progress:
    match: int
    next: int
    inflights: Inflights
    state: ProgressState = ProgressState.PROBE
    probe_sent: bool = False  # PROBE: an append is out, wait for its answer
    pending_snapshot: int = 0  # SNAPSHOT: index of the snapshot being sent
    snapshot_elapsed: int = 0  # SNAPSHOT: ticks since it was sent
    recent_active: bool = False  # heard from since the last CheckQuorum round
    stalled_rounds: int = 0  # REPLICATE: heartbeat answers with no ack progress

    def become_probe(self) -> None:
        if self.state == ProgressState.SNAPSHOT:
            self.next = max(self.match + 1, self.pending_snapshot + 1)
        else:
            self.next = self.match + 1
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.inflights.reset()

    def become_replicate(self) -> None:
        self.state = ProgressState.REPLICATE
        self.next = self.match + 1
        self.probe_sent = False
        self.stalled_rounds = 0
        self.inflights.reset()

    def become_snapshot(self, index: int) -> None:
        self.state = ProgressState.SNAPSHOT
        self.pending_snapshot = index
        self.snapshot_elapsed = 0
        self.probe_sent = False
        self.inflights.reset()

    def maybe_update(self, index: int) -> bool:
        """An ack up to `index` arrived; False when it tells nothing new."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
            self.stalled_rounds = 0
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """A rejection of the append after `rejected`; False when it is stale."""
        if self.state == ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def sent(self, last_index: int | None) -> None:
        """An append went out; `last_index` is its last entry's index (None: empty)."""
        if self.state == ProgressState.REPLICATE:
            if last_index is not None:
                self.next = last_index + 1
                self.inflights.add(last_index)
        elif self.state == ProgressState.PROBE:
            self.probe_sent = True

    def is_paused(self) -> bool:
        if self.state == ProgressState.PROBE:
            return self.probe_sent
        if self.state == ProgressState.REPLICATE:
            return self.inflights.full()
        return True
