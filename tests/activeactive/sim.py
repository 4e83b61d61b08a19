"""In-process replicas for unit tests: Commands over a Keyspace per replica, ops captured
and delivered by hand (any causal order), no sockets, no disk."""

from __future__ import annotations

from senate.activeactive import containers as _containers  # noqa: F401  (registers commands)
from senate.activeactive.clock import PackedHLC
from senate.activeactive.commands import Commands
from senate.activeactive.keyspace import Keyspace, Op, decode_op, encode_op
from senate.activeactive.replication import Replicator


class Clock:
    def __init__(self, ms: int = 1_700_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class Replica:
    def __init__(self, name: str, peers: list[str], clock: Clock) -> None:
        self.name = name
        self.space = Keyspace(name)
        self.ops: list[bytes] = []  # every op made here, encoded, in order
        self.hlc = PackedHLC(clock, max_drift_ms=1 << 40)
        self.cmd = Commands(self.space, self.hlc, clock, self._made)
        self.rep = Replicator(name, peers, self.space)

    def _made(self, op: Op) -> None:
        blob = encode_op(op)
        assert decode_op(blob).to_plain() == op.to_plain()
        self.ops.append(blob)
        self.rep.logged(op.origin, op.seq, blob)

    def __call__(self, *args: str | bytes | int | float) -> bytes:
        raw = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        return self.cmd.execute(raw)

    def receive(self, blobs: list[bytes]) -> None:
        for op, _blob in self.rep.receive_ops(blobs):
            self.hlc.receive(op.ts)


def cluster(n: int = 3, clock: Clock | None = None) -> list[Replica]:
    clock = clock or Clock()
    names = [f"n{i + 1}" for i in range(n)]
    return [Replica(name, names, clock) for name in names]


def sync_all(replicas: list[Replica]) -> None:
    """Deliver every op to every replica (in each origin's order)."""
    for r in replicas:
        for other in replicas:
            if other is not r:
                r.receive(other.ops)
