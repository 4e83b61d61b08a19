"""ZAB's messages and their validated wire form.

Rules this file keeps:
- one dataclass, `ZabMessage`, with a `type` tag: the fields a type does not
  use stay at their zero value;
- `to_wire` gives plain lists/ints/str/bytes for the msgpack frame codec;
  `from_wire` trusts nothing: every field's type and range is checked and any
  violation raises senate.errors.MalformedInput, never another exception.

Sessions and FIFO. A follower (re)registers with FOLLOWERINFO carrying a fresh
`attempt` number; the leader opens a session for that attempt. Every message the
leader sends in a session (the *stream*: NEWEPOCH, SYNC, NEWLEADER, PROPOSAL,
COMMIT, PING) carries that attempt and a `seq` counting from 0, and the follower
handles the stream strictly in seq order (TCP's guarantee, which ZAB assumes,
rebuilt over a network that may reorder, lose or duplicate). Everything a
follower sends back carries its attempt, so replies to an old session are ignored.

Field use by type (zxid = (zxid_epoch, zxid_index)):
  NOTIFY        round = election round; state = sender's ServerState; peer = the
                vote's leader; epoch = that leader's current epoch; zxid = its last
                zxid; flag = a leadership-transfer vote; index = the epoch a
                LEADING sender offers (0 until it chose one)
  FOLLOWERINFO  attempt; epoch = the follower's accepted epoch
  NEWEPOCH      attempt, seq; epoch = the new epoch
  ACKEPOCH      attempt; epoch = the follower's current epoch; zxid = its last
                zxid; commit = its commit index; runs = (epoch, last index) of
                each run of entries after commit (so the leader finds where the
                histories part)
  SYNC          attempt, seq; mode = DIFF | TRUNC | SNAP; index = the prefix both
                hold (TRUNC cuts after it); snapshot (SNAP); entries = the leader's
                history after index (or after the snapshot); commit
  NEWLEADER     attempt, seq; epoch
  ACK           attempt; index = last index durably held; flag = this acks
                NEWLEADER (or comes after it: the follower is synced)
  PROPOSAL      attempt, seq; entries = one entry
  COMMIT        attempt, seq; commit
  PING          attempt, seq; round = heartbeat round; commit; flag = the leader
                counts the follower synced (if not, it repeats its ACKEPOCH or
                NEWLEADER ACK: either may have been lost)
  PING_ACK      attempt; round
  READ          context = the reader's ctx   READ_RESP: index = read index, context
  TRANSFER      the leader hands leadership to dst (best effort)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Self

from senate.consensus.types import Entry, Snapshot
from senate.consensus.wire_fields import FieldReader, short
from senate.errors import MalformedInput

_FIELDS = 19
_MAX_RUNS = 1 << 16


class MessageType(enum.IntEnum):
    NOTIFY = 0
    FOLLOWERINFO = 1
    NEWEPOCH = 2
    ACKEPOCH = 3
    SYNC = 4
    NEWLEADER = 5
    ACK = 6
    PROPOSAL = 7
    COMMIT = 8
    PING = 9
    PING_ACK = 10
    READ = 11
    READ_RESP = 12
    TRANSFER = 13


STREAM = frozenset(
    {
        MessageType.NEWEPOCH,
        MessageType.SYNC,
        MessageType.NEWLEADER,
        MessageType.PROPOSAL,
        MessageType.COMMIT,
        MessageType.PING,
    }
)


class ServerState(enum.IntEnum):
    LOOKING = 0
    FOLLOWING = 1
    LEADING = 2
    OBSERVING = 3


class SyncMode(enum.IntEnum):
    NONE = 0
    DIFF = 1  # the follower's history is a prefix of ours: send what follows
    TRUNC = 2  # it holds proposals we do not: cut after `index`, then send the rest
    SNAP = 3  # it is behind our snapshot: install it, then send the rest


@dataclass(slots=True, frozen=True)
class ZabMessage:
    type: MessageType
    src: str
    dst: str
    epoch: int = 0
    attempt: int = 0
    seq: int = 0
    round: int = 0
    state: ServerState = ServerState.LOOKING
    peer: str = ""
    zxid_epoch: int = 0
    zxid_index: int = 0
    index: int = 0
    commit: int = 0
    mode: SyncMode = SyncMode.NONE
    flag: bool = False
    context: bytes = b""
    runs: tuple[tuple[int, int], ...] = ()
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None

    @property
    def zxid(self) -> tuple[int, int]:
        return (self.zxid_epoch, self.zxid_index)

    def to_wire(self) -> list[Any]:
        snap = self.snapshot
        return [
            int(self.type),
            self.src,
            self.dst,
            self.epoch,
            self.attempt,
            self.seq,
            self.round,
            int(self.state),
            self.peer,
            self.zxid_epoch,
            self.zxid_index,
            self.index,
            self.commit,
            int(self.mode),
            self.flag,
            self.context,
            [[e, i] for e, i in self.runs],
            [[e.index, e.term, int(e.kind), e.data] for e in self.entries],
            None if snap is None else [snap.index, snap.term, snap.membership.to_obj(), snap.data],
        ]

    @classmethod
    def from_wire(cls, obj: object) -> Self:
        if not isinstance(obj, (list, tuple)) or len(obj) != _FIELDS:
            raise MalformedInput(f"zab message: expected a {_FIELDS}-field list, got {_short(obj)}")
        mtype = _enum(MessageType, obj[0], "type")
        if not isinstance(obj[14], bool):
            raise MalformedInput("zab message: flag must be a bool")
        peer = obj[8]
        if not isinstance(peer, str) or len(peer) > 256:
            raise MalformedInput(f"zab message: peer must be a node id, got {_short(peer)}")
        msg = cls(
            type=mtype,
            src=_node(obj[1], "src"),
            dst=_node(obj[2], "dst"),
            epoch=_uint(obj[3], "epoch"),
            attempt=_uint(obj[4], "attempt"),
            seq=_uint(obj[5], "seq"),
            round=_uint(obj[6], "round"),
            state=_enum(ServerState, obj[7], "state"),
            peer=peer,
            zxid_epoch=_uint(obj[9], "zxid epoch"),
            zxid_index=_uint(obj[10], "zxid index"),
            index=_uint(obj[11], "index"),
            commit=_uint(obj[12], "commit"),
            mode=_enum(SyncMode, obj[13], "mode"),
            flag=obj[14],
            context=_bytes(obj[15], "context"),
            runs=_runs(obj[16]),
            entries=_entries(obj[17]),
            snapshot=_snapshot(obj[18]),
        )
        _check_shape(msg)
        return msg


def _check_shape(msg: ZabMessage) -> None:
    """Cross-field rules: what a type carries, and that it is self-consistent."""
    t = msg.type
    if msg.entries and t not in (MessageType.SYNC, MessageType.PROPOSAL):
        raise MalformedInput(f"zab message: {t.name} carries no entries")
    if t == MessageType.PROPOSAL and len(msg.entries) != 1:
        raise MalformedInput("zab message: a PROPOSAL carries exactly one entry")
    if (msg.snapshot is not None) != (t == MessageType.SYNC and msg.mode == SyncMode.SNAP):
        raise MalformedInput("zab message: a SNAP sync and only it carries a snapshot")
    if t == MessageType.SYNC:
        if msg.mode == SyncMode.NONE:
            raise MalformedInput("zab message: a SYNC needs a mode")
        start = msg.snapshot.index if msg.snapshot is not None else msg.index
        if msg.entries and msg.entries[0].index != start + 1:
            raise MalformedInput("zab message: sync entries must follow the sync point")
    elif msg.mode != SyncMode.NONE:
        raise MalformedInput(f"zab message: {t.name} carries no sync mode")
    if msg.runs and t != MessageType.ACKEPOCH:
        raise MalformedInput(f"zab message: {t.name} carries no runs")
    if t == MessageType.NOTIFY and not msg.peer:
        raise MalformedInput("zab message: a NOTIFY names the leader it votes for")


def message_from_wire(obj: object) -> ZabMessage:
    """Decode one ZAB message from its wire list; raises MalformedInput."""
    return ZabMessage.from_wire(obj)


# Field decoders shared by every engine (consensus/wire_fields.py).
_READ = FieldReader("zab", term="epoch")
_short = short
_uint = _READ.uint
_node = _READ.node
_bytes = _READ.bytes_
_entries = _READ.entries
_snapshot = _READ.snapshot
_enum = _READ.enum


def _runs(value: object) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, (list, tuple)) or len(value) > _MAX_RUNS:
        raise MalformedInput("zab message: runs must be a list")
    out: list[tuple[int, int]] = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise MalformedInput(f"zab message: bad run {_short(item)}")
        run = (_uint(item[0], "run epoch"), _uint(item[1], "run index"))
        if out and (run[0] <= out[-1][0] or run[1] <= out[-1][1]):
            raise MalformedInput("zab message: runs must rise in epoch and index")
        out.append(run)
    return tuple(out)
