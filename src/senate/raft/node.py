"""The public face of the Raft core: the Engine API and the Ready/Advance handshake.

Rules this file keeps (see senate/consensus/engine.py for the contract):
- one Ready outstanding at a time: has_ready() is False until advance();
- a Ready carries the hard state only when it changed, and must_sync whenever
  term, vote, entries or a snapshot changed (commit alone needs no fsync);
- messages whose correctness rests on durable state ride in `messages`; the
  leader's replication traffic rides in `send_now` — except when this very Ready
  also persists a new term or vote, then it waits too (a leader must never send
  in a term its disk does not know yet);
- `committed` is every entry after the applied index up to the commit index
  (after the snapshot when one is being installed); after advance() the applied
  index moves there. The driver restores its state machine from the snapshot it
  persisted; on restart the engine re-delivers the committed entries after it.
"""

from __future__ import annotations

import random

from senate.consensus.engine import Engine, EngineFactory
from senate.consensus.types import (
    ConfChange,
    ConfChangeOp,
    DurableState,
    Entry,
    EntryKind,
    HardState,
    Membership,
    Message,
    Ready,
    Role,
    Snapshot,
    Status,
)
from senate.errors import ConfigChangeInProgress, NotLeader, ProposalDropped
from senate.raft.config import RaftConfig
from senate.raft.core import _REPLICATION, MT
from senate.raft.errors import (
    EngineMisuse,
    InvalidConfChange,
    InvalidTransferTarget,
    LearnerNotCaughtUp,
)
from senate.raft.leader import RaftLeader
from senate.raft.messages import RaftMessage

_NO_LIMIT = 1 << 62


