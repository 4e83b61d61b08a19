"""The leader's half of Raft: replication, commit, heartbeats, reads, transfer.

Rules this file keeps:
- per-follower flow control is Progress's (progress.py): PROBE sends one append
  and waits; REPLICATE pipelines up to max_inflight appends of at most
  max_msg_entries / max_msg_bytes each; SNAPSHOT waits for the snapshot's ack;
- a rejection carries the follower's hint (index, term); the leader jumps to the
  last index of its own log whose term is <= that term (etcd findConflictByTerm),
  so a divergent suffix costs about one round trip per term, not per entry;
- commit = the largest index a quorum of voters holds *and* whose entry has the
  current term; the leader's own holding is `log.stable` (durable), never more;
- proposals and commit advances only mark `append_due`; ready() sends one append
  per follower for all of them (flush_appends), so followers learn a new commit
  index in the next Ready, with the entries proposed meanwhile; heartbeats carry
  it too (up to what the follower holds);
- ReadIndex: a read records the commit index, then waits for a heartbeat round
  sent after it to be answered by a quorum (this node's own answer is implicit).
  Reads are batched: all that arrive between two rounds wait for round
  hb_round + 1, which goes out at the next ready() (flush_read_round) or tick,
  so one quorum round serves them all and none is served by an older round;
  only a leader that committed an entry in its current term serves reads at all
  (earlier ones queue until then);
- lease reads (config.lease_reads, needs check_quorum, off by default) skip the
  round while a quorum answered a heartbeat *sent* less than
  election_ticks - lease_drift_ticks ticks ago. Why that is safe: a follower that
  heard from its leader ignores (pre)votes for election_ticks of its own ticks
  (CheckQuorum stickiness, core.in_lease), and with lease reads on a restarted
  node is deaf for that long too; so no other leader can arise before a quorum
  member's clock ran election_ticks past the heartbeat. The bound holds while no
  clock gains more than lease_drift_ticks per election timeout on the leader's.
  A TimeoutNow (forced votes) voids the lease for the rest of the term;
- lost appends in REPLICATE are detected when heartbeats keep being answered but
  acks stop: after a few such rounds the follower falls back to PROBE;
- a heartbeat carries the follower's `match` as the leader sees it; a follower
  whose log ends before that (it lost a torn tail it had acknowledged) answers
  with a reject and its last index, and the leader lowers `match` and probes
  from there at once (otherwise its rejections look stale and it is never repaired).
"""

from __future__ import annotations

from senate.consensus.types import ReadState, Role
from senate.raft.core import MT, RaftCore, ReadRequest
from senate.raft.messages import RaftMessage
from senate.raft.progress import Progress, ProgressState
from senate.raft.quorum import committed_index, has_quorum

STALL_ROUNDS = 3  # heartbeat answers without an ack before assuming appends were lost


