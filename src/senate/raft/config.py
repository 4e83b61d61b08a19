"""Knobs of the Raft core, all in ticks, entries or bytes (never seconds).

Rules this file keeps:
- every knob has a safe default; `RaftConfig()` is what the simulator and the
  runtime use unless told otherwise;
- impossible combinations are refused at construction (lease reads without
  CheckQuorum are unsafe, so they are an error, not a silent downgrade).
"""

from __future__ import annotations

from dataclasses import dataclass

from senate.errors import UsageError


@dataclass(slots=True, frozen=True)
class RaftConfig:
    # A follower campaigns after a timeout drawn from [election_ticks, 2*election_ticks).
    election_ticks: int = 10
    # The leader broadcasts a heartbeat every heartbeat_ticks (must be < election_ticks).
    heartbeat_ticks: int = 1
    # PreVote (thesis 9.6): a node first asks whether it could win before bumping its term.
    pre_vote: bool = True
    # CheckQuorum: a leader that has not heard from a quorum for an election timeout
    # steps down, and followers that heard from a leader recently ignore (pre)votes.
    check_quorum: bool = True
    # Lease reads (thesis 6.4.1): serve reads without a heartbeat round while the
    # leader's lease holds. Needs check_quorum; off by default.
    lease_reads: bool = False
    # The lease lasts election_ticks - lease_drift_ticks ticks after the heartbeat
    # that a quorum acknowledged was *sent*. The margin covers one tick of phase
    # (a follower's first tick may come right after the heartbeat) plus how many
    # ticks any follower's clock may gain on the leader's over one election timeout
    # (default: 2 of 10, i.e. clock rates within 20% of each other).
    lease_drift_ticks: int = 3
    # Batching: at most this many entries / bytes of entry data per append message
    # (always at least one entry, so a huge entry still goes out).
    max_msg_entries: int = 64
    max_msg_bytes: int = 1 << 20
    # Pipelining: at most this many unacknowledged append messages per follower.
    max_inflight: int = 16
    # Backtracking: a follower that refuses an append hints the last entry that may
    # match by term (etcd's conflict hint: one round trip per term of divergence).
    # False: it hints its commit index, so the leader resends from a point known to
    # match (slower; the follower's commit rule, Figure 2 rule 5, keeps it safe when
    # its log runs past what an append carries). The simulator draws both.
    conflict_hints: bool = True

    def __post_init__(self) -> None:
        if self.election_ticks < 2:
            raise UsageError("raft: election_ticks must be at least 2")
        if not 1 <= self.heartbeat_ticks < self.election_ticks:
            raise UsageError("raft: heartbeat_ticks must be in [1, election_ticks)")
        if self.lease_reads and not self.check_quorum:
            raise UsageError("raft: lease_reads requires check_quorum")
        if not 1 <= self.lease_drift_ticks < self.election_ticks:
            raise UsageError("raft: lease_drift_ticks must be in [1, election_ticks)")
        if self.max_msg_entries < 1 or self.max_msg_bytes < 1 or self.max_inflight < 1:
            raise UsageError("raft: max_msg_entries, max_msg_bytes, max_inflight must be >= 1")

    @property
    def lease_ticks(self) -> int:
        """How long after sending a quorum-acknowledged heartbeat the leader may read alone."""
        return self.election_ticks - self.lease_drift_ticks