class Raft(RaftLeader):
    """A Raft node as a sans-I/O state machine implementing consensus.engine.Engine."""

    def __init__(
        self,
        node_id: str,
        membership: Membership,
        durable: DurableState,
        rng: random.Random,
        config: RaftConfig | None = None,
    ) -> None:
        super().__init__(node_id, membership, durable, rng, config)
        hs = self.hard_state()
        self._handed_hs = hs  # last hard state put in a Ready
        self._stable_hs = hs  # last hard state the driver reported durable
        self._outstanding: Ready | None = None

    # ---- inputs ----------------------------------------------------------

    def tick(self) -> None:
        self.ticks += 1
        if self.boot_deaf_ticks > 0:
            self.boot_deaf_ticks -= 1
        if self.role == Role.LEADER:
            self.tick_leader()
            return
        self.election_elapsed += 1
        if self.promotable() and self.election_elapsed >= self.randomized_timeout:
            self.election_elapsed = 0
            self.hup()

    def step(self, message: Message) -> None:
        if isinstance(message, RaftMessage) and message.dst == self.node_id:
            self.dispatch(message)

    def _check_proposals_open(self) -> None:
        if self.role != Role.LEADER:
            raise NotLeader(self.lead)
        if self.lead_transferee is not None:
            raise ProposalDropped(f"leadership is being transferred to {self.lead_transferee}")
        if not self.promotable():
            raise ProposalDropped("this leader is being removed from the cluster")

    def propose(self, data: bytes) -> None:
        self._check_proposals_open()
        self.append_entries([Entry(self.log.last_index + 1, self.term, EntryKind.NORMAL, data)])
        self.append_due = True  # sent with the next ready(), with every other proposal

    def propose_membership(self, change: ConfChange) -> None:
        """One server at a time; PROMOTE only once the learner holds every committed entry."""
        self._check_proposals_open()
        if self.pending_conf_index > self.log.committed:
            raise ConfigChangeInProgress("a membership change is still uncommitted")
        if not self.committed_in_term():
            raise ConfigChangeInProgress(
                "the new leader has not committed an entry of its term yet"
            )
        m, node = self.membership, change.node
        if change.op == ConfChangeOp.ADD_LEARNER and node in m.members:
            raise InvalidConfChange(f"{node} is already a member")
        if change.op == ConfChangeOp.PROMOTE:
            if node not in m.learners:
                raise InvalidConfChange(f"{node} is not a learner")
            if not self.learner_caught_up(node):
                raise LearnerNotCaughtUp(f"learner {node} has not caught up with the log yet")
        if change.op == ConfChangeOp.REMOVE:
            if node not in m.members:
                raise InvalidConfChange(f"{node} is not a member")
            if m.voters == {node}:
                raise InvalidConfChange(f"{node} is the last voter")
        entry = Entry(self.log.last_index + 1, self.term, EntryKind.CONF_CHANGE, change.encode())
        self.append_entries([entry])
        self.bcast_append()

    def learner_caught_up(self, node: str) -> bool:
        """Does `node` hold every entry committed so far? (leader only)"""
        pr = self.progress.get(node)
        return pr is not None and pr.match >= self.log.committed

    def read_index(self, ctx: bytes) -> None:
        if self.role == Role.LEADER:
            self.leader_read(self.node_id, ctx)
        elif self.lead is None:
            raise NotLeader(None)
        else:
            self._after.append(self._msg(MT.READ_INDEX, self.lead, context=ctx))

    def transfer_leadership(self, target: str) -> None:
        if self.role != Role.LEADER:
            raise NotLeader(self.lead)
        if target == self.node_id:
            return
        if target not in self.membership.voters:
            raise InvalidTransferTarget(f"{target} is not a voter")
        if self.lead_transferee == target:
            return
        self.lead_transferee = target
        self.election_elapsed = 0  # the transfer aborts after one election timeout
        pr = self.progress[target]
        if pr.match == self.log.last_index:
            self.send_timeout_now(target)
        else:
            self.send_append(target)

    def snapshot_meta(self, index: int) -> tuple[int, Membership]:
        """(term, membership) of a snapshot at applied `index`: exactly what compact()
        will keep, so a driver can persist the very Snapshot the engine serves.

        The membership is the one in force at `index` (later, possibly uncommitted
        changes are not in it). Raises EngineMisuse for an index beyond the applied
        one or no longer in the log.
        """
        if index > self.log.applied:
            raise EngineMisuse(f"snapshot at {index} beyond the applied index {self.log.applied}")
        term = self.log.term(index)
        if term is None:
            raise EngineMisuse(f"snapshot at {index}: no such entry")
        return term, self.conf.at(index)

    def compact(self, index: int, data: bytes) -> None:
        if index <= self.log.offset:
            return
        term, membership = self.snapshot_meta(index)
        self.snapshot = Snapshot(index, term, membership, data)
        self.log.compact(index)
        self.conf.compact(index)

    # ---- the handshake ---------------------------------------------------

    def apply_limit(self) -> int:
        """Narrow: entries up to here may be handed to the state machine."""
        return self.log.committed

    def term_or_vote_changed(self, hs: HardState) -> bool:
        prev = self._handed_hs
        return (hs.term, hs.vote) != (prev.term, prev.vote)

    def must_sync(self, hs: HardState, rd: Ready) -> bool:
        """Narrow: does this Ready need an fsync before its messages leave?"""
        return bool(rd.entries) or rd.snapshot is not None or self.term_or_vote_changed(hs)

    def _committed_to_apply(self) -> list[Entry]:
        lo = self.log.applied + 1
        if self.pending_snapshot is not None:
            lo = max(lo, self.pending_snapshot.index + 1)
        hi = min(self.apply_limit(), self.log.last_index)
        lo = max(lo, self.log.first_index)
        if hi < lo:
            return []
        return self.log.slice(lo, hi + 1, _NO_LIMIT, _NO_LIMIT)

    def has_ready(self) -> bool:
        if self._outstanding is not None:
            return False
        return bool(
            self.read_round_due
            or self.append_due
            or self._now
            or self._after
            or self.read_states
            or self.pending_snapshot is not None
            or self.log.stable < self.log.last_index
            or self.hard_state() != self._handed_hs
            or self.apply_limit() > self.log.applied
        )

    def ready(self) -> Ready:
        if self._outstanding is not None:
            raise EngineMisuse("ready() called again before advance()")
        self.flush_appends()  # one append per follower for the proposals and commits since
        self.flush_read_round()  # one quorum round for every read queued since the last
        hs = self.hard_state()
        rd = Ready(
            hard_state=hs if hs != self._handed_hs else None,
            snapshot=self.pending_snapshot,
            entries=self.log.unstable(),
            committed=self._committed_to_apply(),
            read_states=self.read_states,
        )
        rd.must_sync = self.must_sync(hs, rd)
        now: list[Message] = []
        after: list[Message] = []
        durable_term = (hs.term, hs.vote) == (self._stable_hs.term, self._stable_hs.vote)
        for msg in self._now:
            (now if durable_term or msg.type not in _REPLICATION else after).append(msg)
        after.extend(self._after)
        rd.send_now, rd.messages = now, after
        self._now, self._after, self.read_states = [], [], []
        self._handed_hs = hs
        self._outstanding = rd
        return rd

    def advance(self, ready: Ready) -> None:
        # One Ready is outstanding at a time, so `ready` is the one we keep; using
        # our own reference spares drivers that copy it.
        rd = self._outstanding
        if rd is None:
            raise EngineMisuse("advance() without an outstanding ready()")
        self._outstanding = None
        if rd.hard_state is not None:
            self._stable_hs = rd.hard_state
        if rd.snapshot is not None:
            self.log.applied = max(self.log.applied, rd.snapshot.index)
            if self.pending_snapshot is rd.snapshot:
                self.pending_snapshot = None
        if rd.entries:
            last = rd.entries[-1]
            self.log.stable_to(last.index, last.term)
        if rd.committed:
            self.log.applied = max(self.log.applied, rd.committed[-1].index)
        if self.role == Role.LEADER and rd.entries:
            self.maybe_commit()  # our own durable entries now count

    def status(self) -> Status:
        role = self.role
        if role == Role.FOLLOWER and self.node_id in self.membership.learners:
            role = Role.LEARNER
        return Status(
            id=self.node_id,
            role=role,
            term=self.term,
            leader=self.lead,
            commit_index=self.log.committed,
            applied_index=self.log.applied,
            membership=self.membership,
            protocol="raft",
            last_index=self.log.last_index,
        )


def raft_factory(config: RaftConfig | None = None) -> EngineFactory:
    """An EngineFactory building `Raft` engines with `config`."""

    def factory(
        node_id: str, membership: Membership, durable: DurableState, rng: random.Random
    ) -> Engine:
        return Raft(node_id, membership, durable, rng, config)

    return factory
