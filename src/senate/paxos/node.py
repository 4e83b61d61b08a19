"""The public face of the Multi-Paxos core: the Engine API and the Ready/Advance
handshake (senate/consensus/engine.py is the contract).

Rules this file keeps:
- one Ready outstanding at a time: has_ready() is False until advance();
- a Ready carries the hard state only when it changed, and must_sync whenever
  the promised ballot, the accepted ballot, entries or a snapshot changed;
- every acceptor answer (promise, accepted, heartbeat answer) rides in
  `messages`, released after the persist; the leader's accepts and heartbeats
  ride in `send_now` — unless this very Ready also persists a new promise or
  accepted ballot: a leader never speaks for a ballot its own disk does not
  hold yet;
- `committed` is every entry after the applied index up to the commit index
  (after the snapshot when one is being installed). On restart from DurableState
  the applied index is the snapshot's, so the chosen entries after it are
  delivered again, exactly as Raft does.
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
    ReadState,
    Ready,
    Role,
    Snapshot,
    Status,
)
from senate.errors import ConfigChangeInProgress, NotLeader, ProposalDropped
from senate.paxos.ballot import check_ranks
from senate.paxos.config import PaxosConfig
from senate.paxos.core import MT, REPLICATION, parse_accepted
from senate.paxos.errors import (
    EngineMisuse,
    InvalidConfChange,
    InvalidTransferTarget,
    LearnerNotCaughtUp,
)
from senate.paxos.leader import PaxosLeader
from senate.paxos.messages import PaxosMessage


class MultiPaxos(PaxosLeader):
    """A Multi-Paxos replica as a sans-I/O state machine implementing consensus.Engine."""

    def __init__(
        self,
        node_id: str,
        membership: Membership,
        durable: DurableState,
        rng: random.Random,
        config: PaxosConfig | None = None,
    ) -> None:
        super().__init__(node_id, membership, durable, rng, config)
        hs = self.hard_state()
        self._handed_hs = hs
        self._stable_hs = hs
        self._outstanding: Ready | None = None

    # ---- inputs ----------------------------------------------------------

    def tick(self) -> None:
        if self.role == Role.LEADER:
            self.tick_leader()
            return
        self.election_elapsed += 1
        if self.promotable() and self.election_elapsed >= self.randomized_timeout:
            self.campaign()

    def step(self, message: Message) -> None:
        if not isinstance(message, PaxosMessage) or message.dst != self.node_id:
            return
        m = message
        if m.type == MT.PREPARE:
            self.handle_prepare(m)
        elif m.type == MT.PROMISE:
            self.handle_promise(m)
        elif m.type == MT.ACCEPT:
            self.handle_accept(m)
        elif m.type == MT.HEARTBEAT:
            self.handle_heartbeat(m)
        elif self.role == Role.LEADER:
            if m.type == MT.ACCEPTED:
                self.handle_accepted(m)
            elif m.type == MT.HEARTBEAT_RESP:
                self.handle_heartbeat_resp(m)
            elif m.type == MT.READ_INDEX:
                self.leader_read(m.src, m.context)
        elif m.type == MT.READ_INDEX_RESP and m.src == self.leader:
            self.read_states.append(_read_state(m))
        elif m.type == MT.TIMEOUT_NOW and m.src == self.leader:
            self.campaign(transfer=True)

    def _check_proposals_open(self) -> None:
        if self.role != Role.LEADER:
            raise NotLeader(self.leader)
        if self.transferee is not None:
            raise ProposalDropped(f"leadership is being transferred to {self.transferee}")
        if not self.promotable():
            raise ProposalDropped("this leader is being removed from the cluster")
        if self.conf.last_change_index > self.log.committed:
            # alpha = 1: nothing is proposed behind an unchosen membership change.
            raise ProposalDropped("a membership change is not chosen yet")

    def propose(self, data: bytes) -> None:
        self._check_proposals_open()
        self.append_proposal(EntryKind.NORMAL, data)

    def propose_membership(self, change: ConfChange) -> None:
        """One server at a time, only once the re-proposed log is chosen."""
        if self.role == Role.LEADER and self.conf.last_change_index > self.log.committed:
            raise ConfigChangeInProgress("a membership change is still unchosen")
        self._check_proposals_open()
        if self.log.committed < self.sync_end:
            raise ConfigChangeInProgress("the new leader has not chosen its re-proposed log yet")
        m, node = self.membership, change.node
        if change.op == ConfChangeOp.ADD_LEARNER:
            if node in m.members:
                raise InvalidConfChange(f"{node} is already a member")
            check_ranks(m.members | {node})
        if change.op == ConfChangeOp.PROMOTE:
            if node not in m.learners:
                raise InvalidConfChange(f"{node} is not a learner")
            if not self.learner_caught_up(node):
                raise LearnerNotCaughtUp(f"learner {node} does not hold every chosen slot yet")
        if change.op == ConfChangeOp.REMOVE:
            if node not in m.members:
                raise InvalidConfChange(f"{node} is not a member")
            if m.voters == {node}:
                raise InvalidConfChange(f"{node} is the last voter")
        self.append_proposal(EntryKind.CONF_CHANGE, change.encode())

    def learner_caught_up(self, node: str) -> bool:
        """Does `node` hold every slot chosen so far? (leader only)"""
        pr = self.progress.get(node)
        return pr is not None and pr.match >= self.log.committed

    def read_index(self, ctx: bytes) -> None:
        if self.role == Role.LEADER:
            self.leader_read(self.node_id, ctx)
        elif self.leader is None:
            raise NotLeader(None)
        else:
            self._after.append(self.msg(MT.READ_INDEX, self.leader, self.promised, context=ctx))

    def transfer_leadership(self, target: str) -> None:
        if self.role != Role.LEADER:
            raise NotLeader(self.leader)
        if target == self.node_id:
            return
        if target not in self.membership.voters:
            raise InvalidTransferTarget(f"{target} is not a voter")
        if self.transferee == target:
            return
        self.transferee = target
        self.election_elapsed = 0  # the transfer aborts after one election timeout
        pr = self.progress[target]
        if pr.match == self.log.last_index:
            self._after.append(self.msg(MT.TIMEOUT_NOW, target, self.ballot))
        else:
            self.send_accept(target)

    def snapshot_meta(self, index: int) -> tuple[int, Membership]:
        """(ballot tag, membership) of a snapshot at applied `index`: exactly what
        compact() keeps, so a driver can persist the very Snapshot the engine serves
        (the membership in force at `index`, without later unchosen changes)."""
        if index > self.log.applied:
            raise EngineMisuse(f"snapshot at {index} beyond the applied index {self.log.applied}")
        term = self.log.term(index)
        if term is None:
            raise EngineMisuse(f"snapshot at {index}: no such slot")
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
        """Narrow: slots up to here may be handed to the state machine."""
        return self.log.committed

    def must_sync(self, hs: HardState, rd: Ready) -> bool:
        """Narrow: does this Ready need an fsync before its messages leave?"""
        prev = self._handed_hs
        changed = (hs.term, hs.vote) != (prev.term, prev.vote)
        return bool(rd.entries) or rd.snapshot is not None or changed

    def _committed_to_apply(self) -> list[Entry]:
        lo = self.log.applied + 1
        if self.pending_snapshot is not None:
            lo = max(lo, self.pending_snapshot.index + 1)
        hi = min(self.apply_limit(), self.log.last_index)
        return self.log.slice(lo, hi)

    def has_ready(self) -> bool:
        if self._outstanding is not None:
            return False
        return bool(
            self.accepts_due
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
        if self.accepts_due:
            self.flush_accepts()
        hs = self.hard_state()
        rd = Ready(
            hard_state=hs if hs != self._handed_hs else None,
            snapshot=self.pending_snapshot,
            entries=self.log.unstable(),
            committed=self._committed_to_apply(),
            read_states=self.read_states,
        )
        rd.must_sync = self.must_sync(hs, rd)
        durable = (hs.term, hs.vote) == (self._stable_hs.term, self._stable_hs.vote)
        now: list[Message] = []
        after: list[Message] = []
        for m in self._now:
            (now if durable or m.type not in REPLICATION else after).append(m)
        after.extend(self._after)
        rd.send_now, rd.messages = now, after
        self._now, self._after, self.read_states = [], [], []
        self._handed_hs = hs
        self._outstanding = rd
        return rd

    def advance(self, ready: Ready) -> None:
        # One Ready is outstanding at a time: use our own reference (drivers may copy).
        rd = self._outstanding
        if rd is None:
            raise EngineMisuse("advance() without an outstanding ready()")
        self._outstanding = None
        if rd.hard_state is not None:
            self._stable_hs = rd.hard_state
            self.durable_accepted = parse_accepted(rd.hard_state.vote)
        if rd.snapshot is not None:
            self.log.applied = max(self.log.applied, rd.snapshot.index)
            if self.pending_snapshot is rd.snapshot:
                self.pending_snapshot = None
        if rd.entries:
            last = rd.entries[-1]
            self.log.stable_to(last.index, last.term)
        if rd.committed:
            self.log.applied = max(self.log.applied, rd.committed[-1].index)
        if self.role == Role.LEADER and (rd.entries or rd.hard_state is not None):
            self.maybe_commit()  # our own durable slots now count

    def status(self) -> Status:
        role = self.role
        if role == Role.FOLLOWER and self.node_id in self.membership.learners:
            role = Role.LEARNER
        return Status(
            id=self.node_id,
            role=role,
            term=self.ballot if role == Role.LEADER else self.promised,
            leader=self.leader,
            commit_index=self.log.committed,
            applied_index=self.log.applied,
            membership=self.membership,
            protocol="multipaxos",
            last_index=self.log.last_index,
        )


def _read_state(m: PaxosMessage) -> ReadState:
    return ReadState(m.index, m.context)


def paxos_factory(config: PaxosConfig | None = None) -> EngineFactory:
    """An EngineFactory building `MultiPaxos` engines with `config`."""

    def factory(
        node_id: str, membership: Membership, durable: DurableState, rng: random.Random
    ) -> Engine:
        return MultiPaxos(node_id, membership, durable, rng, config)

    return factory
