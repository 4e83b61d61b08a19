"""The ZAB protocol state machine: election, the follower's side, the stream.

Rules this file keeps (the theory of operation, in the manner of h11's _state.py):
- every protocol decision lives in this file and leader.py; node.py only wraps
  them in the Ready/Advance handshake and the public Engine API. No I/O, no
  clock, randomness only from the injected rng;
- a node is in one ServerState: LOOKING (fast leader election), FOLLOWING (a
  follower or an observer of one leader) or LEADING (discovery, then
  synchronization, then broadcast: leader.py). `dispatch` sends each message to
  the handler of the current state;
- durable state (HardState): `term` = acceptedEpoch, `vote` = "currentEpoch/
  acceptedFrom" (the leader whose NEWEPOCH we accepted: a node acks an epoch for
  one leader only, so at most one leader establishes each epoch), `commit`;
- fast leader election: votes are ranked by (currentEpoch, last zxid, transfer,
  id); a LOOKING voter adopts any better vote of its round, re-broadcasts, and
  decides when a quorum of voters' votes of its round equal its own. A LOOKING
  node that hears from a LEADING one follows it (it joins a running ensemble),
  whatever its own membership says (notice_running_ensemble);
- the follower registers with FOLLOWERINFO(attempt) and handles the leader's
  stream of that attempt strictly in seq order, buffering what arrives early; a
  gap that persists for retry_ticks (or no answer at all) makes it register
  again with a new attempt, so the leader re-syncs it from where it really is:
  a follower that reconnects misses no proposal and no commit. A PING whose
  flag says the leader has not counted us synced makes us repeat our last
  handshake reply (ACKEPOCH or NEWLEADER's ACK): either may have been lost while
  the in-order stream gives no reason to register again;
- a follower persists before it answers: ACKEPOCH after acceptedEpoch, the
  NEWLEADER ack after currentEpoch and the synced history, a proposal's ACK after
  the proposal. These replies wait in `_after` (released only after the persist);
- a follower learns commits only once its history equals a prefix of the
  leader's (after SYNC in the current session).

Small methods marked "narrow" are the seams mutants.py overrides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from senate.consensus.types import (
    DurableState,
    Entry,
    HardState,
    Membership,
    ReadState,
    Snapshot,
)
from senate.zab.config import ZabConfig
from senate.zab.log import ZabLog, Zxid
from senate.zab.membership import ConfHistory
from senate.zab.messages import STREAM, MessageType, ServerState, SyncMode, ZabMessage

MT = MessageType


@dataclass(slots=True, frozen=True)
class Vote:
    leader: str
    epoch: int  # the proposed leader's currentEpoch
    zxid: Zxid  # its last zxid
    transfer: bool = False  # a leadership-transfer vote wins ties

    def key(self) -> tuple[int, Zxid, bool, str]:
        return (self.epoch, self.zxid, self.transfer, self.leader)


def parse_vote_field(vote: str | None) -> tuple[int, str]:
    """HardState.vote -> (currentEpoch, acceptedFrom)."""
    if not vote:
        return 0, ""
    head, _, tail = vote.partition("/")
    return (int(head) if head.isdigit() else 0), tail


class ZabCore:
    def __init__(
        self,
        node_id: str,
        membership: Membership,
        durable: DurableState,
        rng: random.Random,
        config: ZabConfig | None = None,
    ) -> None:
        self.node_id = node_id
        self.cfg = config or ZabConfig()
        self.rng = rng
        snap = durable.snapshot
        offset, offset_epoch = (snap.index, snap.term) if snap else (0, 0)
        self.log = ZabLog(offset, offset_epoch, list(durable.entries))
        hs = durable.hard_state
        self.log.commit_to(hs.commit)
        self.snapshot: Snapshot | None = snap
        self.pending_snapshot: Snapshot | None = None
        self.conf = ConfHistory(snap.index if snap else 0, snap.membership if snap else membership)
        self.conf.on_append(self.log.entries)
        self.accepted_epoch = hs.term
        self.current_epoch, self.accepted_from = parse_vote_field(hs.vote)
        # What the driver reported durable (node.py keeps these up to date).
        self.durable_accepted = self.accepted_epoch
        self.durable_current = self.current_epoch
        self.state = ServerState.LOOKING
        self.leader: str | None = None
        self.ticks = 0
        self.elapsed = 0
        self.timeout = self.cfg.election_ticks
        # election
        self.round = 0
        self.vote = Vote(node_id, self.current_epoch, self.log.zxid())
        self.recv: dict[str, Vote] = {}
        # follower
        self.attempt = rng.getrandbits(40) << 8  # fresh per incarnation
        self.expect = 0
        self.buffer: dict[int, ZabMessage] = {}
        self.stall = 0
        self.got_epoch = False
        self.in_sync = False  # our history is a prefix of the leader's (SYNC done)
        self.synced = False  # NEWLEADER done: our acks count
        self.reg_elapsed = 0  # ticks since our last FOLLOWERINFO
        self.epoch_ack: ZabMessage | None = None  # our ACKEPOCH of this session
        self.notify_elapsed = 0
        self.notify_every = self.cfg.notify_ticks
        self._now: list[ZabMessage] = []
        self._after: list[ZabMessage] = []
        self.read_states: list[ReadState] = []
        self.reset_leader_state()
        self.become_looking()

    # ---- small queries ---------------------------------------------------

    @property
    def membership(self) -> Membership:
        return self.conf.current

    def promotable(self) -> bool:
        return self.node_id in self.membership.voters

    def electorate(self) -> frozenset[str]:
        """Whom this node exchanges election notifications with: the voters of its
        current membership and of the one in force at its commit index. A change
        past the commit may be truncated by the next leader; a node that heard only
        its own uncommitted membership could shut out the voters that leader needs
        (one holding an uncommitted 'remove n3' ignored n3's votes and leadership,
        and n3 could not gather a quorum without it)."""
        return self.membership.voters | self.conf.at(self.log.committed).voters

    def electable(self) -> bool:
        """May this node vote and stand in an election? A voter of its electorate:
        a removal of itself that is not committed may still be undone, and if this
        node holds the most up-to-date history only it can lead (the others' votes
        go to the best history). It then leads with its current membership, commits
        the removal and steps down, as a removed Raft leader does (seed 807: two
        nodes each held an uncommitted removal of itself, both refused to take
        part, and the rest could never establish: no quorum, or a follower ahead)."""
        return self.node_id in self.electorate()

    def hard_state(self) -> HardState:
        vote = None
        if self.current_epoch or self.accepted_from:
            vote = f"{self.current_epoch}/{self.accepted_from}"
        return HardState(self.accepted_epoch, vote, self.log.committed)

    def self_vote(self, transfer: bool = False) -> Vote:
        return Vote(self.node_id, self.current_epoch, self.log.zxid(), transfer)

    def _msg(self, mtype: MessageType, dst: str, **fields: Any) -> ZabMessage:
        return ZabMessage(mtype, self.node_id, dst, **fields)

    def send(self, msg: ZabMessage) -> None:
        self._after.append(msg)

    def new_timeout(self) -> None:
        self.timeout = self.cfg.election_ticks + self.rng.randrange(self.cfg.election_ticks)

    # ---- hooks leader.py fills in ----------------------------------------

    def reset_leader_state(self) -> None:
        """Forget everything of a leadership (leader.py)."""

    def step_leader(self, m: ZabMessage) -> None:
        """Messages to a LEADING node (leader.py)."""

    def tick_leader(self) -> None:
        """Time for a LEADING node (leader.py)."""

    def become_leading(self) -> None:
        """Start discovery as the prospective leader (leader.py)."""

    def leader_notification(self) -> Vote:
        return Vote(self.node_id, self.current_epoch, self.log.zxid())

    def on_membership_change(self) -> None:
        """The membership changed with the history (leader.py adds its part)."""

    # ---- role changes ----------------------------------------------------

    def _reset_follower(self) -> None:
        self.expect = 0
        self.buffer = {}
        self.stall = 0
        self.got_epoch = False
        self.in_sync = False
        self.synced = False
        self.reg_elapsed = 0
        self.epoch_ack = None

    def become_looking(self, vote_for: Vote | None = None) -> None:
        self.reset_leader_state()
        self._reset_follower()
        self.state = ServerState.LOOKING
        self.leader = None
        self.round += 1
        self.vote = vote_for or self.self_vote()
        self.recv = {self.node_id: self.vote} if self.electable() else {}
        self.elapsed = 0
        self.new_timeout()
        self.notify_all()
        self.maybe_decide()

    def become_following(self, leader: str) -> None:
        self.reset_leader_state()
        self._reset_follower()
        self.state = ServerState.FOLLOWING
        self.leader = leader
        self.elapsed = 0
        self.register()

    def register(self) -> None:
        """(Re)register with the leader: a new attempt, a new stream."""
        assert self.leader is not None
        self.attempt += 1
        self.expect = 0
        self.buffer = {}
        self.stall = 0
        self.got_epoch = False
        self.in_sync = False
        self.synced = False
        self.reg_elapsed = 0
        self.epoch_ack = None
        self.send(
            self._msg(MT.FOLLOWERINFO, self.leader, attempt=self.attempt, epoch=self.accepted_epoch)
        )

    # ---- election --------------------------------------------------------

    def notify_all(self, backoff: bool = False) -> None:
        # Re-sends back off (FLE does too) up to one election timeout; a new
        # round or a new vote goes out at once and resets the pace.
        self.notify_elapsed = 0
        if backoff:
            self.notify_every = min(2 * self.notify_every, self.cfg.election_ticks)
        else:
            self.notify_every = self.cfg.notify_ticks
        for voter in sorted(self.electorate()):
            if voter != self.node_id:
                self.send(self.notification(voter))

    def notification(self, dst: str) -> ZabMessage:
        if self.state == ServerState.LOOKING:
            v = self.vote
        elif self.state == ServerState.LEADING:
            v = self.leader_notification()
        else:
            v = Vote(self.leader or self.node_id, self.current_epoch, self.log.zxid())
        return self._msg(
            MT.NOTIFY,
            dst,
            index=self.offered_epoch(),
            round=self.round,
            state=self.state,
            peer=v.leader,
            epoch=v.epoch,
            zxid_epoch=v.zxid[0],
            zxid_index=v.zxid[1],
            flag=v.transfer,
        )

    def offered_epoch(self) -> int:
        """The epoch a LEADING node offers its followers (0: not chosen yet)."""
        return 0

    def better(self, a: Vote, b: Vote) -> bool:
        """Narrow: does vote `a` rank above vote `b` (FLE's total order)?"""
        return a.key() > b.key()

    def handle_notify(self, m: ZabMessage) -> None:
        voters = self.electorate()  # maybe_decide counts the current voters only
        if m.state == ServerState.LOOKING:
            if self.state == ServerState.FOLLOWING and m.src == self.leader:
                self.become_looking()  # our leader gave up: look too
            if self.state != ServerState.LOOKING:
                self.send(self.notification(m.src))  # tell it who leads
                return
            if m.src not in voters or not self.electable():
                return
            theirs = Vote(m.peer, m.epoch, m.zxid, m.flag)
            if m.round > self.round:
                self.round = m.round
                self.recv = {}
                self.vote = theirs if self.better(theirs, self.self_vote()) else self.self_vote()
                self.notify_all()
            elif m.round < self.round:
                self.send(self.notification(m.src))
                return
            elif self.better(theirs, self.vote):
                self.vote = theirs
                self.notify_all()
            self.recv[m.src] = theirs
            self.recv[self.node_id] = self.vote
            self.maybe_decide()
        elif self.state == ServerState.LOOKING and m.src != self.node_id:
            self.notice_running_ensemble(m, voters)

    def notice_running_ensemble(self, m: ZabMessage, voters: frozenset[str]) -> None:
        """A LOOKING node hears from one that follows or leads. It joins a node
        that says it leads (ZooKeeper's checkLeader), even one it does not know as
        a voter: its membership may be stale (seed 6: two observers that missed
        the new leader's promotion stayed LOOKING for good). Following is safe
        with any leader; the leader decides whether to take us. A voter that says
        it follows a leader we do not ask (not in our electorate) gets that
        leader asked directly, so its own LEADING answer reaches us (seed 62).
        Whatever the leader's epoch: one equal to the epoch we accepted we follow
        without counting (handle_newepoch); one below it, the leader learns of
        from our FOLLOWERINFO and gives up (leader.py), so the next epoch is above
        ours instead of leaving us out for as long as that leader lasts (seed 230)."""
        if m.state == ServerState.LEADING:
            if m.peer == m.src:
                self.become_following(m.src)
        elif (
            m.state == ServerState.FOLLOWING
            and m.src in voters
            and m.peer != self.node_id
            and m.peer not in self.electorate()
        ):
            self.send(self.notification(m.peer))

    def maybe_decide(self) -> None:
        if self.state != ServerState.LOOKING or not self.electable():
            return
        voters = self.membership.voters
        agree = sum(1 for v in voters if self.recv.get(v) == self.vote)
        if agree < len(voters) // 2 + 1:
            return
        if self.vote.leader == self.node_id:
            self.become_leading()
        elif self.vote.leader in voters:
            self.become_following(self.vote.leader)

    # ---- the step function -----------------------------------------------

    def dispatch(self, m: ZabMessage) -> None:
        if m.type == MT.NOTIFY:
            self.handle_notify(m)
        elif self.state == ServerState.LEADING:
            self.step_leader(m)
        elif self.state == ServerState.FOLLOWING and m.src == self.leader:
            self.step_follower(m)

    def step_follower(self, m: ZabMessage) -> None:
        if m.type in STREAM:
            self.receive_stream(m)
        elif m.type == MT.READ_RESP:
            self.read_states.append(ReadState(m.index, m.context))
        elif m.type == MT.TRANSFER and self.promotable():
            self.become_looking(self.self_vote(transfer=True))

    def receive_stream(self, m: ZabMessage) -> None:
        """FIFO per link: handle in seq order, buffer what overtook a gap."""
        if m.attempt != self.attempt or m.seq < self.expect:
            return  # another session's, or a duplicate
        if m.seq > self.expect:
            if len(self.buffer) >= self.cfg.max_buffered:
                self.register()
            else:
                self.buffer.setdefault(m.seq, m)
            return
        attempt = self.attempt
        self.expect += 1
        self.handle_stream(m)
        while self.state == ServerState.FOLLOWING and self.attempt == attempt:
            nxt = self.buffer.pop(self.expect, None)
            if nxt is None:
                break
            self.expect += 1
            self.handle_stream(nxt)
        self.stall = 0

    def handle_stream(self, m: ZabMessage) -> None:
        self.elapsed = 0
        if m.type == MT.NEWEPOCH:
            self.handle_newepoch(m)
        elif m.type == MT.SYNC:
            self.handle_sync(m)
        elif m.type == MT.NEWLEADER:
            self.handle_newleader(m)
        elif m.type == MT.PROPOSAL:
            self.handle_proposal(m)
        elif m.type == MT.COMMIT:
            if self.in_sync:
                self.log.commit_to(m.commit)
        elif m.type == MT.PING:
            if self.in_sync:
                self.log.commit_to(m.commit)
            if not m.flag:
                self.repeat_handshake_reply()
            self.reply(self._msg(MT.PING_ACK, m.src, attempt=self.attempt, round=m.round))

    def repeat_handshake_reply(self) -> None:
        """The leader's PING says it has not counted us synced: our last handshake
        reply may have been lost. The stream moves on in order (PINGs), so no gap
        makes us register again, and without this the session waits forever: the
        leader for our ACKEPOCH, we for its SYNC (seen on real processes under 10%
        loss: a follower leaderless until the test gave up). The leader ignores a
        duplicate ACKEPOCH, and a repeated NEWLEADER ACK is an ACK of what our disk
        holds (it waits for the persist like any ACK)."""
        assert self.leader is not None
        if self.synced:
            self.reply_ack(
                self._msg(
                    MT.ACK, self.leader, attempt=self.attempt, index=self.log.last_index, flag=True
                )
            )
        elif self.epoch_ack is not None and not self.in_sync:
            self.reply(self.epoch_ack)

    def accept_epoch(self, epoch: int, leader: str) -> bool:
        """Narrow: may we ack NEWEPOCH(epoch) from `leader`? (once per epoch, one leader)"""
        return epoch > self.accepted_epoch or (
            epoch == self.accepted_epoch and leader == self.accepted_from
        )

    def handle_newepoch(self, m: ZabMessage) -> None:
        # An epoch we already acked for another leader (ZooKeeper's "acked an epoch
        # equal to the leader's"): we may follow that leader, but our ack must not
        # count toward establishing it (flag), so at most one leader establishes
        # each epoch all the same. Refusing instead left such a node LOOKING for as
        # long as the epoch lasted (a would-be leader whose bid failed while the
        # others established the same epoch under someone else).
        uncounted = m.epoch == self.accepted_epoch and not self.accept_epoch(m.epoch, m.src)
        if not uncounted and not self.accept_epoch(m.epoch, m.src):
            self.become_looking()
            return
        if not uncounted:
            self.accepted_epoch = m.epoch
            self.accepted_from = m.src
        self.got_epoch = True
        self.epoch_ack = self._msg(
            MT.ACKEPOCH,
            m.src,
            attempt=self.attempt,
            epoch=self.current_epoch,
            zxid_epoch=self.log.last_epoch,
            zxid_index=self.log.last_index,
            commit=self.log.committed,
            runs=tuple(self.log.runs_after(self.log.committed)),
            flag=uncounted,
        )
        self.reply(self.epoch_ack)

    def handle_sync(self, m: ZabMessage) -> None:
        snap = m.snapshot
        if m.mode == SyncMode.SNAP and snap is not None:
            if snap.index < self.log.committed:
                self.register()  # cannot happen with an honest leader: start over
                return
            self.log.restore(snap.index, snap.term)
            self.snapshot = snap
            self.pending_snapshot = snap
            self.conf = ConfHistory(snap.index, snap.membership)
            self.on_membership_change()
        else:
            if m.index < self.log.committed or m.index > self.log.last_index:
                self.register()
                return
            self.truncate_after(m.index)
        self.append_entries(list(m.entries))
        self.in_sync = True
        self.log.commit_to(m.commit)

    def handle_newleader(self, m: ZabMessage) -> None:
        if m.epoch != self.accepted_epoch or not self.in_sync:
            self.become_looking()
            return
        self.current_epoch = m.epoch
        self.synced = True
        self.reply_ack(
            self._msg(MT.ACK, m.src, attempt=self.attempt, index=self.log.last_index, flag=True)
        )

    def handle_proposal(self, m: ZabMessage) -> None:
        entry = m.entries[0]
        if not self.in_sync or entry.index != self.log.last_index + 1:
            self.register()  # we missed something: get synced again
            return
        self.append_entries([entry])
        self.reply_ack(
            self._msg(MT.ACK, m.src, attempt=self.attempt, index=entry.index, flag=self.synced)
        )

    def reply(self, msg: ZabMessage) -> None:
        self._after.append(msg)

    def reply_ack(self, msg: ZabMessage) -> None:
        """Narrow: an ACK promises durability, so it waits for the persist."""
        self._after.append(msg)

    # ---- history changes -------------------------------------------------

    def truncate_after(self, index: int) -> None:
        self.log.truncate_after(index)
        if self.conf.truncate_after(index):
            self.on_membership_change()

    def append_entries(self, entries: list[Entry]) -> None:
        """Every append goes through here, so membership follows the history."""
        if not entries:
            return
        self.log.append(entries)
        if self.conf.on_append(entries):
            self.on_membership_change()

    # ---- time ------------------------------------------------------------

    def tick_core(self) -> None:
        self.ticks += 1
        self.elapsed += 1
        if self.state == ServerState.LEADING:
            self.tick_leader()
        elif self.state == ServerState.FOLLOWING:
            self.tick_follower()
        else:
            self.tick_looking()

    def tick_looking(self) -> None:
        self.notify_elapsed += 1
        if self.elapsed >= self.timeout:
            self.become_looking()  # a new round
        elif self.notify_elapsed >= self.notify_every:
            self.notify_all(backoff=True)

    def tick_follower(self) -> None:
        # `elapsed` restarts only when the leader's stream moves on in order.
        self.reg_elapsed += 1
        if self.elapsed >= self.cfg.election_ticks:
            self.become_looking()
            return
        if self.buffer:
            self.stall += 1
        if self.stall >= self.cfg.retry_ticks or (
            not self.got_epoch and self.reg_elapsed >= self.cfg.retry_ticks
        ):
            self.register()
