"""A deliberately tiny engine for testing the simulator without Raft.

Node "n1" is the leader forever (no elections, term 1). It appends proposals,
sends them to every follower, and commits an index once a majority (itself
included, after its own write is durable) holds it. Followers append what they
get and acknowledge after the write is durable. Good enough to exercise the
driver, the disk and the clients on a fault-free network; it is not a protocol.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from senate.consensus.types import (
    DurableState,
    Entry,
    HardState,
    Membership,
    ReadState,
    Ready,
    Role,
    Status,
)
from senate.errors import NotLeader

LEADER = "n1"


@dataclass(slots=True)
class Append:
    src: str
    dst: str
    entries: list[Entry]
    commit: int


@dataclass(slots=True)
class Ack:
    src: str
    dst: str
    index: int


@dataclass
class FakeEngine:
    node_id: str
    membership: Membership
    log: list[Entry] = field(default_factory=list)
    commit: int = 0
    applied: int = 0
    unstable: list[Entry] = field(default_factory=list)
    out_now: list[object] = field(default_factory=list)
    out_after: list[object] = field(default_factory=list)
    reads: list[ReadState] = field(default_factory=list)
    match: dict[str, int] = field(default_factory=dict)
    hs_dirty: bool = False
    pending_ready: bool = False

    @property
    def leader(self) -> bool:
        return self.node_id == LEADER

    def tick(self) -> None:
        pass

    def step(self, msg: object) -> None:
        if isinstance(msg, Append):
            last = len(self.log)
            for e in msg.entries:
                if e.index == last + 1:
                    self.log.append(e)
                    self.unstable.append(e)
                    last += 1
            new_commit = min(msg.commit, len(self.log))
            if new_commit > self.commit:
                self.commit = new_commit
                self.hs_dirty = True
            self.out_after.append(Ack(self.node_id, LEADER, len(self.log)))
        elif isinstance(msg, Ack) and self.leader:
            self.match[msg.src] = max(self.match.get(msg.src, 0), msg.index)
            self._maybe_commit()

    def _maybe_commit(self) -> None:
        acks = sorted(self.match.values(), reverse=True)
        quorum = self.membership.quorum()
        if len(acks) >= quorum and acks[quorum - 1] > self.commit:
            self.commit = acks[quorum - 1]
            self.hs_dirty = True
            self._broadcast([])

    def _broadcast(self, entries: list[Entry]) -> None:
        for peer in sorted(self.membership.voters - {self.node_id}):
            self.out_now.append(Append(self.node_id, peer, list(entries), self.commit))

    def propose(self, data: bytes) -> None:
        if not self.leader:
            raise NotLeader(LEADER)
        e = Entry(len(self.log) + 1, 1, data=data)
        self.log.append(e)
        self.unstable.append(e)
        self._broadcast([e])

    def propose_membership(self, change: object) -> None:
        raise NotLeader(LEADER)

    def read_index(self, ctx: bytes) -> None:
        if not self.leader:
            raise NotLeader(LEADER)
        self.reads.append(ReadState(self.commit, ctx))

    def transfer_leadership(self, target: str) -> None:
        pass

    def has_ready(self) -> bool:
        return bool(
            self.unstable
            or self.out_now
            or self.out_after
            or self.reads
            or self.hs_dirty
            or self.commit > self.applied
        )

    def ready(self) -> Ready:
        rd = Ready(
            hard_state=HardState(1, None, self.commit) if self.hs_dirty else None,
            entries=self.unstable,
            must_sync=bool(self.unstable),
            send_now=self.out_now,
            messages=self.out_after,
            committed=self.log[self.applied : self.commit],
            read_states=self.reads,
        )
        self.unstable, self.out_now, self.out_after, self.reads = [], [], [], []
        self.hs_dirty = False
        return rd

    def advance(self, rd: Ready) -> None:
        if rd.entries and self.leader:
            self.match[self.node_id] = rd.entries[-1].index
            self._maybe_commit()
        if rd.committed:
            self.applied = rd.committed[-1].index

    def compact(self, index: int, data: bytes) -> None:
        pass

    def status(self) -> Status:
        return Status(
            self.node_id,
            Role.LEADER if self.leader else Role.FOLLOWER,
            1,
            LEADER,
            self.commit,
            self.applied,
            self.membership,
            "fake",
            len(self.log),
        )


def fake_factory(config: object = None) -> object:
    def make(
        node_id: str, membership: Membership, durable: DurableState, rng: random.Random
    ) -> FakeEngine:
        eng = FakeEngine(node_id, membership)
        eng.log = list(durable.entries)
        eng.commit = durable.hard_state.commit
        return eng

    return make
