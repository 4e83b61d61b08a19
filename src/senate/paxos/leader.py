"""The distinguished proposer: phase 2, commit, heartbeats, reads, transfer.

Rules this file keeps:
- right after phase 1 the leader's log is the adopted one; `sync_end` is its last
  slot. Every accept whose slots start at or before `sync_end` carries the log
  through `sync_end` (one message), so an acceptor of an older ballot switches
  to this ballot in one step (core.accept_entries). Beyond it, accepts are
  batched (every proposal made between two Readies leaves in one accept, up to
  max_msg_entries) and pipelined (max_inflight per acceptor), one round trip per
  command: a slot is chosen once a quorum acknowledged it in this ballot;
- an acknowledgement of slot q in this ballot covers every slot <= q (acceptors
  take slots in order and check the slot before), so commit is the largest q a
  quorum acknowledged — in *every* configuration that governs a slot between the
  old commit and q. The leader counts itself only up to its own durable log, and
  only once its accepted ballot is durable;
- membership, alpha = 1: a CONF_CHANGE at slot i governs slots > i; while one is
  unchosen the leader proposes nothing else (ProposalDropped), and none is
  proposed before the re-proposed log is chosen (commit >= sync_end). So at
  most one change is in flight and consecutive configurations differ by one
  server: any majority of one meets any majority of the next;
- reads: read_index records the commit index once the leader has chosen its
  re-proposed log, then waits for a heartbeat round sent after it to be answered
  by a quorum of voters (acceptors answer only ballots >= their promise), so no
  higher ballot could have chosen anything by then;
- an answer carrying a higher ballot from any acceptor we replicate to (voter or
  learner) preempts us: we re-run phase 1 above it at once (classic Multi-Paxos;
  else that acceptor refuses us forever and never catches up); CheckQuorum: without answers from a
  quorum for an election timeout, the leader steps down;
- lost accepts in REPLICATE are noticed when heartbeats are answered but acks do
  not move: after a few such rounds the acceptor falls back to PROBE.
"""

from __future__ import annotations

from senate.consensus.types import Entry, EntryKind, Membership, ReadState, Role
from senate.paxos.core import MT, Adoption, PaxosCore, ReadRequest
from senate.paxos.messages import PaxosMessage
from senate.paxos.progress import Flow, Progress

STALL_ROUNDS = 3


