"""Deliberately broken Raft variants, for proving the simulator's checks can fail.

Rules this file keeps:
- each mutant overrides exactly ONE narrow method of the real engine (the seams
  marked "narrow" in core.py, leader.py and node.py) and says its bug in one line;
- nothing here is used outside mutation tests (`senate sim --mutant NAME`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from senate.consensus.engine import Engine, EngineFactory
from senate.consensus.types import DurableState, HardState, Membership, Ready
from senate.raft.config import RaftConfig
from senate.raft.messages import RaftMessage
from senate.raft.node import Raft


class CommitPrevTerm(Raft):
    """Commits an entry of a previous term by counting replicas (Raft Figure 8)."""

    def can_commit_at(self, index: int) -> bool:
        return True


class VoteBeforeDurable(Raft):
    """Skips the fsync for a new term or vote, so vote replies leave before the vote is durable."""

    def must_sync(self, hs: HardState, rd: Ready) -> bool:
        return bool(rd.entries) or rd.snapshot is not None


class VoteReplyInSendNow(Raft):
    """Puts vote replies in send_now, so they leave before the vote is persisted at all."""

    def reply_vote(self, msg: RaftMessage) -> None:
        self._now.append(msg)


class NoUpToDateCheck(Raft):
    """Grants votes without checking that the candidate's log is at least as up to date."""

    def log_up_to_date(self, last_index: int, last_term: int) -> bool:
        return True


class ReadIndexNoConfirm(Raft):
    """Answers ReadIndex at once with its commit index: no heartbeat round confirms leadership."""

    def leader_read(self, origin: str, ctx: bytes) -> None:
        # Also skips waiting for a commit in its own term, as a leader that never
        # confirms anything would: right after an election its commit index lags.
        self.release_read(origin, self.log.committed, ctx)


class ApplyBeforeCommit(Raft):
    """Hands entries to the state machine up to the last log index, not the commit index."""

    def apply_limit(self) -> int:
        return self.log.last_index


class NoTruncateOnConflict(Raft):
    """Keeps its own conflicting entries instead of the leader's, and acks anyway."""

    def append_from_leader(self, m: RaftMessage) -> int:
        self.append_entries([e for e in m.entries if e.index > self.log.last_index])
        return m.index + len(m.entries)


class CommitPastLastNew(Raft):
    """Takes the leader's commit index as is, without min(leader_commit, index of last
    new entry) (Figure 2, AppendEntries rule 5): a stale suffix past the append commits."""

    def follower_commit_limit(self, m: RaftMessage, last_new: int) -> int:
        return m.commit


class MinorityCommit(Raft):
    """Counts n // 2 voters as a quorum instead of n // 2 + 1 (an off-by-one)."""

    def quorum_match(self) -> int:
        matches = sorted((self.match_of(v) for v in self.membership.voters), reverse=True)
        return matches[max(len(matches) // 2 - 1, 0)] if matches else 0


class AckBeforeDurable(Raft):
    """Skips the fsync for appended entries, so append acks leave before the entries are durable."""

    def must_sync(self, hs: HardState, rd: Ready) -> bool:
        return rd.snapshot is not None or self.term_or_vote_changed(hs)


class AckInSendNow(Raft):
    """Puts append acks in send_now, so they leave before the entries are persisted at all."""

    def reply_append(self, msg: RaftMessage) -> None:
        self._now.append(msg)


def _factory_of(cls: type[Raft]) -> Callable[[RaftConfig | None], EngineFactory]:
    def make(config: RaftConfig | None = None) -> EngineFactory:
        def factory(
            node_id: str, membership: Membership, durable: DurableState, rng: random.Random
        ) -> Engine:
            return cls(node_id, membership, durable, rng, config)

        return factory

    return make


# Registered for the simulator (`senate sim --mutant NAME`): each one is caught
# within the CI seed budget (500 seeds, 5 nodes) under the default fault schedule
# (tests/sim/test_sim_mutants.py); tests/raft/test_raft_mutants.py also shows each
# one breaking its rule in a hand-made scenario.
MUTANTS: dict[str, Callable[[RaftConfig | None], EngineFactory]] = {
    "ack_before_durable": _factory_of(AckBeforeDurable),
    "ack_in_send_now": _factory_of(AckInSendNow),
    "apply_before_commit": _factory_of(ApplyBeforeCommit),
    "commit_past_last_new": _factory_of(CommitPastLastNew),
    "commit_prev_term": _factory_of(CommitPrevTerm),
    "minority_commit": _factory_of(MinorityCommit),
    "no_truncate_on_conflict": _factory_of(NoTruncateOnConflict),
    "no_uptodate_check": _factory_of(NoUpToDateCheck),
    "readindex_no_confirm": _factory_of(ReadIndexNoConfirm),
    "vote_before_durable": _factory_of(VoteBeforeDurable),
    "vote_reply_in_send_now": _factory_of(VoteReplyInSendNow),
}
