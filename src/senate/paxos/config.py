"""Knobs of the Multi-Paxos core, all in ticks or entries (never seconds).

Rules this file keeps:
- every knob has a safe default; `PaxosConfig()` is what the simulator and the
  runtime use unless told otherwise;
- impossible combinations are refused at construction with a UsageError.
"""

from __future__ import annotations

from dataclasses import dataclass

from senate.errors import UsageError


@dataclass(slots=True, frozen=True)
class PaxosConfig:
    # A follower starts phase 1 after a timeout drawn from [election_ticks, 2*election_ticks).
    election_ticks: int = 10
    # The leader sends a heartbeat (an empty accept carrying the commit) this often.
    heartbeat_ticks: int = 1
    # Batching: at most this many entries per accept message beyond the sync point
    # (the re-proposed log of a fresh ballot always travels whole, see core.py).
    max_msg_entries: int = 64
    # Pipelining: at most this many unacknowledged accept messages per acceptor.
    max_inflight: int = 16

    def __post_init__(self) -> None:
        if self.election_ticks < 2:
            raise UsageError("paxos: election_ticks must be at least 2")
        if not 1 <= self.heartbeat_ticks < self.election_ticks:
            raise UsageError("paxos: heartbeat_ticks must be in [1, election_ticks)")
        if self.max_msg_entries < 1 or self.max_inflight < 1:
            raise UsageError("paxos: max_msg_entries and max_inflight must be >= 1")
