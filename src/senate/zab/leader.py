"""The leader's half of ZAB: discovery, synchronization, broadcast, reads, transfer.

Rules this file keeps:
- discovery: the prospective leader collects FOLLOWERINFO (accepted epochs) from
  a quorum of voters (itself included), proposes an epoch above every one of them
  (NEWEPOCH), persists it as its own acceptedEpoch and collects ACKEPOCH (current
  epoch, last zxid) from a quorum. If any of them is ahead of its own (currentEpoch,
  last zxid) it gives up (ZooKeeper's "follower is ahead of the leader"): so an
  established leader's history holds every committed proposal. Only then does it
  report Role.LEADER (before that it is a CANDIDATE), persist currentEpoch and
  remember `epoch_base` (its history's last index: the epoch's zxid counters
  count from there);
- synchronization, per follower session, in the stream: SYNC (DIFF when the
  follower's history is a prefix of ours, TRUNC when it holds proposals we do not
  — cut after the last index where both hold the same (index, epoch) — SNAP when
  that point is behind our snapshot), then NEWLEADER. A session sends every later
  PROPOSAL and COMMIT after its SYNC, in order: a joining follower misses nothing;
- broadcast: a follower's ACKs count only after it acked NEWLEADER (its current
  epoch is ours and its history is ours). The leader counts itself with its
  durable history only, once its currentEpoch is durable. Commit = the largest
  index a quorum of voters hold: this commits the initial history once a quorum
  acked NEWLEADER (ZAB phase 2) and each proposal once a quorum acked it;
- each epoch opens with a NOOP proposal (counter 1, open_epoch: why there);
- counter roll-over: a proposal whose counter (index - epoch_base) would pass
  max_counter is refused and the leader goes LOOKING, so a new epoch begins;
- reads (ZooKeeper's sync, made a read index): once the initial history is
  committed, a read records the commit index and waits until a quorum answered a
  PING round sent after it; a follower that accepted a newer epoch never answers;
- membership changes one server at a time (observers are Role.LEARNER): a
  change takes effect on a node when its CONF_CHANGE proposal is in its history
  (undone by a TRUNC). Safety rule, enforced by node.py: at most one uncommitted
  change; none before the initial history is committed; PROMOTE only for an
  observer whose session is synced and holds every committed proposal; a leader
  that removed itself leads until that change commits, then goes LOOKING. Why it
  is safe: majorities of two configurations one voter apart overlap, and the
  prospective leader's configuration (the one it counts quorums in) comes from a
  history that holds every committed change;
- a leader that heard from no quorum for election_ticks, that is not established
  within 2 election timeouts or whose initial history is not committed within 4
  goes back to LOOKING.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from senate.consensus.types import Entry, EntryKind, ReadState, Role
from senate.zab.core import MT, Vote, ZabCore
from senate.zab.log import Zxid
from senate.zab.messages import ServerState, SyncMode, ZabMessage


@dataclass(slots=True)
class Session:
    attempt: int
    seq: int = 0
    started: bool = False  # NEWEPOCH sent
    acked: tuple[int, Zxid, int, tuple[tuple[int, int], ...]] | None = None  # ACKEPOCH
    sync_sent: bool = False
    synced: bool = False  # NEWLEADER acked
    match: int = 0
    uncounted: bool = False  # its ACKEPOCH was for an epoch it acked to another leader


@dataclass(slots=True)
class ReadRequest:
    index: int
    ctx: bytes
    origin: str
    round: int


@dataclass(slots=True)
class _Seen:
    attempts: deque[int] = field(default_factory=lambda: deque(maxlen=16))


class ZabLeader(ZabCore):
    def reset_leader_state(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.seen: dict[str, _Seen] = {}
        self.infos: dict[str, int] = {}
        self.new_epoch: int | None = None
        self.established = False
        self.epoch_base = 0
        self.lead_elapsed = 0
        self.heartbeat_elapsed = 0
        self.heard: set[str] = set()
        self.hb_round = 0
        self.acked_round: dict[str, int] = {}
        self.reads: deque[ReadRequest] = deque()
        self.reads_waiting: list[tuple[str, bytes]] = []
        self.transferee: str | None = None
        self.pending_conf_index = 0

    # ---- queries -----------------------------------------------------------

    @property
    def role(self) -> Role:
        if self.state == ServerState.LEADING:
            return Role.LEADER if self.established else Role.CANDIDATE
        if self.state == ServerState.FOLLOWING:
            return Role.FOLLOWER if self.promotable() else Role.LEARNER
        return Role.CANDIDATE if self.promotable() else Role.LEARNER

    def active(self) -> bool:
        """Established, the initial history committed and the epoch known to a quorum
        (NEWLEADER acked, ZAB phase 2 done): broadcast proper. The last part matters
        even when the initial history was committed before: until a quorum holds the
        new currentEpoch, a branch of an older epoch can still win an election, and a
        membership change proposed now could leave it a quorum disjoint from ours
        (seed 207: two leaders of one epoch, each with its own uncommitted change)."""
        if not self.established or self.log.committed < self.epoch_base:
            return False
        synced = {p for p, s in self.sessions.items() if s.synced}
        if self.durable_current == self.current_epoch:
            synced.add(self.node_id)
        return self.quorum_of(synced)

    def leader_notification(self) -> Vote:
        return Vote(self.node_id, self.current_epoch, self.log.zxid())

    def offered_epoch(self) -> int:
        return self.new_epoch or 0 if self.state == ServerState.LEADING else 0

    # ---- discovery ---------------------------------------------------------

    def become_leading(self) -> None:
        self.reset_leader_state()
        self._reset_follower()
        self.state = ServerState.LEADING
        self.leader = self.node_id
        self.elapsed = 0
        self.infos = {self.node_id: self.accepted_epoch}
        self.notify_all()  # LOOKING nodes that lag learn at once whom to follow
        self.maybe_choose_epoch()

    def choose_epoch(self) -> int:
        """Narrow: the new epoch, above every accepted epoch the quorum reported."""
        return max(self.infos.values()) + 1

    def maybe_choose_epoch(self) -> None:
        if self.new_epoch is not None or not self.quorum_of(self.infos):
            return
        self.new_epoch = self.choose_epoch()
        self.accepted_epoch = self.new_epoch
        self.accepted_from = self.node_id
        for peer in sorted(self.sessions):
            self.start_session(peer)

    def start_session(self, peer: str) -> None:
        sess = self.sessions[peer]
        if self.new_epoch is None or sess.started:
            return
        sess.started = True
        self.stream(peer, MT.NEWEPOCH, epoch=self.new_epoch)

    def stream(self, peer: str, mtype: MT, **fields: Any) -> None:
        """A message in `peer`'s session stream: the next seq, replication traffic."""
        sess = self.sessions[peer]
        msg = ZabMessage(mtype, self.node_id, peer, attempt=sess.attempt, seq=sess.seq, **fields)
        sess.seq += 1
        self._now.append(msg)

    def quorum_of(self, nodes: Container[str]) -> bool:
        voters = self.membership.voters
        return sum(1 for v in voters if v in nodes) >= len(voters) // 2 + 1

    def on_followerinfo(self, m: ZabMessage) -> None:
        if m.src not in self.membership.members:
            return
        seen = self.seen.setdefault(m.src, _Seen())
        if m.attempt in seen.attempts:
            return  # a duplicate of a registration we already answered
        seen.attempts.append(m.attempt)
        if self.new_epoch is not None and m.epoch > self.new_epoch:
            # It accepted a newer epoch (a failed bid) and can never ack ours: as
            # ZooKeeper's learner refuses such a leader, it would stay out for as
            # long as we lead. Give up, so the next epoch is above its own.
            self.become_looking()
            return
        self.sessions[m.src] = Session(m.attempt)
        self.heard.add(m.src)
        if self.new_epoch is None:
            self.infos[m.src] = m.epoch
            self.maybe_choose_epoch()
        else:
            self.start_session(m.src)

    def on_ackepoch(self, m: ZabMessage, sess: Session) -> None:
        if not sess.started or sess.acked is not None:
            return
        sess.acked = (m.epoch, m.zxid, m.commit, m.runs)
        sess.uncounted = m.flag
        if self.established:
            self.send_sync(m.src)
        else:
            self.maybe_establish()

    def ahead_of_me(self, epoch: int, zxid: Zxid) -> bool:
        """Narrow: is a follower's (currentEpoch, last zxid) ahead of ours?"""
        return (epoch, zxid) > (self.current_epoch, self.log.zxid())

    def maybe_establish(self) -> None:
        if self.established or self.new_epoch is None:
            return
        if self.durable_accepted != self.new_epoch:
            return  # our own ACKEPOCH counts once our acceptedEpoch is durable
        acked = {p for p, s in self.sessions.items() if s.acked is not None and not s.uncounted}
        acked.add(self.node_id)
        if not self.quorum_of(acked):
            return
        for peer in sorted(acked - {self.node_id}):
            info = self.sessions[peer].acked
            assert info is not None
            if self.ahead_of_me(info[0], info[1]):
                self.become_looking()
                return
        self.established = True
        self.current_epoch = self.new_epoch
        self.epoch_base = self.log.last_index
        self.pending_conf_index = self.log.last_index
        self.lead_elapsed = 0
        self.open_epoch()
        for peer in sorted(p for p, s in self.sessions.items() if s.acked is not None):
            self.send_sync(peer)  # the uncounted ones follow too
        self.maybe_commit()

    def open_epoch(self) -> None:
        """Start the epoch's history with a NOOP proposal (counter 1), before any
        SYNC goes out. Not in ZooKeeper; needed because the driver's log drops a
        suffix only when an entry is written over it: a TRUNC cutting a follower
        right at its snapshot (whose entry is gone from memory) with nothing after
        it never reached the disk, and a crash brought the dead proposals back.
        With the NOOP every SYNC carries an entry after any point it cuts to, so
        the cut is durable before the follower acks NEWLEADER. It is committed with
        the initial history (a quorum acking NEWLEADER)."""
        self.append_entries([Entry(self.epoch_base + 1, self.current_epoch, EntryKind.NOOP)])

    # ---- synchronization ---------------------------------------------------

    def sync_point(self, commit: int, zxid: Zxid, runs: tuple[tuple[int, int], ...]) -> int:
        """Narrow: the last index where the follower's history and ours agree."""
        log = self.log
        their: dict[int, int] = {}
        prev = commit
        for epoch, last in runs:
            for i in range(prev + 1, last + 1):
                their[i] = epoch
            prev = last
        for i in range(min(zxid[1], log.last_index), commit, -1):
            mine = log.epoch(i)
            if mine is None:
                break  # compacted: cannot compare below here
            if mine == their.get(i):
                return i
        return min(commit, log.last_index)

    def send_sync(self, peer: str) -> None:
        sess = self.sessions[peer]
        if sess.acked is None or sess.sync_sent:
            return
        _, zxid, commit, runs = sess.acked
        log = self.log
        point = self.sync_point(commit, zxid, runs)
        snap = None
        if point < log.offset:
            snap = self.snapshot
            assert snap is not None and snap.index == log.offset
            mode, start = SyncMode.SNAP, log.offset
        elif point < zxid[1]:
            mode, start = SyncMode.TRUNC, point
        else:
            mode, start = SyncMode.DIFF, point
        entries = tuple(log.slice(start + 1, log.last_index))
        sess.sync_sent = True
        self.stream(
            peer,
            MT.SYNC,
            mode=mode,
            index=start,
            snapshot=snap,
            entries=entries,
            commit=log.committed,
        )
        self.stream(peer, MT.NEWLEADER, epoch=self.current_epoch)

    # ---- broadcast ---------------------------------------------------------

    def counter_of(self, index: int) -> int:
        return index - self.epoch_base

    def leader_append(self, entry: Entry) -> None:
        self.append_entries([entry])
        for peer in sorted(self.sessions):
            if self.sessions[peer].sync_sent:
                self.stream(peer, MT.PROPOSAL, entries=(entry,))

    def on_ack(self, m: ZabMessage, sess: Session) -> None:
        if not m.flag:
            return
        sess.synced = True
        sess.match = max(sess.match, min(m.index, self.log.last_index))
        self.maybe_commit()
        if m.src == self.transferee and self.state == ServerState.LEADING:
            self.maybe_transfer()

    def match_of(self, node: str) -> int:
        if node == self.node_id:
            # Only what our disk holds, and only once it knows our epoch.
            return self.log.stable if self.durable_current == self.current_epoch else 0
        sess = self.sessions.get(node)
        return sess.match if sess is not None and sess.synced else 0

    def commit_candidate(self) -> int:
        """Narrow: the largest index a quorum of voters durably hold."""
        matches = sorted((self.match_of(v) for v in self.membership.voters), reverse=True)
        return matches[len(matches) // 2] if matches else 0

    def maybe_commit(self) -> None:
        if not self.established:
            return
        index = self.commit_candidate()
        if not self.log.commit_to(index):
            return
        for peer in sorted(self.sessions):
            if self.sessions[peer].sync_sent:
                self.stream(peer, MT.COMMIT, commit=self.log.committed)
        if self.reads_waiting and self.active():
            waiting, self.reads_waiting = self.reads_waiting, []
            for origin, ctx in waiting:
                self.leader_read(origin, ctx)
        if not self.promotable() and self.log.committed >= self.conf.last_change_index:
            self.become_looking()  # our own removal is committed

    def on_membership_change(self) -> None:
        if self.state != ServerState.LEADING:
            if self.state == ServerState.LOOKING:
                self.recv = {k: v for k, v in self.recv.items() if k in self.membership.voters}
            return
        for peer in list(self.sessions):
            if peer not in self.membership.members:
                del self.sessions[peer]
        if self.transferee not in self.membership.voters:
            self.transferee = None
        self.pending_conf_index = max(self.pending_conf_index, self.conf.last_change_index)
        self.maybe_commit()

    # ---- reads -------------------------------------------------------------

    def bcast_ping(self) -> int:
        self.hb_round += 1
        for peer in sorted(self.sessions):
            sess = self.sessions[peer]
            if sess.started:
                commit = self.log.committed if sess.sync_sent else 0
                # flag: its NEWLEADER ack is counted (else it repeats its last reply)
                self.stream(peer, MT.PING, round=self.hb_round, commit=commit, flag=sess.synced)
        return self.hb_round

    def read_confirmed_now(self) -> bool:
        """Narrow: may a read be served without a PING round? (alone only)"""
        return self.membership.voters == {self.node_id}

    def leader_read(self, origin: str, ctx: bytes) -> None:
        if not self.active():
            self.reads_waiting.append((origin, ctx))
            return
        index = self.log.committed
        if self.read_confirmed_now():
            self.release_read(origin, index, ctx)
            return
        self.reads.append(ReadRequest(index, ctx, origin, self.bcast_ping()))

    def process_reads(self) -> None:
        while self.reads:
            rnd = self.reads[0].round
            acked = {v for v, r in self.acked_round.items() if r >= rnd}
            acked.add(self.node_id)
            if not self.quorum_of(acked):
                return
            req = self.reads.popleft()
            self.release_read(req.origin, req.index, req.ctx)

    def release_read(self, origin: str, index: int, ctx: bytes) -> None:
        if origin == self.node_id:
            self.read_states.append(ReadState(index, ctx))
        else:
            self.send(self._msg(MT.READ_RESP, origin, index=index, context=ctx))

    # ---- transfer ----------------------------------------------------------

    def maybe_transfer(self) -> None:
        target = self.transferee
        if target is None:
            return
        sess = self.sessions.get(target)
        if sess is None or not sess.synced or sess.match < self.log.last_index:
            return
        self.send(self._msg(MT.TRANSFER, target))
        vote = Vote(target, self.current_epoch, self.log.zxid(), transfer=True)
        self.become_looking(vote)

    # ---- receiving ---------------------------------------------------------

    def step_leader(self, m: ZabMessage) -> None:
        if m.type == MT.FOLLOWERINFO:
            self.on_followerinfo(m)
            return
        if m.type == MT.READ:
            self.leader_read(m.src, m.context)
            return
        sess = self.sessions.get(m.src)
        if sess is None or m.attempt != sess.attempt:
            return
        self.heard.add(m.src)
        if m.type == MT.ACKEPOCH:
            self.on_ackepoch(m, sess)
        elif m.type == MT.ACK:
            self.on_ack(m, sess)
        elif m.type == MT.PING_ACK:
            self.acked_round[m.src] = max(self.acked_round.get(m.src, 0), m.round)
            self.process_reads()

    def on_durable(self) -> None:
        """The driver made more of our state durable (node.py calls this)."""
        if self.state == ServerState.LEADING:
            self.maybe_establish()
            self.maybe_commit()

    # ---- time --------------------------------------------------------------

    def tick_leader(self) -> None:
        self.lead_elapsed += 1
        self.heartbeat_elapsed += 1
        et = self.cfg.election_ticks
        if (not self.established and self.lead_elapsed >= 2 * et) or (
            not self.active() and self.lead_elapsed >= 4 * et
        ):
            self.become_looking()
            return
        if self.elapsed >= et:
            self.elapsed = 0
            heard = self.heard | {self.node_id}
            self.heard = set()
            if not self.quorum_of(heard):
                self.become_looking()
                return
            self.transferee = None  # a transfer that did not finish in time aborts
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self.bcast_ping()

    def propose_entry(self, kind: EntryKind, data: bytes) -> bool:
        """Append a proposal of this epoch; False when the counter would roll over."""
        index = self.log.last_index + 1
        if self.counter_of(index) > self.cfg.max_counter:
            return False
        self.leader_append(Entry(index, self.current_epoch, kind, data))
        return True
