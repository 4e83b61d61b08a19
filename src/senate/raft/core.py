"""The Raft protocol state machine: roles, elections, replication, reads.

Rules this file keeps (the theory of operation, in the manner of h11's _state.py):
- every protocol decision lives here; node.py only wraps it in the Ready/Advance
  handshake and the public Engine API. This file does no I/O, reads no clock and
  draws randomness only from the injected rng;
- `dispatch` first settles terms (the same for every role), then dispatches to one
  step function per role: `step_leader`, `step_candidate`, `step_follower`;
- outgoing messages go to one of two queues: `_now` (the leader's replication
  traffic — appends, heartbeats, snapshots — which may leave before the leader's
  own entries are durable, thesis 10.2.1) or `_after` (everything whose
  correctness depends on durable state: vote replies, append acks; released only
  after the driver persisted the Ready they came with);
- the leader counts its own log in a quorum only up to `log.stable`, the index
  the driver reported durable;
- commit only by counting replicas of an entry of the current term (thesis 3.6.2,
  Figure 8); older entries commit indirectly;
- membership changes one server at a time (thesis ch. 4): any majority of the
  old voters and any majority of the new ones overlap when they differ by one
  server, so no joint consensus is needed. A configuration takes effect on each
  node when its entry is *appended* (thesis 4.1), not when applied (etcd): the
  leader then counts the new quorum for the very entry that changes it, a node
  never needs the state machine to know who votes, and a truncated entry undoes
  its change (membership.py). Safety rules kept by node.py: at most one
  uncommitted change (ConfigChangeInProgress), none before the leader committed
  an entry of its own term (the single-server bug fix), PROMOTE only for a
  learner holding every committed entry (LearnerNotCaughtUp), and a leader that
  removed itself leads on until that entry commits, then steps down. A fresh
  cluster's first leader writes a CONF_BOOTSTRAP entry (the initial membership)
  instead of its NOOP, so the log alone says who voted first (membership.py).

Small methods marked "narrow" are the seams mutants.py overrides to build the
deliberately broken variants; keep them one decision each.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from senate.consensus.types import (
    DurableState,
    Entry,
    EntryKind,
    HardState,
    Membership,
    ReadState,
    Role,
    Snapshot,
)
from senate.raft.config import RaftConfig
from senate.raft.log import RaftLog
from senate.raft.membership import ConfHistory, encode_bootstrap
from senate.raft.messages import TRANSFER_CONTEXT, MessageType, RaftMessage
from senate.raft.progress import Inflights, Progress
from senate.raft.quorum import VoteResult, vote_result

MT = MessageType
_REPLICATION = frozenset({MT.APP, MT.HEARTBEAT, MT.SNAP})


@dataclass(slots=True)
class ReadRequest:
    index: int  # commit index when the read arrived
    ctx: bytes
    origin: str  # who asked: this node or a follower
    round: int  # the heartbeat round that must reach a quorum first


class RaftCore:
    def __init__(
        self,
        node_id: str,
        membership: Membership,
        durable: DurableState,
        rng: random.Random,
        config: RaftConfig | None = None,
    ) -> None:
        self.node_id = node_id
        self.cfg = config or RaftConfig()
        self.rng = rng
        snap = durable.snapshot
        self.log = RaftLog(
            snap.index if snap else 0, snap.term if snap else 0, list(durable.entries)
        )
        hs = durable.hard_state
        self.log.commit_to(hs.commit)
        self.snapshot: Snapshot | None = snap  # what slow followers get
        self.conf = ConfHistory(snap.index if snap else 0, snap.membership if snap else membership)
        self.conf.on_append(self.log.entries)
        self.term = hs.term
        self.vote: str | None = hs.vote
        self.lead: str | None = None
        self.role = Role.FOLLOWER
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = self.cfg.election_ticks
        self.ticks = 0  # this node's logical clock, never reset (lease arithmetic)
        # After a restart a node may have forgotten a leader whose lease it backs:
        # with lease reads on, it stays deaf to votes for one election timeout.
        self.boot_deaf_ticks = self.cfg.election_ticks if self.cfg.lease_reads else 0
        self.votes: dict[str, bool] = {}
        self.progress: dict[str, Progress] = {}
        self.pending_conf_index = 0
        self.lead_transferee: str | None = None
        self.transfer_sent = False  # a TimeoutNow left this term: no more lease reads
        self.hb_round = 0
        self.acked_round: dict[str, int] = {}
        self.acked_tick: dict[str, int] = {}
        self.reads: deque[ReadRequest] = deque()
        self.read_round_due = False  # reads wait for a heartbeat round not yet sent
        # New entries or a new commit index to broadcast: sent once, at the next ready().
        self.append_due = False
        self.reads_waiting: list[tuple[str, bytes]] = []  # until a current-term commit
        self._now: list[RaftMessage] = []
        self._after: list[RaftMessage] = []
        self.read_states: list[ReadState] = []
        self.pending_snapshot: Snapshot | None = None  # received, not yet handed out
        self.become_follower(self.term, None)

    # ---- small queries ---------------------------------------------------

    @property
    def membership(self) -> Membership:
        return self.conf.current

    def promotable(self) -> bool:
        return self.node_id in self.membership.voters

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def committed_in_term(self) -> bool:
        return self.log.term(self.log.committed) == self.term

    def in_lease(self) -> bool:
        """Leader stickiness: heard from a leader within the minimum election timeout."""
        if not self.cfg.check_quorum:
            return False
        recent = self.lead is not None and self.election_elapsed < self.cfg.election_ticks
        return recent or self.boot_deaf_ticks > 0

    def send(self, msg: RaftMessage) -> None:
        (self._now if msg.type in _REPLICATION else self._after).append(msg)

    def _msg(
        self, mtype: MessageType, dst: str, term: int | None = None, **fields: Any
    ) -> RaftMessage:
        """A message from this node; in our term unless `term` says otherwise."""
        return RaftMessage(mtype, self.node_id, dst, self.term if term is None else term, **fields)

    # ---- role changes ----------------------------------------------------

    def reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.lead = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = self.cfg.election_ticks + self.rng.randrange(
            self.cfg.election_ticks
        )
        self.votes = {}
        self.progress = {}
        self.lead_transferee = None
        self.transfer_sent = False
        self.reads.clear()
        self.read_round_due = False
        self.append_due = False
        self.reads_waiting.clear()
        self.acked_round = {}
        self.acked_tick = {}
        self.hb_round = 0

    def become_follower(self, term: int, lead: str | None) -> None:
        self.reset(term)
        self.lead = lead
        self.role = Role.FOLLOWER

    def become_pre_candidate(self) -> None:
        # Neither term nor vote change: a pre-vote that fails leaves no trace.
        self.votes = {}
        self.lead = None
        self.role = Role.PRE_CANDIDATE

    def become_candidate(self) -> None:
        self.reset(self.term + 1)
        self.vote = self.node_id
        self.role = Role.CANDIDATE

    def become_leader(self) -> None:
        self.reset(self.term)
        self.lead = self.node_id
        self.role = Role.LEADER
        self.sync_progress()
        # No conf change until this term's first entry commits (the single-server
        # membership bug fix: ongaro, raft-dev 2015).
        self.pending_conf_index = self.log.last_index
        if self.log.last_index == 0 and self.snapshot is None:
            # A fresh cluster: entry 1 records the initial membership, so a joiner
            # replaying from index 1 need not trust its --cluster (membership.py).
            # It is of this term, so it also does the NOOP's job.
            first = Entry(1, self.term, EntryKind.CONF_BOOTSTRAP, encode_bootstrap(self.membership))
            self.append_entries([first])
        else:
            self.append_entries([Entry(self.log.last_index + 1, self.term, EntryKind.NOOP)])

    def sync_progress(self) -> None:
        """Leader: one Progress per other member, after any membership change."""
        members = self.membership.members
        for peer in list(self.progress):
            if peer not in members:
                del self.progress[peer]
        for peer in sorted(members):  # sorted: message order must not depend on str hashing
            if peer != self.node_id and peer not in self.progress:
                self.progress[peer] = Progress(
                    match=0,
                    next=self.log.last_index + 1,
                    inflights=Inflights(self.cfg.max_inflight),
                )

    def on_membership_change(self) -> None:
        if self.role == Role.LEADER:
            self.sync_progress()
            if self.lead_transferee not in self.membership.voters:
                self.lead_transferee = None
            self.maybe_commit()
        elif self.role in (Role.CANDIDATE, Role.PRE_CANDIDATE) and not self.promotable():
            self.become_follower(self.term, None)

    # ---- elections -------------------------------------------------------

    def hup(self, transfer: bool = False) -> None:
        if self.role == Role.LEADER or not self.promotable():
            return
        if self.cfg.pre_vote and not transfer:
            self.campaign(pre=True, transfer=False)
        else:
            self.campaign(pre=False, transfer=transfer)

    def campaign(self, pre: bool, transfer: bool) -> None:
        if pre:
            self.become_pre_candidate()
            vote_term, mtype = self.term + 1, MT.PRE_VOTE
        else:
            self.become_candidate()
            vote_term, mtype = self.term, MT.VOTE
        self.votes[self.node_id] = True
        if self.poll() is not VoteResult.PENDING:
            return
        ctx = TRANSFER_CONTEXT if transfer else b""
        for voter in sorted(self.membership.voters):
            if voter != self.node_id:
                self.send(
                    self._msg(
                        mtype,
                        voter,
                        term=vote_term,
                        index=self.log.last_index,
                        log_term=self.log.last_term,
                        context=ctx,
                    )
                )

    def poll(self) -> VoteResult:
        result = vote_result(self.membership.voters, self.votes)
        if result is VoteResult.WON:
            if self.role == Role.PRE_CANDIDATE:
                self.campaign(pre=False, transfer=False)
            else:
                self.become_leader()
        elif result is VoteResult.LOST:
            self.become_follower(self.term, None)
        return result

    def log_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Narrow: may a candidate whose log ends at (last_index, last_term) get our vote?"""
        return self.log.is_up_to_date(last_index, last_term)

    def reply_vote(self, msg: RaftMessage) -> None:
        """Narrow: a vote reply depends on the durable vote, so it waits for the persist."""
        self._after.append(msg)

    def handle_vote_request(self, m: RaftMessage) -> None:
        pre = m.type == MT.PRE_VOTE
        can_vote = (
            self.vote == m.src
            or (self.vote is None and self.lead is None)
            or (pre and m.term > self.term)
        )
        resp = MT.PRE_VOTE_RESP if pre else MT.VOTE_RESP
        if can_vote and self.log_up_to_date(m.index, m.log_term):
            if not pre:
                self.election_elapsed = 0
                self.vote = m.src
            self.reply_vote(self._msg(resp, m.src, term=m.term))
        else:
            self.reply_vote(self._msg(resp, m.src, reject=True))

    # ---- the step function -----------------------------------------------

    def dispatch(self, m: RaftMessage) -> None:
        if m.term > self.term:
            sticky = m.type in (MT.VOTE, MT.PRE_VOTE) and m.context != TRANSFER_CONTEXT
            if sticky and self.in_lease():
                return  # leader stickiness: a leader we trust is alive
            if m.type == MT.PRE_VOTE or (m.type == MT.PRE_VOTE_RESP and not m.reject):
                pass  # a pre-vote never changes terms; a granted one is counted below
            elif m.type in _REPLICATION:
                self.become_follower(m.term, m.src)
            else:
                self.become_follower(m.term, None)
        elif m.term < self.term:
            if m.type in (MT.APP, MT.HEARTBEAT) and (self.cfg.check_quorum or self.cfg.pre_vote):
                # A stale leader that nobody answers would never learn it is stale
                # (its pre-votes are ignored): tell it our term.
                self.send(self._msg(MT.APP_RESP, m.src))
            elif m.type == MT.PRE_VOTE:
                self.reply_vote(self._msg(MT.PRE_VOTE_RESP, m.src, reject=True))
            return
        if m.type in (MT.VOTE, MT.PRE_VOTE):
            self.handle_vote_request(m)
        elif self.role == Role.LEADER:
            self.step_leader(m)
        elif self.role in (Role.CANDIDATE, Role.PRE_CANDIDATE):
            self.step_candidate(m)
        else:
            self.step_follower(m)

    def step_leader(self, m: RaftMessage) -> None:
        """The leader's half lives in leader.py (RaftLeader overrides this)."""

    def maybe_commit(self) -> None:
        """Leader only: advance the commit index (RaftLeader overrides this)."""

    def step_candidate(self, m: RaftMessage) -> None:
        if m.type in _REPLICATION:
            self.become_follower(m.term, m.src)
            self.step_follower(m)
        elif (m.type == MT.PRE_VOTE_RESP and self.role == Role.PRE_CANDIDATE) or (
            m.type == MT.VOTE_RESP and self.role == Role.CANDIDATE
        ):
            self.votes.setdefault(m.src, not m.reject)
            self.poll()

    def step_follower(self, m: RaftMessage) -> None:
        if m.type in _REPLICATION:
            self.election_elapsed = 0
            self.lead = m.src
            if m.type == MT.APP:
                self.handle_append(m)
            elif m.type == MT.HEARTBEAT:
                self.handle_heartbeat(m)
            else:
                self.handle_snapshot(m)
        elif m.type == MT.TIMEOUT_NOW:
            self.hup(transfer=True)
        elif m.type == MT.READ_INDEX_RESP:
            self.read_states.append(ReadState(m.index, m.context))

    # ---- follower side of replication ------------------------------------

    def reply_append(self, msg: RaftMessage) -> None:
        """Narrow: an append ack promises durability, so it waits for the persist."""
        self._after.append(msg)

    def append_from_leader(self, m: RaftMessage) -> int:
        """Narrow: put the leader's entries after m.index (matched); return last new index."""
        conflict = self.log.find_conflict(m.entries)
        if conflict:
            start = conflict - m.index - 1
            self.append_entries(list(m.entries[start:]))
        return m.index + len(m.entries)

    def follower_commit_limit(self, m: RaftMessage, last_new: int) -> int:
        """Narrow: the leader's commit index moves ours only over entries this very
        append proved to match the leader's log (a longer stale suffix may not)."""
        return min(m.commit, last_new)

    def handle_append(self, m: RaftMessage) -> None:
        if m.index < self.log.committed:
            self.reply_append(self._msg(MT.APP_RESP, m.src, index=self.log.committed))
            return
        if self.log.match_term(m.index, m.log_term):
            last_new = self.append_from_leader(m)
            self.log.commit_to(self.follower_commit_limit(m, last_new))
            self.reply_append(self._msg(MT.APP_RESP, m.src, index=last_new))
            return
        if self.cfg.conflict_hints:
            hint_index, hint_term = self.log.find_conflict_by_term(
                min(m.index, self.log.last_index), m.log_term
            )
        else:
            hint_index, hint_term = min(self.log.committed, self.log.last_index), 0
        self.reply_append(
            self._msg(
                MT.APP_RESP,
                m.src,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def handle_heartbeat(self, m: RaftMessage) -> None:
        self.log.commit_to(m.commit)
        last = self.log.last_index
        # reject_hint = what the leader believes we hold; tell it when we do not.
        lost = last < m.reject_hint
        self._after.append(
            self._msg(
                MT.HEARTBEAT_RESP,
                m.src,
                seq=m.seq,
                index=m.index,
                reject=lost,
                reject_hint=last if lost else 0,
            )
        )

    def handle_snapshot(self, m: RaftMessage) -> None:
        snap = m.snapshot
        if snap is None or snap.index <= self.log.committed:
            self.reply_append(self._msg(MT.APP_RESP, m.src, index=self.log.committed))
            return
        if self.log.match_term(snap.index, snap.term):
            # We already hold that prefix: just learn it is committed.
            self.log.commit_to(snap.index)
            self.reply_append(self._msg(MT.APP_RESP, m.src, index=self.log.committed))
            return
        self.log.restore(snap.index, snap.term)
        self.snapshot = snap
        self.pending_snapshot = snap
        self.conf = ConfHistory(snap.index, snap.membership)
        self.on_membership_change()
        self.reply_append(self._msg(MT.APP_RESP, m.src, index=snap.index))

    def append_entries(self, entries: list[Entry]) -> None:
        """Every log append goes through here, so membership follows the log."""
        if not entries:
            return
        changed = self.conf.truncate_from(entries[0].index)
        self.log.append(entries)
        if self.conf.on_append(entries):
            changed = True
            if self.role == Role.LEADER:
                self.pending_conf_index = self.conf.last_change_index
        if changed:
            self.on_membership_change()