def quorum_slot(voters: frozenset[str], match_of: dict[str, int]) -> int:
    """The largest slot a majority of `voters` acknowledged (0 with no voters)."""
    matches = sorted((match_of.get(v, 0) for v in voters), reverse=True)
    return matches[len(matches) // 2] if matches else 0


class PaxosLeader(PaxosCore):
    def become_leader(self, ad: Adoption) -> None:
        super().become_leader(ad)
        self.sync_progress()
        self.bcast_accept()

    def sync_progress(self) -> None:
        members = self.membership.members | self.conf.at(self.log.committed).members
        for peer in list(self.progress):
            if peer not in members:
                del self.progress[peer]
        for peer in sorted(members):
            if peer != self.node_id and peer not in self.progress:
                self.progress[peer] = Progress(
                    match=0, next=self.log.committed + 1, max_inflight=self.cfg.max_inflight
                )

    def on_membership_change(self) -> None:
        super().on_membership_change()
        if self.role == Role.LEADER:
            self.sync_progress()
            if self.transferee not in self.membership.voters:
                self.transferee = None

    # ---- sending -----------------------------------------------------------

    def send_accept(self, to: str, send_if_empty: bool = True) -> bool:
        pr = self.progress.get(to)
        if pr is None or pr.is_paused():
            return False
        log = self.log
        prev = pr.next - 1
        snap = None
        if prev < log.offset:
            snap = self.snapshot
            if snap is None:
                return False
            prev = snap.index
        prev_term = log.term(prev) if snap is None else snap.term
        if prev_term is None:
            return False
        hi = min(log.last_index, prev + self.cfg.max_msg_entries)
        if prev < self.sync_end:
            hi = max(hi, self.sync_end)
        ents = log.slice(prev + 1, hi)
        if not ents and not send_if_empty and snap is None:
            return False
        if snap is not None:
            pr.become_snapshot(snap.index)
        elif ents:
            pr.sent(hi)
        elif pr.state == Flow.PROBE:
            pr.probe_sent = True
        self.send(
            self.msg(
                MT.ACCEPT,
                to,
                self.ballot,
                index=prev,
                log_term=prev_term,
                entries=tuple(ents),
                commit=log.committed,
                sync_end=self.sync_end,
                snapshot=snap,
            )
        )
        return True

    def bcast_accept(self) -> None:
        for peer in sorted(self.progress):
            self.send_accept(peer)

    def bcast_heartbeat(self) -> int:
        self.hb_round += 1
        for peer, pr in sorted(self.progress.items()):
            commit = min(pr.match, self.log.committed)
            self.send(self.msg(MT.HEARTBEAT, peer, self.ballot, commit=commit, seq=self.hb_round))
        return self.hb_round

    def append_proposal(self, kind: EntryKind, data: bytes) -> None:
        # Batching: proposals made between two Readies leave together (flush_accepts).
        self.write_from([Entry(self.log.last_index + 1, self.ballot, kind, data)])
        self.accepts_due = True

    def flush_accepts(self) -> None:
        """Send what was proposed since the last Ready, batched, up to each window."""
        self.accepts_due = False
        if self.role != Role.LEADER:
            return
        for peer in sorted(self.progress):
            while self.send_accept(peer, send_if_empty=False):
                pass

    # ---- commit ----------------------------------------------------------

    def self_match(self) -> int:
        if self.durable_accepted != self.ballot:
            return 0
        return self.log.stable

    def chosen_limit(self) -> int:
        """Narrow: the largest slot acknowledged by a quorum of every governing configuration."""
        matches = {p: pr.match for p, pr in self.progress.items()}
        matches[self.node_id] = self.self_match()
        commit, last = self.log.committed, self.log.last_index
        segments: list[tuple[int, Membership]] = [(commit, self.conf.at(commit))]
        segments += [s for s in self.conf.after(commit) if s[0] < last]
        reach, chosen = last, commit
        for k, (start, m) in enumerate(segments):
            reach = min(reach, quorum_slot(m.voters, matches))
            end = segments[k + 1][0] if k + 1 < len(segments) else last
            if reach <= start:
                break
            chosen = min(reach, end)
            if reach < end:
                break
        return chosen

    def maybe_commit(self) -> None:
        if self.role != Role.LEADER or not self.log.commit_to(self.chosen_limit()):
            return
        self.bcast_accept()
        if self.reads_waiting and self.log.committed >= self.sync_end:
            waiting, self.reads_waiting = self.reads_waiting, []
            for origin, ctx in waiting:
                self.leader_read(origin, ctx)
        if not self.promotable() and self.log.committed >= self.conf.last_change_index:
            self.become_follower(None)  # our own removal is chosen

    # ---- receiving -------------------------------------------------------

    def preempted(self, m: PaxosMessage) -> bool:
        """A refusal naming a higher ballot: re-run phase 1 above it.

        Any acceptor we replicate to counts, learners too: an acceptor never takes
        a ballot below its promise, so one holding a higher promise (a learner that
        promised a candidate whose log made it a voter, or a voter that rejoined
        as a learner with its old disk) would otherwise be refused forever and
        never catch up, nor be promoted."""
        if m.ballot <= self.ballot:
            return False
        self.max_seen = max(self.max_seen, m.ballot)
        if m.src in self.progress:
            self.campaign()
        return True

    def handle_accepted(self, m: PaxosMessage) -> None:
        pr = self.progress.get(m.src)
        if pr is None or (m.reject and self.preempted(m)) or m.ballot != self.ballot:
            return
        if m.reject:
            if pr.refused(m.index, m.hint):
                self.send_accept(m.src)
            return
        pr.recent_active = True
        was_paused = pr.is_paused()
        if pr.acked(m.index):
            self.maybe_commit()
        if self.role != Role.LEADER:
            return
        if was_paused:
            self.send_accept(m.src)
        while self.send_accept(m.src, send_if_empty=False):
            pass
        if m.src == self.transferee and pr.match == self.log.last_index:
            self._after.append(self.msg(MT.TIMEOUT_NOW, m.src, self.ballot))

    def handle_heartbeat_resp(self, m: PaxosMessage) -> None:
        pr = self.progress.get(m.src)
        if pr is None or (m.reject and self.preempted(m)) or m.ballot != self.ballot:
            return
        pr.recent_active = True
        if m.src in self.membership.voters:
            self.acked_round[m.src] = max(self.acked_round.get(m.src, 0), m.seq)
        if pr.state == Flow.REPLICATE and pr.match < self.log.last_index:
            pr.stalled_rounds += 1
            if pr.stalled_rounds >= STALL_ROUNDS:
                pr.become_probe()
        if pr.state == Flow.PROBE:
            pr.probe_sent = False
            self.send_accept(m.src)
        self.process_reads()

    # ---- reads -----------------------------------------------------------

    def read_confirmed_now(self) -> bool:
        """Narrow: may a read be served without a heartbeat round?"""
        return self.membership.voters == {self.node_id}

    def leader_read(self, origin: str, ctx: bytes) -> None:
        if self.log.committed < self.sync_end:
            self.reads_waiting.append((origin, ctx))
            return
        index = self.log.committed
        if self.read_confirmed_now():
            self.release_read(origin, index, ctx)
            return
        self.reads.append(ReadRequest(index, ctx, origin, self.bcast_heartbeat()))

    def process_reads(self) -> None:
        voters = self.membership.voters
        while self.reads:
            rnd = self.reads[0].round
            acked = {v for v, r in self.acked_round.items() if r >= rnd} | {self.node_id}
            if len(voters & acked) < self.membership.quorum():
                return
            req = self.reads.popleft()
            self.release_read(req.origin, req.index, req.ctx)

    def release_read(self, origin: str, index: int, ctx: bytes) -> None:
        if origin == self.node_id:
            self.read_states.append(ReadState(index, ctx))
        else:
            self._after.append(
                self.msg(MT.READ_INDEX_RESP, origin, self.ballot, index=index, context=ctx)
            )

    # ---- time ------------------------------------------------------------

    def tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        for pr in self.progress.values():
            if pr.state == Flow.SNAPSHOT:
                pr.snapshot_elapsed += 1
                if pr.snapshot_elapsed >= self.cfg.election_ticks:
                    pr.become_probe()
        if self.election_elapsed >= self.cfg.election_ticks:
            self.election_elapsed = 0
            active = {self.node_id} | {p for p, pr in self.progress.items() if pr.recent_active}
            for pr in self.progress.values():
                pr.recent_active = False
            if len(self.membership.voters & active) < self.membership.quorum():
                self.become_follower(None)
                return
            self.transferee = None  # a transfer that did not finish in time aborts
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self.bcast_heartbeat()
