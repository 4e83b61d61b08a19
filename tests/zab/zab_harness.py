"""A tiny deterministic in-memory cluster for ZAB unit scenarios (not the simulator).

Each node has a dict "disk" written at every Ready exactly as engine.py says
(send_now, persist, messages, install, apply, advance); `synced` is what survived
the last fsync, and a crash keeps only that. Messages sit in one FIFO queue; a
test can cut links, rewrite or drop messages, reorder the queue, or crash nodes.
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
from senate.zab import Zab, ZabConfig
from senate.zab.messages import MessageType, ZabMessage

EngineMaker = Callable[[str, Membership, DurableState, random.Random], Zab]


@dataclass
class Disk:
    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)

    def durable(self) -> DurableState:
        return DurableState(self.hard_state, self.snapshot, tuple(self.entries))

    def copy(self) -> Disk:
        return Disk(self.hard_state, self.snapshot, list(self.entries))


def history(*epochs: int, data: str = "") -> list[Entry]:
    """Entries 1.. with the given epochs (data names index and epoch)."""
    return [
        Entry(i + 1, ep, EntryKind.NORMAL, f"{data}{i + 1}/{ep}".encode())
        for i, ep in enumerate(epochs)
    ]


class Cluster:
    def __init__(
        self,
        ids: list[str],
        *,
        learners: tuple[str, ...] = (),
        config: ZabConfig | None = None,
        seed: int = 1,
        maker: EngineMaker | None = None,
        disks: dict[str, Disk] | None = None,
    ) -> None:
        self.config = config or ZabConfig()
        self.membership = Membership(frozenset(ids), frozenset(learners))
        self.rng = random.Random(seed)
        self.maker: EngineMaker = maker or (lambda n, m, d, r: Zab(n, m, d, r, self.config))
        self.disks: dict[str, Disk] = {}
        self.synced: dict[str, Disk] = {}
        self.engines: dict[str, Zab] = {}
        self.sm: dict[str, list[bytes]] = {}
        self.applied: dict[str, list[Entry]] = {}
        self.reads: dict[str, list[ReadState]] = {}
        self.readies: dict[str, list[Ready]] = {}
        self.queue: deque[ZabMessage] = deque()
        self.delivered: list[ZabMessage] = []
        self.cut: set[tuple[str, str]] = set()
        self.down: set[str] = set()
        self.rewrite: Callable[[ZabMessage], ZabMessage | None] = lambda m: m
        for nid in [*ids, *learners]:
            self.disks[nid] = Disk()
            self.synced[nid] = (disks or {}).get(nid, Disk()).copy()
            self.start(nid)

    def start(self, nid: str, membership: Membership | None = None) -> None:
        disk = self.disks[nid] = self.synced[nid].copy()
        rng = random.Random(self.rng.random())
        self.engines[nid] = self.maker(nid, membership or self.membership, disk.durable(), rng)
        self.sm[nid] = list(msgpack.unpackb(disk.snapshot.data)) if disk.snapshot else []
        self.applied.setdefault(nid, [])
        self.reads.setdefault(nid, [])
        self.readies.setdefault(nid, [])
        self.down.discard(nid)

    def crash(self, nid: str) -> None:
        self.down.add(nid)
        self.queue = deque(m for m in self.queue if m.dst != nid)

    def restart(self, nid: str) -> None:
        self.start(nid)

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
        if m is None or m.dst not in self.engines or m.dst in self.down:
            return True
        self.delivered.append(m)
        self.engines[m.dst].step(m)
        return True

    def stabilize(self, limit: int = 200_000) -> None:
        for _ in range(limit):
            worked = False
            for nid in list(self.engines):
                worked |= self.process(nid)
            worked |= self.deliver_one()
            if not worked:
                return
        raise AssertionError("cluster did not quiesce")

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            for nid in list(self.engines):
                if nid not in self.down:
                    self.engines[nid].tick()
            self.stabilize()

    # ---- helpers -----------------------------------------------------------

    def leaders(self) -> list[str]:
        return [
            n
            for n, e in self.engines.items()
            if n not in self.down and e.status().role == Role.LEADER
        ]

    def elect(self, max_ticks: int = 300) -> str:
        """Tick until one leader is established and has committed its history."""
        for _ in range(max_ticks):
            self.tick()
            leaders = self.leaders()
            if len(leaders) == 1 and self.engines[leaders[0]].active():
                return leaders[0]
        raise AssertionError(f"no active leader: {self.leaders()}")

    def propose(self, nid: str, *values: bytes) -> None:
        for v in values:
            self.engines[nid].propose(v)
        self.stabilize()

    def compact(self, nid: str) -> int:
        eng = self.engines[nid]
        index = eng.log.applied
        eng.compact(index, msgpack.packb(self.sm[nid]))
        for disk in (self.disks[nid], self.synced[nid]):
            disk.snapshot = eng.snapshot
            disk.entries = [e for e in disk.entries if e.index > index]
        return index

    def sent(self, mtype: MessageType) -> list[ZabMessage]:
        return [m for m in self.delivered if m.type == mtype]

    def log_of(self, nid: str) -> list[tuple[int, int]]:
        return [(e.index, e.term) for e in self.engines[nid].log.entries]