class RaftLeader(RaftCore):
    def become_leader(self) -> None:
        super().become_leader()
        self.bcast_append()  # the NOOP goes out at once

    # ---- sending -----------------------------------------------------------

    def send_append(self, to: str, send_if_empty: bool = True) -> bool:
        pr = self.progress.get(to)
        if pr is None or pr.is_paused():
            return False
        prev = pr.next - 1
        prev_term = self.log.term(prev)
        if prev_term is None:
            return self.send_snapshot(to, pr)
        ents = self.log.slice(
            pr.next, self.log.last_index + 1, self.cfg.max_msg_entries, self.cfg.max_msg_bytes
        )
        if not ents and not send_if_empty:
            return False
        pr.sent(ents[-1].index if ents else None)
        self.send(
            self._msg(
                MT.APP,
                to,
                index=prev,
                log_term=prev_term,
                entries=tuple(ents),
                commit=self.log.committed,
            )
        )
        return True

    def send_snapshot(self, to: str, pr: Progress) -> bool:
        snap = self.snapshot
        if snap is None:
            return False
        pr.become_snapshot(snap.index)
        self.send(self._msg(MT.SNAP, to, snapshot=snap))
        return True

    def bcast_append(self) -> None:
        for peer in self.progress:
            self.send_append(peer)

    def bcast_heartbeat(self) -> int:
        """Send one heartbeat round; returns its number (for ReadIndex)."""
        self.hb_round += 1
        self.read_round_due = False  # this round started after every queued read arrived
        for peer, pr in self.progress.items():
            self.send(
                self._msg(
                    MT.HEARTBEAT,
                    peer,
                    commit=min(pr.match, self.log.committed),
                    seq=self.hb_round,
                    index=self.ticks,
                    reject_hint=pr.match,  # what we believe it holds (it says if it does not)
                )
            )
        return self.hb_round

    def send_timeout_now(self, to: str) -> None:
        self.transfer_sent = True
        self._after.append(self._msg(MT.TIMEOUT_NOW, to))

    # ---- commit ----------------------------------------------------------

    def match_of(self, node: str) -> int:
        if node == self.node_id:
            return self.log.stable  # only what our own disk holds
        pr = self.progress.get(node)
        return pr.match if pr else 0

    def can_commit_at(self, index: int) -> bool:
        """Narrow: only entries of the current term commit by counting (Figure 8)."""
        return self.log.term(index) == self.term

    def quorum_match(self) -> int:
        """Narrow: the largest index a majority of the voters hold."""
        return committed_index(self.membership.voters, self.match_of)

    def maybe_commit(self) -> None:
        index = self.quorum_match()
        if index <= self.log.committed or not self.can_commit_at(index):
            return
        self.log.commit_to(index)
        # Not an append per commit advance: one broadcast per Ready carries the new
        # commit index (and any new entries) to every follower (flush_appends).
        self.append_due = True
        if self.reads_waiting and self.committed_in_term():
            waiting, self.reads_waiting = self.reads_waiting, []
            for origin, ctx in waiting:
                self.leader_read(origin, ctx)
        if not self.promotable() and self.log.committed >= self.conf.last_change_index:
            # Our own removal is committed: the rest of the cluster goes on without us.
            self.become_follower(self.term, None)

    # ---- receiving -------------------------------------------------------

    def step_leader(self, m: RaftMessage) -> None:
        if m.type == MT.READ_INDEX:
            self.leader_read(m.src, m.context)
            return
        pr = self.progress.get(m.src)
        if pr is None:
            return
        if m.type == MT.APP_RESP:
            pr.recent_active = True
            self.handle_append_resp(m, pr)
        elif m.type == MT.HEARTBEAT_RESP:
            pr.recent_active = True
            self.handle_heartbeat_resp(m, pr)

    def handle_append_resp(self, m: RaftMessage, pr: Progress) -> None:
        if m.reject:
            next_probe = m.reject_hint
            if m.log_term > 0:
                next_probe, _ = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, next_probe):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self.send_append(m.src)
            return
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
            pr.become_probe()
            pr.become_replicate()
        elif pr.state == ProgressState.REPLICATE:
            pr.inflights.free_le(m.index)
        before = self.log.committed
        self.maybe_commit()
        if self.role != Role.LEADER:
            return
        if self.log.committed == before and was_paused:
            self.send_append(m.src)
        while self.send_append(m.src, send_if_empty=False):
            pass
        if m.src == self.lead_transferee and pr.match == self.log.last_index:
            self.send_timeout_now(m.src)

    def handle_heartbeat_resp(self, m: RaftMessage, pr: Progress) -> None:
        if m.src in self.membership.voters:
            self.acked_round[m.src] = max(self.acked_round.get(m.src, 0), m.seq)
            self.acked_tick[m.src] = max(self.acked_tick.get(m.src, -1), m.index)
        if m.reject and m.reject_hint < pr.match:
            # The follower lost entries it had acknowledged (a torn WAL tail): appends
            # after `match` would be rejected as stale forever, so probe from its end.
            pr.match = m.reject_hint
            pr.become_probe()
        if pr.state == ProgressState.REPLICATE and pr.match < self.log.last_index:
            pr.stalled_rounds += 1
            if pr.stalled_rounds >= STALL_ROUNDS:
                pr.become_probe()
        if pr.state == ProgressState.PROBE:
            pr.probe_sent = False
            self.send_append(m.src)
        self.process_reads()

    # ---- reads -----------------------------------------------------------

    def read_confirmed_now(self) -> bool:
        """Narrow: may a read be served at once, without a heartbeat round?"""
        voters = self.membership.voters
        if voters == {self.node_id}:
            return True
        if not (self.cfg.lease_reads and self.cfg.check_quorum) or self.transfer_sent:
            return False
        never = -1 - self.cfg.lease_ticks
        sent = committed_index(
            voters, lambda v: self.ticks if v == self.node_id else self.acked_tick.get(v, never)
        )
        return self.ticks < sent + self.cfg.lease_ticks

    def leader_read(self, origin: str, ctx: bytes) -> None:
        if not self.committed_in_term():
            self.reads_waiting.append((origin, ctx))
            return
        index = self.log.committed
        if self.read_confirmed_now():
            self.release_read(origin, index, ctx)
            return
        # Batched: every read that arrives before the next round goes out waits for
        # that round (sent at the next ready(), or by the next tick), one for all.
        self.reads.append(ReadRequest(index, ctx, origin, self.hb_round + 1))
        self.read_round_due = True

    def flush_appends(self) -> None:
        """One append to each follower for everything proposed or committed since the last.

        Called at every ready(): those messages could leave no sooner anyway (the
        driver sends them with the Ready), so batching them costs no latency.
        """
        if self.append_due:
            self.append_due = False
            if self.role == Role.LEADER:
                self.bcast_append()

    def flush_read_round(self) -> None:
        """Send the heartbeat round that the reads queued since the last one wait for."""
        if self.read_round_due and self.role == Role.LEADER:
            self.bcast_heartbeat()

    def round_confirmed(self, rnd: int) -> bool:
        acked = {v for v, r in self.acked_round.items() if r >= rnd}
        acked.add(self.node_id)
        return has_quorum(self.membership.voters, acked)

    def process_reads(self) -> None:
        while self.reads and self.round_confirmed(self.reads[0].round):
            req = self.reads.popleft()
            self.release_read(req.origin, req.index, req.ctx)

    def release_read(self, origin: str, index: int, ctx: bytes) -> None:
        if origin == self.node_id:
            self.read_states.append(ReadState(index, ctx))
        else:
            self._after.append(self._msg(MT.READ_INDEX_RESP, origin, index=index, context=ctx))

    # ---- time ------------------------------------------------------------

    def tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        for pr in self.progress.values():
            if pr.state == ProgressState.SNAPSHOT:
                pr.snapshot_elapsed += 1
                if pr.snapshot_elapsed >= self.cfg.election_ticks:
                    pr.become_probe()  # the snapshot or its ack was lost: try again
        if self.election_elapsed >= self.cfg.election_ticks:
            self.election_elapsed = 0
            if self.cfg.check_quorum:
                active = {self.node_id} | {p for p, pr in self.progress.items() if pr.recent_active}
                for pr in self.progress.values():
                    pr.recent_active = False
                if not has_quorum(self.membership.voters, active):
                    self.become_follower(self.term, None)
                    return
            self.lead_transferee = None  # a transfer that did not finish in time aborts
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self.bcast_heartbeat()
