"""Multi-Paxos messages and their validated wire form.

Rules this file keeps:
- one dataclass, `PaxosMessage`, with a `type` tag; fields a type does not use
  stay at their zero value;
- `to_wire` gives plain lists/ints/str/bytes for the msgpack frame codec;
  `from_wire` trusts nothing: every field's type and range is checked and any
  violation raises senate.errors.MalformedInput, never another exception.

Field use by type (`ballot` is always the sender's ballot of reference):
  PREPARE          phase 1a. index = first slot the proposer does not know chosen;
                   context = b"transfer" to bypass leader stickiness
  PROMISE          phase 1b. reject (ballot = the higher promise); else accepted =
                   the acceptor's accepted ballot, commit, entries = its log after
                   `index` (from the prepare's slot on), snapshot when that slot is
                   compacted away (then index = snapshot index)
  ACCEPT           phase 2a, batched. index/log_term = the slot before `entries`
                   and its tag; commit; sync_end = the last slot of the ballot's
                   re-proposed log; snapshot = a prefix to install first (then
                   index/log_term are the snapshot's)
  ACCEPTED         phase 2b. index = last slot now matching the leader's log; on
                   reject: index = the refused slot before the entries, hint = where
                   to retry from, or ballot = the higher promise
  HEARTBEAT(_RESP) commit; seq = heartbeat round (read index confirmation)
  READ_INDEX       context = the reader's ctx; READ_INDEX_RESP: index = read index
  TIMEOUT_NOW      leadership transfer: start phase 1 at once
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Self

from senate.consensus.types import Entry, Snapshot
from senate.consensus.wire_fields import FieldReader, short
from senate.errors import MalformedInput

TRANSFER_CONTEXT = b"transfer"
_FIELDS = 15


class MessageType(enum.IntEnum):
    PREPARE = 0
    PROMISE = 1
    ACCEPT = 2
    ACCEPTED = 3
    HEARTBEAT = 4
    HEARTBEAT_RESP = 5
    READ_INDEX = 6
    READ_INDEX_RESP = 7
    TIMEOUT_NOW = 8


_WITH_ENTRIES = frozenset({MessageType.PROMISE, MessageType.ACCEPT})


@dataclass(slots=True, frozen=True)
class PaxosMessage:
    type: MessageType
    src: str
    dst: str
    ballot: int
    index: int = 0
    log_term: int = 0
    commit: int = 0
    accepted: int = 0
    sync_end: int = 0
    hint: int = 0
    seq: int = 0
    reject: bool = False
    context: bytes = b""
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None

    def to_wire(self) -> list[Any]:
        snap = self.snapshot
        return [
            int(self.type),
            self.src,
            self.dst,
            self.ballot,
            self.index,
            self.log_term,
            self.commit,
            self.accepted,
            self.sync_end,
            self.hint,
            self.seq,
            self.reject,
            self.context,
            [[e.index, e.term, int(e.kind), e.data] for e in self.entries],
            None if snap is None else [snap.index, snap.term, snap.membership.to_obj(), snap.data],
        ]

    @classmethod
    def from_wire(cls, obj: object) -> Self:
        if not isinstance(obj, (list, tuple)) or len(obj) != _FIELDS:
            raise MalformedInput(
                f"paxos message: expected a {_FIELDS}-field list, got {_short(obj)}"
            )
        try:
            mtype = MessageType(_uint(obj[0], "type"))
        except ValueError as exc:
            raise MalformedInput(f"paxos message: unknown type {obj[0]!r}") from exc
        if not isinstance(obj[11], bool):
            raise MalformedInput("paxos message: reject must be a bool")
        msg = cls(
            type=mtype,
            src=_node(obj[1], "src"),
            dst=_node(obj[2], "dst"),
            ballot=_uint(obj[3], "ballot"),
            index=_uint(obj[4], "index"),
            log_term=_uint(obj[5], "log_term"),
            commit=_uint(obj[6], "commit"),
            accepted=_uint(obj[7], "accepted"),
            sync_end=_uint(obj[8], "sync_end"),
            hint=_uint(obj[9], "hint"),
            seq=_uint(obj[10], "seq"),
            reject=obj[11],
            context=_bytes(obj[12], "context"),
            entries=_entries(obj[13]),
            snapshot=_snapshot(obj[14]),
        )
        if msg.entries and (msg.type not in _WITH_ENTRIES or msg.entries[0].index != msg.index + 1):
            raise MalformedInput("paxos message: entries must follow index in PROMISE/ACCEPT")
        if msg.snapshot is not None:
            if msg.type not in _WITH_ENTRIES:
                raise MalformedInput("paxos message: only PROMISE/ACCEPT carry a snapshot")
            if (msg.snapshot.index, msg.snapshot.term) != (msg.index, msg.log_term):
                raise MalformedInput("paxos message: index/log_term must name the snapshot")
        if msg.entries and msg.entries[0].term < msg.log_term:
            raise MalformedInput("paxos message: entry ballots must not go down")
        return msg


def message_from_wire(obj: object) -> PaxosMessage:
    """Decode one Multi-Paxos message from its wire list; raises MalformedInput."""
    return PaxosMessage.from_wire(obj)


# Field decoders shared by every engine (consensus/wire_fields.py).
_READ = FieldReader("paxos", index="slot", term="ballot")
_short = short
_uint = _READ.uint
_node = _READ.node
_bytes = _READ.bytes_
_entries = _READ.entries
_snapshot = _READ.snapshot
