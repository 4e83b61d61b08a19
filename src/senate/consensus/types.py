"""Values that cross the boundary between a consensus engine and its driver.

They are engine-neutral: Raft, Multi-Paxos and ZAB all speak in log entries at
indexes, a hard state to persist, snapshots and membership. Each engine has its
own message dataclasses; the driver only needs `src` and `dst` from them (and the
wire codec to ship them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

import msgpack

from senate.errors import MalformedInput


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"
    LEARNER = "learner"  # a non-voting member catching up


class EntryKind(enum.IntEnum):
    NORMAL = 0  # application command; `data` is opaque to the engine
    NOOP = 1  # written by a new leader to commit entries of earlier terms
    CONF_CHANGE = 2  # `data` is an encoded ConfChange
    # Raft only: a fresh cluster's first entry, the full initial membership
    # (msgpack of Membership.to_obj()), so a log read from index 1 says who voted
    # first (raft/membership.py). Not a ConfChange: nothing that reads ConfChange
    # ops (runtime, sim, Paxos, ZAB) ever sees it; drivers skip it like a NOOP.
    CONF_BOOTSTRAP = 3


@dataclass(slots=True, frozen=True)
class Entry:
    index: int
    term: int  # Raft term; Paxos ballot number; ZAB epoch
    kind: EntryKind = EntryKind.NORMAL
    data: bytes = b""


@dataclass(slots=True, frozen=True)
class HardState:
    """What an engine must find again after a crash, besides its log.

    Raft: current term, vote, commit. Paxos: promised ballot in `term`, `vote`
    unused. ZAB: accepted epoch in `term`, current epoch encoded in `vote`.
    """

    term: int = 0
    vote: str | None = None
    commit: int = 0


@dataclass(slots=True, frozen=True)
class Membership:
    voters: frozenset[str]
    learners: frozenset[str] = frozenset()

    @property
    def members(self) -> frozenset[str]:
        return self.voters | self.learners

    def quorum(self) -> int:
        return len(self.voters) // 2 + 1

    def to_obj(self) -> list[list[str]]:
        return [sorted(self.voters), sorted(self.learners)]

    @classmethod
    def from_obj(cls, obj: object) -> Membership:
        if (
            not isinstance(obj, (list, tuple))
            or len(obj) != 2
            or not all(isinstance(part, (list, tuple)) for part in obj)
            or not all(isinstance(n, str) for part in obj for n in part)
        ):
            raise MalformedInput(f"bad membership: {obj!r}")
        return cls(frozenset(obj[0]), frozenset(obj[1]))


class ConfChangeOp(enum.IntEnum):
    ADD_LEARNER = 0  # joins without a vote; catches up first
    PROMOTE = 1  # a caught-up learner becomes a voter
    REMOVE = 2  # leaves the cluster (voter or learner)


@dataclass(slots=True, frozen=True)
class ConfChange:
    """One membership step. Engines change one server at a time (Raft thesis 4.1).

    `context` is opaque to engines: the runtime puts the new member's addresses
    there (runtime/membership.py). Encoded as [op, node] when empty (the original
    form, so old entries decode and old encodings stay byte for byte the same),
    else [op, node, context].
    """

    op: ConfChangeOp
    node: str
    context: bytes = b""

    def encode(self) -> bytes:
        if not self.context:
            return msgpack.packb([int(self.op), self.node])
        return msgpack.packb([int(self.op), self.node, self.context])

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        try:
            obj = msgpack.unpackb(data)
            if not isinstance(obj, list) or len(obj) not in (2, 3):
                return _bad(data)
            op, node = obj[0], obj[1]
            context = obj[2] if len(obj) == 3 else b""
            if not isinstance(node, str) or not isinstance(context, bytes) or type(op) is not int:
                return _bad(data)
            return cls(ConfChangeOp(op), node, context)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise MalformedInput(f"bad conf change entry: {data!r}") from exc


def _bad(data: bytes) -> ConfChange:
    raise MalformedInput(f"bad conf change entry: {data!r}")


@dataclass(slots=True, frozen=True)
class Snapshot:
    """The state machine as of `index` (whose entry had `term`), plus membership."""

    index: int
    term: int
    membership: Membership
    data: bytes


@dataclass(slots=True, frozen=True)
class ReadState:
    """A read requested with `ctx` is linearizable once applied index >= `index`."""

    index: int
    ctx: bytes


class Message(Protocol):
    """What a driver needs of any engine message: who sent it, who should get it."""

    @property
    def src(self) -> str: ...

    @property
    def dst(self) -> str: ...


@dataclass(slots=True)
class Ready:
    """A batch of work the engine hands its driver. See engine.py for the rules."""

    hard_state: HardState | None = None
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)
    must_sync: bool = False
    send_now: list[Message] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    committed: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.hard_state
            or self.snapshot
            or self.entries
            or self.send_now
            or self.messages
            or self.committed
            or self.read_states
        )


@dataclass(slots=True, frozen=True)
class DurableState:
    """What a driver read back from durable storage to (re)start an engine."""

    hard_state: HardState = HardState()
    snapshot: Snapshot | None = None
    entries: tuple[Entry, ...] = ()  # the log after the snapshot, contiguous


@dataclass(slots=True, frozen=True)
class Status:
    id: str
    role: Role
    term: int
    leader: str | None
    commit_index: int
    applied_index: int
    membership: Membership
    protocol: str
    last_index: int = 0
