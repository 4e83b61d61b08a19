"""The public face of the ZAB core: the Engine API and the Ready/Advance handshake.

Rules this file keeps (see senate/consensus/engine.py for the contract):
- one Ready outstanding at a time: has_ready() is False until advance();
- a Ready carries the hard state only when it changed, and must_sync whenever
  acceptedEpoch, currentEpoch/acceptedFrom, entries or a snapshot changed
  (commit alone needs no fsync);
- the leader's session streams (NEWEPOCH ... PING) ride in `send_now` unless this
  very Ready also persists a new epoch: then they wait in `messages` too (a leader
  never speaks for an epoch its disk does not know). Everything else — every
  follower reply, every notification — rides in `messages`, after the persist;
- after advance() the engine learns what is durable (`on_durable`): the leader's
  own ACKEPOCH and its own share of a commit quorum count only from then;
- `committed` is every entry after the applied index up to the commit index
  (after the snapshot when one is being installed).
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
    Snapshot,
    Status,
)
from senate.errors import ConfigChangeInProgress, NotLeader, ProposalDropped
from senate.zab.config import ZabConfig
from senate.zab.core import MT, parse_vote_field
from senate.zab.errors import (
    EngineMisuse,
    InvalidConfChange,
    InvalidTransferTarget,
    LearnerNotCaughtUp,
)
from senate.zab.leader import ZabLeader
from senate.zab.messages import ServerState, ZabMessage


class Zab(ZabLeader):
    """A ZAB node as a sans-I/O state machine implementing consensus.engine.Engine."""

    def __init__(
        self,
        node_id: str,
        membership: Membership,
        durable: DurableState,
        rng: random.Random,
        config: ZabConfig | None = None,
    ) -> None:
        super().__init__(node_id, membership, durable, rng, config)
        hs = self.hard_state()
        self._handed_hs = hs
        self._stable_hs = hs
        self._outstanding: Ready | None = None

    # ---- inputs ----------------------------------------------------------

    def tick(self) -> None:
        self.tick_core()

    def step(self, message: Message) -> None:
        if isinstance(message, ZabMessage) and message.dst == self.node_id:
            self.dispatch(message)

    def _check_proposals_open(self) -> None:
        if self.state != ServerState.LEADING or not self.established:
            raise NotLeader(self.leader if self.state == ServerState.FOLLOWING else None)
        if self.transferee is not None:
            raise ProposalDropped(f"leadership is being transferred to {self.transferee}")
        if not self.promotable():
            raise ProposalDropped("this leader is being removed from the cluster")

    def _propose(self, kind: EntryKind, data: bytes) -> None:
        if not self.propose_entry(kind, data):
            # Counter roll-over: this epoch is full. Give up leadership so that a
            # new epoch starts (ZooKeeper forces a re-election here).
            self.become_looking()
            raise ProposalDropped("zxid counter exhausted: a new epoch is being started")

    def propose(self, data: bytes) -> None:
        self._check_proposals_open()
        self._propose(EntryKind.NORMAL, data)

    def propose_membership(self, change: ConfChange) -> None:
        """One server at a time, after the initial history committed (see leader.py)."""
        self._check_proposals_open()
        if self.pending_conf_index > self.log.committed:
            raise ConfigChangeInProgress("a membership change is still uncommitted")
        if not self.active():
            raise ConfigChangeInProgress("the new leader has not committed its initial history")
        m, node = self.membership, change.node
        if change.op == ConfChangeOp.ADD_LEARNER and node in m.members:
            raise InvalidConfChange(f"{node} is already a member")
        if change.op == ConfChangeOp.PROMOTE:
            if node not in m.learners:
                raise InvalidConfChange(f"{node} is not an observer")
            if not self.learner_caught_up(node):
                raise LearnerNotCaughtUp(f"observer {node} has not synced yet")
        if change.op == ConfChangeOp.REMOVE:
            if node not in m.members:
                raise InvalidConfChange(f"{node} is not a member")
            if m.voters == {node}:
                raise InvalidConfChange(f"{node} is the last voter")
        self._propose(EntryKind.CONF_CHANGE, change.encode())

    def learner_caught_up(self, node: str) -> bool:
        sess = self.sessions.get(node)
        return sess is not None and sess.synced and sess.match >= self.log.committed

    def read_index(self, ctx: bytes) -> None:
        if self.state == ServerState.LEADING and self.established:
            self.leader_read(self.node_id, ctx)
        elif self.state == ServerState.FOLLOWING and self.leader is not None:
            self.send(self._msg(MT.READ, self.leader, context=ctx))
        else:
            raise NotLeader(None)

    def transfer_leadership(self, target: str) -> None:
        if self.state != ServerState.LEADING or not self.established:
            raise NotLeader(self.leader if self.state == ServerState.FOLLOWING else None)
        if target == self.node_id:
            return
        if target not in self.membership.voters:
            raise InvalidTransferTarget(f"{target} is not a voter")
        self.transferee = target
        self.elapsed = 0  # the transfer aborts after one election timeout
        self.maybe_transfer()

    def snapshot_meta(self, index: int) -> tuple[int, Membership]:
        """(epoch, membership) of a snapshot at applied `index`: exactly what
        compact() keeps, so a driver can persist the very Snapshot the engine serves
        (the membership in force at `index`, without later uncommitted changes).
        Raises EngineMisuse beyond the applied index or for an entry no longer held."""
        if index > self.log.applied:
            raise EngineMisuse(f"snapshot at {index} beyond the applied index {self.log.applied}")
        epoch = self.log.epoch(index)
        if epoch is None:
            raise EngineMisuse(f"snapshot at {index}: no such entry")
        return epoch, self.conf.at(index)

    def compact(self, index: int, data: bytes) -> None:
        if index <= self.log.offset:
            return
        epoch, membership = self.snapshot_meta(index)
        self.snapshot = Snapshot(index, epoch, membership, data)
        self.log.compact(index)
        self.conf.compact(index)

    # ---- the handshake ---------------------------------------------------

    def apply_limit(self) -> int:
        """Narrow: entries up to here may be handed to the state machine."""
        return self.log.committed

    def must_sync(self, hs: HardState, rd: Ready) -> bool:
        prev = self._handed_hs
        epochs_changed = (hs.term, hs.vote) != (prev.term, prev.vote)
        return bool(rd.entries) or rd.snapshot is not None or epochs_changed

    def _committed_to_apply(self) -> list[Entry]:
        lo = self.log.applied + 1
        if self.pending_snapshot is not None:
            lo = max(lo, self.pending_snapshot.index + 1)
        lo = max(lo, self.log.offset + 1)
        hi = min(self.apply_limit(), self.log.last_index)
        if hi < lo:
            return []
        return self.log.slice(lo, hi)

    def has_ready(self) -> bool:
        if self._outstanding is not None:
            return False
        return bool(
            self._now
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
        now: list[Message] = list(self._now) if durable else []
        after: list[Message] = [] if durable else list(self._now)
        after.extend(self._after)
        rd.send_now, rd.messages = now, after
        self._now, self._after, self.read_states = [], [], []
        self._handed_hs = hs
        self._outstanding = rd
        return rd

    def advance(self, ready: Ready) -> None:
        rd = self._outstanding
        if rd is None:
            raise EngineMisuse("advance() without an outstanding ready()")
        self._outstanding = None
        if rd.hard_state is not None:
            self._stable_hs = rd.hard_state
            self.durable_accepted = rd.hard_state.term
            self.durable_current = parse_vote_field(rd.hard_state.vote)[0]
        if rd.snapshot is not None:
            self.log.applied = max(self.log.applied, rd.snapshot.index)
            if self.pending_snapshot is rd.snapshot:
                self.pending_snapshot = None
        if rd.entries:
            last = rd.entries[-1]
            self.log.stable_to(last.index, last.term)
        if rd.committed:
            self.log.applied = max(self.log.applied, rd.committed[-1].index)
        self.on_durable()

    def status(self) -> Status:
        leading = self.state == ServerState.LEADING and self.established
        # The leader a driver may hand proposals to now: an established leader, as
        # seen by itself or by a follower synced with it (NEWLEADER done). Before
        # that a proposal there is refused, and a driver that routed requests to
        # it would only learn so by timing out (1 s lost per failover at run time).
        if self.state == ServerState.LEADING:
            leader = self.node_id if self.established else None
        elif self.state == ServerState.FOLLOWING:
            leader = self.leader if self.synced else None
        else:
            leader = None
        return Status(
            id=self.node_id,
            role=self.role,
            term=self.current_epoch if leading else self.accepted_epoch,
            leader=leader,
            commit_index=self.log.committed,
            applied_index=self.log.applied,
            membership=self.membership,
            protocol="zab",
            last_index=self.log.last_index,
        )


def zab_factory(config: ZabConfig | None = None) -> EngineFactory:
    """An EngineFactory building `Zab` engines with `config`."""

    def factory(
        node_id: str, membership: Membership, durable: DurableState, rng: random.Random
    ) -> Engine:
        return Zab(node_id, membership, durable, rng, config)

    return factory
