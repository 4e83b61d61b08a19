"""The Multi-Paxos state machine: ballots, phase 1, the acceptor.

Rules this file keeps (the theory of operation, in the manner of h11's _state.py):
- every protocol decision lives here and in leader.py; node.py only wraps them in
  the Ready/Advance handshake. No I/O, no clock, randomness only from the rng;
- roles: FOLLOWER (an acceptor that may know a leader), CANDIDATE (running
  phase 1 for its ballot), LEADER (the distinguished proposer). A learner is a
  follower that is not a voter; it accepts but is never counted;
- ballots (ballot.py) are ints ordered as (round, rank). An acceptor keeps two:
  `promised` (HardState.term: it answers no ballot below it) and `accepted`
  (HardState.vote as a decimal string: the ballot whose leader's log its own log
  is a prefix of). Both are durable before any reply that depends on them:
  every acceptor reply rides in `_after`, released only after the persist;
- phase 1 runs once per ballot, for every slot from the candidate's first
  unchosen slot s on. A promise carries the acceptor's accepted ballot, its
  commit and its log from s (with its snapshot when s is compacted away). With a
  quorum of promises (in every configuration that governs a slot >= s of the
  log it is about to adopt) the candidate takes the log of the promise with the
  highest accepted ballot, then the longest — per slot that *is* the value with
  the highest accepted ballot, because an acceptor's whole log was accepted in
  its accepted ballot. Slots that other promises reach beyond that log are
  holes: filled with NOOPs in the new ballot;
- why adopting that one log is safe. Say slot j was chosen in ballot B by a
  quorum QB. A phase-1 quorum for a higher ballot meets QB in some acceptor X,
  whose accepted ballot is >= B. Let A be the highest accepted ballot among the
  promises. If A == B, the longest log of ballot B is at least as long as X's,
  so it holds j. If A > B, some acceptor of QB promised A only after accepting
  j in B (after promising it would have refused B), so leader A's adopted log
  held j (induction on ballots) at or before A's sync point, and every acceptor
  whose accepted ballot is A holds A's log at least up to its sync point. So
  the chosen source holds slot j with its chosen value; what other promises
  hold beyond it was accepted in lower ballots and, by the same argument, was
  never chosen: a NOOP may take its place;
- Entry.term is the ballot that first proposed the value (re-proposing keeps the
  tag; NOOPs get the new ballot). So a chosen entry is the same bytes everywhere,
  tags never go down along a log, and (slot, tag) names one entry and one prefix:
  acceptors check the slot before the entries (index/log_term) like Raft does;
- the acceptor takes slots only in order. The first accept of a new ballot must
  reach the ballot's sync point (the last re-proposed slot); taking it, the
  acceptor drops whatever of its log lies beyond, then records the ballot as
  accepted. From then on its log is a prefix of the leader's, covering every
  slot the leader re-proposed. It cuts only above its commit index: the cut
  reaches the disk by rewriting the slot it keeps last, and a chosen slot may
  be compacted into a snapshot before that rewrite is written (the stale tail
  would stay on disk under the new ballot); an accept that reaches no further
  than the commit index is acked (those slots are chosen) without adopting;
- leader stickiness: an acceptor that heard from a leader within an election
  timeout ignores other prepares (unless marked transfer); a stale leader is
  told the higher ballot and re-runs phase 1 above it (leader.py).

Small methods marked "narrow" are the seams mutants.py overrides.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from senate.consensus.types import (
    ConfChange,
    DurableState,
    Entry,
    EntryKind,
    HardState,
    Membership,
    ReadState,
    Role,
    Snapshot,
)
from senate.paxos.ballot import check_ranks, next_ballot
from senate.paxos.config import PaxosConfig
from senate.paxos.errors import EngineMisuse
from senate.paxos.log import PaxosLog
from senate.paxos.membership import ConfHistory, apply_change
from senate.paxos.messages import TRANSFER_CONTEXT, MessageType, PaxosMessage
from senate.paxos.progress import Progress

MT = MessageType
REPLICATION = frozenset({MT.ACCEPT, MT.HEARTBEAT})


@dataclass(slots=True, frozen=True)
class Promise:
    """One phase-1b answer, as the candidate keeps it."""

    accepted: int
    commit: int
    prev: int  # the slot before `entries` (the snapshot's when there is one)
    entries: tuple[Entry, ...]
    snapshot: Snapshot | None

    @property
    def last(self) -> int:
        return self.prev + len(self.entries)


@dataclass(slots=True, frozen=True)
class Adoption:
    """The log a candidate will re-propose: an optional snapshot, then entries."""

    snapshot: Snapshot | None
    entries: list[Entry]  # from base + 1 on: the chosen source's log, then NOOPs
    base: int
    commit: int  # the highest commit any promise reported


@dataclass(slots=True)
class ReadRequest:
    index: int
    ctx: bytes
    origin: str
    round: int


def parse_accepted(vote: str | None) -> int:
    if vote is None:
        return 0
    if not vote.isdigit():
        raise EngineMisuse(f"paxos: bad accepted ballot in hard state: {vote!r}")
    return int(vote)


class PaxosCore:
    def __init__(
        self,
        node_id: str,
        membership: Membership,
        durable: DurableState,
        rng: random.Random,
        config: PaxosConfig | None = None,
    ) -> None:
        self.node_id = node_id
        self.cfg = config or PaxosConfig()
        self.rng = rng
        snap = durable.snapshot
        self.log = PaxosLog(
            snap.index if snap else 0, snap.term if snap else 0, list(durable.entries)
        )
        hs = durable.hard_state
        self.log.commit_to(hs.commit)
        self.snapshot: Snapshot | None = snap
        self.conf = ConfHistory(snap.index if snap else 0, snap.membership if snap else membership)
        self.conf.on_append(self.log.entries)
        check_ranks(self.conf.current.members | {node_id})
        self.promised = hs.term
        self.accepted = parse_accepted(hs.vote)
        self.durable_accepted = self.accepted  # what the driver reported durable
        self.max_seen = self.promised
        self.role = Role.FOLLOWER
        self.leader: str | None = None
        self.ballot = 0  # ours, while candidate or leader
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = self.cfg.election_ticks
        self.first_unchosen = 0  # candidate: s
        self.promises: dict[str, Promise] = {}
        self.prepared: set[str] = set()
        self.sync_end = 0  # leader: last slot of the re-proposed log
        self.progress: dict[str, Progress] = {}
        self.transferee: str | None = None
        self.hb_round = 0
        self.acked_round: dict[str, int] = {}
        self.reads: deque[ReadRequest] = deque()
        self.reads_waiting: list[tuple[str, bytes]] = []
        self._now: list[PaxosMessage] = []
        self._after: list[PaxosMessage] = []
        self.read_states: list[ReadState] = []
        self.pending_snapshot: Snapshot | None = None
        self.accepts_due = False  # leader: proposals wait for the next Ready (batching)
        self.become_follower(None)

    # ---- small queries ---------------------------------------------------

    @property
    def membership(self) -> Membership:
        return self.conf.current

    def promotable(self) -> bool:
        return self.node_id in self.membership.voters

    def hard_state(self) -> HardState:
        vote = str(self.accepted) if self.accepted else None
        return HardState(self.promised, vote, self.log.committed)

    def in_lease(self) -> bool:
        """Stickiness: heard from a leader within the minimum election timeout."""
        return self.leader is not None and self.election_elapsed < self.cfg.election_ticks

    def msg(self, mtype: MessageType, dst: str, ballot: int, **fields: Any) -> PaxosMessage:
        return PaxosMessage(mtype, self.node_id, dst, ballot, **fields)

    def send(self, m: PaxosMessage) -> None:
        (self._now if m.type in REPLICATION else self._after).append(m)

    def reply(self, m: PaxosMessage) -> None:
        """Narrow: an acceptor's answer rests on durable state, so it waits for the persist."""
        self._after.append(m)

    # ---- role changes ----------------------------------------------------

    def reset(self) -> None:
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_timeout = self.cfg.election_ticks + self.rng.randrange(
            self.cfg.election_ticks
        )
        self.promises = {}
        self.prepared = set()
        self.progress = {}
        self.transferee = None
        self.hb_round = 0
        self.acked_round = {}
        self.reads.clear()
        self.reads_waiting.clear()

    def become_follower(self, leader: str | None) -> None:
        self.reset()
        self.role = Role.FOLLOWER
        self.leader = leader
        self.ballot = 0

    def campaign(self, transfer: bool = False) -> None:
        """Phase 1a for a fresh ballot above anything seen, covering slots >= commit + 1."""
        if not self.promotable():
            return
        ballot = next_ballot(max(self.promised, self.max_seen), self.node_id)
        self.reset()
        self.role = Role.CANDIDATE
        self.leader = None
        self.ballot = self.promised = self.max_seen = ballot
        self.first_unchosen = self.log.committed + 1
        self.promises = {self.node_id: self.own_promise(self.first_unchosen)}
        self.prepared = {self.node_id}
        ctx = TRANSFER_CONTEXT if transfer else b""
        for voter in sorted(self.conf.at(self.log.committed).voters | self.membership.voters):
            self.send_prepare(voter, ctx)
        self.try_lead()

    def send_prepare(self, voter: str, ctx: bytes = b"") -> None:
        if voter in self.prepared:
            return
        self.prepared.add(voter)
        self._after.append(
            self.msg(MT.PREPARE, voter, self.ballot, index=self.first_unchosen, context=ctx)
        )

    def own_promise(self, first: int) -> Promise:
        log = self.log
        if first <= log.offset and self.snapshot is not None:
            return Promise(
                self.accepted, log.committed, log.offset, tuple(log.entries), self.snapshot
            )
        prev = min(first - 1, log.last_index)
        return Promise(
            self.accepted, log.committed, prev, tuple(log.slice(prev + 1, log.last_index)), None
        )

    # ---- phase 1, candidate side -----------------------------------------

    def choose_source(self) -> Promise:
        """Narrow: the promise whose log the new leader re-proposes (highest accepted ballot,
        then longest)."""
        return max(self.promises.values(), key=lambda p: (p.accepted, p.last))

    def adoption(self) -> Adoption:
        src = self.choose_source()
        base = self.first_unchosen - 1
        snap = None
        if src.snapshot is not None and src.snapshot.index > base:
            snap, base = src.snapshot, src.snapshot.index
        ents = [e for e in src.entries if e.index > base]
        end = max(p.last for p in self.promises.values())
        nxt = base + len(ents) + 1
        holes = [Entry(i, self.ballot, EntryKind.NOOP) for i in range(nxt, end + 1)]
        commit = max(p.commit for p in self.promises.values())
        return Adoption(snap, ents + holes, base, min(commit, base + len(ents)))

    def phase1_configs(self, ad: Adoption) -> list[Membership]:
        """Every configuration that governs a slot >= s in the log about to be adopted."""
        start = ad.snapshot.membership if ad.snapshot is not None else self.conf.at(ad.base)
        out = [self.conf.at(self.first_unchosen - 1), start]
        m = start
        for e in ad.entries:
            if e.kind == EntryKind.CONF_CHANGE:
                m = apply_change(m, ConfChange.decode(e.data))
                out.append(m)
        return out

    def try_lead(self) -> None:
        if self.role != Role.CANDIDATE:
            return
        ad = self.adoption()
        ready = True
        for m in self.phase1_configs(ad):
            if len(m.voters & self.promises.keys()) < m.quorum():
                ready = False
                for voter in sorted(m.voters):
                    self.send_prepare(voter)
        if ready:
            self.become_leader(ad)

    def become_leader(self, ad: Adoption) -> None:
        """Leader.py extends this: adopt the log, then start phase 2."""
        self.reset()
        self.role = Role.LEADER
        self.leader = self.node_id
        if ad.snapshot is not None:
            self.install(ad.snapshot)
        self.write_from(ad.entries)
        self.log.commit_to(ad.commit)
        self.accepted = self.ballot
        self.sync_end = self.log.last_index

    def handle_promise(self, m: PaxosMessage) -> None:
        if m.reject:
            self.max_seen = max(self.max_seen, m.ballot)
            return
        if self.role != Role.CANDIDATE or m.ballot != self.ballot:
            return
        self.promises[m.src] = Promise(m.accepted, m.commit, m.index, m.entries, m.snapshot)
        self.try_lead()

    # ---- the acceptor ----------------------------------------------------

    def ballot_ok(self, ballot: int) -> bool:
        """Narrow: may a phase-2 message of `ballot` be taken (no higher promise)?"""
        return ballot >= self.promised

    def handle_prepare(self, m: PaxosMessage) -> None:
        if m.ballot < self.promised:
            self.reply(self.msg(MT.PROMISE, m.src, self.promised, reject=True))
            return
        if m.ballot > self.promised:
            sticky = m.context != TRANSFER_CONTEXT and m.src != self.leader
            if sticky and self.in_lease():
                return  # a leader we trust is alive: do not let another preempt it
            keep = m.src if m.src == self.leader else None
            self.promised = self.max_seen = max(self.max_seen, m.ballot)
            self.become_follower(keep)
        elif self.role != Role.FOLLOWER:
            return  # our own ballot (cannot come from another node)
        p = self.own_promise(m.index)
        self.reply(
            self.msg(
                MT.PROMISE,
                m.src,
                m.ballot,
                accepted=self.accepted,
                commit=self.log.committed,
                index=p.snapshot.index if p.snapshot else p.prev,
                log_term=p.snapshot.term if p.snapshot else (self.log.term(p.prev) or 0),
                entries=p.entries,
                snapshot=p.snapshot,
            )
        )

    def follow(self, m: PaxosMessage) -> None:
        """A phase-2 message of a ballot >= our promise: its sender leads."""
        if m.ballot > self.promised:
            self.promised = self.max_seen = max(self.max_seen, m.ballot)
        if self.role != Role.FOLLOWER or self.leader != m.src:
            self.become_follower(m.src)
        self.election_elapsed = 0

    def handle_accept(self, m: PaxosMessage) -> None:
        if not self.ballot_ok(m.ballot):
            self.reply(self.msg(MT.ACCEPTED, m.src, self.promised, index=m.index, reject=True))
            return
        self.follow(m)
        q = self.accept_entries(m)
        if q is None:
            hint = min(self.log.committed, self.log.last_index)
            self.reply(
                self.msg(MT.ACCEPTED, m.src, m.ballot, index=m.index, hint=hint, reject=True)
            )
            return
        self.log.commit_to(min(m.commit, q))
        self.reply(self.msg(MT.ACCEPTED, m.src, m.ballot, index=q))

    def accept_entries(self, m: PaxosMessage) -> int | None:
        """Take the accept's slots; return the last slot now matching the leader's log
        (None: refused, the leader retries from our hint)."""
        log = self.log
        reach = m.index + len(m.entries)
        synced = self.accepted == m.ballot
        if not synced and reach < m.sync_end:
            return None  # a fresh ballot must bring us to its sync point at once
        snap = m.snapshot
        if snap is not None and snap.index > log.committed and log.term(snap.index) != snap.term:
            self.install(snap)
        if m.index > log.last_index:
            return None
        if m.index > log.committed and log.term(m.index) != m.log_term:
            return None
        fresh = [e for e in m.entries if e.index > log.committed]
        for i, e in enumerate(fresh):
            if log.term(e.index) != e.term:
                self.write_from(fresh[i:])
                break
        if not synced:
            cut = max(reach, log.committed)
            if log.last_index > cut:
                if cut <= log.committed:
                    # The cut reaches the disk as a rewrite of slot `cut`; a chosen
                    # slot may be applied and compacted into a snapshot before that
                    # rewrite is persisted, which would leave the stale tail on disk
                    # under the new accepted ballot. Everything up to `reach` is
                    # chosen here, so ack it and adopt the ballot with the next
                    # accept that reaches past the commit index.
                    return reach
                self.truncate_after(cut)
            self.accepted = m.ballot
        return reach

    def handle_heartbeat(self, m: PaxosMessage) -> None:
        if not self.ballot_ok(m.ballot):
            self.reply(self.msg(MT.HEARTBEAT_RESP, m.src, self.promised, seq=m.seq, reject=True))
            return
        self.follow(m)
        if self.accepted == m.ballot:
            self.log.commit_to(m.commit)  # our log is a prefix of the leader's
        self.reply(self.msg(MT.HEARTBEAT_RESP, m.src, m.ballot, seq=m.seq))

    # ---- log writes (membership follows the log) -------------------------

    def write_from(self, entries: list[Entry]) -> None:
        if not entries:
            return
        log = self.log
        # Skip what we already hold: rewriting equal entries would only cost I/O.
        held = 0
        while held < len(entries) and log.term(entries[held].index) == entries[held].term:
            held += 1
        entries = entries[held:]
        if not entries:
            return
        changed = self.conf.truncate_from(entries[0].index)
        log.append(entries)
        if self.conf.on_append(entries) or changed:
            self.on_membership_change()

    def truncate_after(self, index: int) -> None:
        self.log.truncate_after(index)
        if self.conf.truncate_from(index + 1):
            self.on_membership_change()

    def install(self, snap: Snapshot) -> None:
        self.log.restore(snap.index, snap.term)
        self.snapshot = snap
        self.pending_snapshot = snap
        self.conf = ConfHistory(snap.index, snap.membership)
        self.on_membership_change()

    def on_membership_change(self) -> None:
        """Leader.py extends this (progress for new members)."""
        if self.role == Role.CANDIDATE and not self.promotable():
            self.become_follower(None)
