"""A tiny deterministic in-memory cluster for Multi-Paxos unit scenarios (not the simulator).

Each node has a dict-like "disk" written at every Ready exactly as engine.py says
(send_now, persist, fsync iff must_sync, messages, install, apply, advance).
Messages sit in one FIFO queue; a test can cut links, rewrite or drop messages,
and crash nodes (a crash keeps only what was fsynced).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack

from senate.consensus.types import (
    DurableState,
    Entry,
    EntryKind,
    HardState,
    Membership,
    ReadState,
    Ready,
    Role,
    Snapshot,
)
from senate.paxos import MultiPaxos, PaxosConfig
from senate.paxos.messages import PaxosMessage

EngineMaker = Callable[[str, Membership, DurableState, random.Random], MultiPaxos]


@dataclass
class Disk:
    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)

    def durable(self) -> DurableState:
        return DurableState(self.hard_state, self.snapshot, tuple(self.entries))

    def copy(self) -> Disk:
        return Disk(self.hard_state, self.snapshot, list(self.entries))


class Cluster:
    def __init__(
        self,
        ids: list[str],
        *,
        learners: tuple[str, ...] = (),
        config: PaxosConfig | None = None,
        seed: int = 1,
        maker: EngineMaker | None = None,
    ) -> None:
        self.config = config or PaxosConfig()
        self.membership = Membership(frozenset(ids), frozenset(learners))
        self.rng = random.Random(seed)
        self.maker: EngineMaker = maker or (
            lambda nid, m, d, r: MultiPaxos(nid, m, d, r, self.config)
        )
        self.disks: dict[str, Disk] = {}
        self.synced: dict[str, Disk] = {}
        self.engines: dict[str, MultiPaxos] = {}
        self.sm: dict[str, list[bytes]] = {}
        self.applied: dict[str, list[Entry]] = {}
        self.reads: dict[str, list[ReadState]] = {}
        self.readies: dict[str, list[Ready]] = {}
        self.queue: deque[PaxosMessage] = deque()
        self.delivered: list[PaxosMessage] = []
        self.cut: set[tuple[str, str]] = set()
        self.down: set[str] = set()
        self.rewrite: Callable[[PaxosMessage], PaxosMessage | None] = lambda m: m
        for nid in [*ids, *learners]:
            self.add_node(nid)

    def add_node(self, nid: str, membership: Membership | None = None) -> None:
        self.disks[nid] = Disk()
        self.synced[nid] = Disk()
        self.sm[nid] = []
        self.applied[nid] = []
        self.reads[nid] = []
        self.readies[nid] = []
        self.start(nid, membership)

    def set_disk(self, nid: str, disk: Disk) -> None:
        self.disks[nid] = disk
        self.synced[nid] = disk.copy()

    def start(self, nid: str, membership: Membership | None = None) -> None:
        disk = self.disks[nid] = self.synced[nid].copy()
        rng = random.Random(self.rng.random())
        self.engines[nid] = self.maker(nid, membership or self.membership, disk.durable(), rng)
        self.sm[nid] = list(msgpack.unpackb(disk.snapshot.data)) if disk.snapshot else []
        self.applied[nid] = []
        self.down.discard(nid)

    def crash(self, nid: str) -> None:
        self.down.add(nid)
        self.queue = deque(m for m in self.queue if m.dst != nid)

    def isolate(self, nid: str) -> None:
        for other in self.engines:
            if other != nid:
                self.cut.add((nid, other))
                self.cut.add((other, nid))

    def heal(self) -> None:
        self.cut.clear()

    # ---- the driver loop ---------------------------------------------------

    def process(self, nid: str) -> bool:
        eng = self.engines[nid]
        if nid in self.down or not eng.has_ready():
            return False
        rd = eng.ready()
        self.readies[nid].append(rd)
        self.queue.extend(rd.send_now)  # type: ignore[arg-type]
        disk = self.disks[nid]
        if rd.snapshot is not None:
            disk.snapshot = rd.snapshot
            disk.entries = []
        if rd.entries:
            first = rd.entries[0].index
            disk.entries = [e for e in disk.entries if e.index < first] + list(rd.entries)
        if rd.hard_state is not None:
            disk.hard_state = rd.hard_state
        if rd.must_sync:
            self.synced[nid] = disk.copy()
        self.queue.extend(rd.messages)  # type: ignore[arg-type]
        if rd.snapshot is not None:
            self.sm[nid] = list(msgpack.unpackb(rd.snapshot.data))
        for entry in rd.committed:
            self.applied[nid].append(entry)
            if entry.kind == EntryKind.NORMAL:
                self.sm[nid].append(entry.data)
        self.reads[nid].extend(rd.read_states)
        eng.advance(rd)
        return True

    def deliver_one(self) -> bool:
        if not self.queue:
            return False
        sent = self.queue.popleft()
        if sent.dst in self.down or (sent.src, sent.dst) in self.cut:
            return True
        m = self.rewrite(sent)
        if m is None or m.dst not in self.engines:
            return True
        self.delivered.append(m)
        self.engines[m.dst].step(m)
        return True

    def stabilize(self, limit: int = 100_000) -> None:
        for _ in range(limit):
            worked = False
            for nid in list(self.engines):
                worked |= self.process(nid)
            worked |= self.deliver_one()
            if not worked:
                return
        raise AssertionError("cluster did not quiesce")

    def tick(self, n: int = 1, nodes: list[str] | None = None) -> None:
        for _ in range(n):
            for nid in nodes or list(self.engines):
                if nid not in self.down:
                    self.engines[nid].tick()
            self.stabilize()

    # ---- helpers -----------------------------------------------------------

    def campaign(self, nid: str) -> None:
        self.engines[nid].campaign()
        self.stabilize()

    def leaders(self) -> list[str]:
        return [n for n, e in self.engines.items() if n not in self.down and e.role == Role.LEADER]

    def leader(self) -> str:
        leaders = self.leaders()
        assert len(leaders) == 1, f"leaders: {leaders}"
        return leaders[0]

    def elect_any(self, max_ticks: int = 200) -> str:
        for _ in range(max_ticks):
            self.tick()
            if self.leaders():
                self.tick(2)
                return self.leader()
        raise AssertionError("no leader elected")

    def propose(self, nid: str, *values: bytes) -> None:
        for v in values:
            self.engines[nid].propose(v)
        self.stabilize()

    def compact(self, nid: str) -> int:
        eng = self.engines[nid]
        index = eng.log.applied
        data = msgpack.packb(self.sm[nid])
        eng.compact(index, data)
        for disk in (self.disks[nid], self.synced[nid]):
            disk.snapshot = eng.snapshot
            disk.entries = [e for e in disk.entries if e.index > index]
        return index

    def commands(self, nid: str) -> list[bytes]:
        return list(self.sm[nid])

    def since(self, mark: int) -> list[PaxosMessage]:
        return self.delivered[mark:]


def accepted_disk(promised: int, accepted: int, entries: list[Entry], commit: int = 0) -> Disk:
    """A disk as an acceptor leaves it: promise, accepted ballot, log, commit."""
    vote = str(accepted) if accepted else None
    return Disk(HardState(promised, vote, commit), None, entries)
