"""Raft's messages and their validated wire form.

Rules this file keeps:
- one dataclass, `RaftMessage`, with a `type` tag (as etcd's raftpb.Message): the
  fields a type does not use stay at their zero value;
- `to_wire` gives plain lists/ints/str/bytes for the msgpack frame codec;
  `from_wire` trusts nothing: every field's type and range is checked and any
  violation raises senate.errors.MalformedInput, never another exception.

Field use by type:
  APP             index/log_term = the entry before `entries`; commit
  APP_RESP        index = last matching index (ack) or the rejected index;
                  reject_hint/log_term = the follower's conflict hint (etcd findConflictByTerm)
  VOTE, PRE_VOTE  index/log_term = candidate's last entry; context = b"transfer" to
                  bypass leader stickiness (leadership transfer)
  HEARTBEAT(_RESP) commit; seq = heartbeat round (ReadIndex); index = leader tick sent (lease)
  HEARTBEAT       reject_hint = the follower's match as the leader believes it
  HEARTBEAT_RESP  reject = the follower's log ends before that; reject_hint = its last index
  SNAP            snapshot
  READ_INDEX      context = the reader's ctx;  READ_INDEX_RESP: index = read index
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Self

from senate.consensus.types import (
    Entry,
    EntryKind,
    Snapshot,
)
from senate.consensus.wire_fields import FieldReader, short
from senate.errors import MalformedInput
from senate.raft.membership import decode_bootstrap

TRANSFER_CONTEXT = b"transfer"


class MessageType(enum.IntEnum):
    APP = 0
    APP_RESP = 1
    VOTE = 2
    VOTE_RESP = 3
    PRE_VOTE = 4
    PRE_VOTE_RESP = 5
    HEARTBEAT = 6
    HEARTBEAT_RESP = 7
    SNAP = 8
    TIMEOUT_NOW = 9
    READ_INDEX = 10
    READ_INDEX_RESP = 11


@dataclass(slots=True, frozen=True)
class RaftMessage:
    type: MessageType
    src: str
    dst: str
    term: int
    log_term: int = 0
    index: int = 0
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    seq: int = 0
    context: bytes = b""
    entries: tuple[Entry, ...] = ()
    snapshot: Snapshot | None = None

    def to_wire(self) -> list[Any]:
        snap = self.snapshot
        return [
            int(self.type),
            self.src,
            self.dst,
            self.term,
            self.log_term,
            self.index,
            self.commit,
            self.reject,
            self.reject_hint,
            self.seq,
            self.context,
            [[e.index, e.term, int(e.kind), e.data] for e in self.entries],
            None if snap is None else [snap.index, snap.term, snap.membership.to_obj(), snap.data],
        ]

    @classmethod
    def from_wire(cls, obj: object) -> Self:
        if not isinstance(obj, (list, tuple)) or len(obj) != 13:
            raise MalformedInput(f"raft message: expected a 13-field list, got {_short(obj)}")
        try:
            mtype = MessageType(_uint(obj[0], "type"))
        except ValueError as exc:
            raise MalformedInput(f"raft message: unknown type {obj[0]!r}") from exc
        if not isinstance(obj[7], bool):
            raise MalformedInput("raft message: reject must be a bool")
        msg = cls(
            type=mtype,
            src=_node(obj[1], "src"),
            dst=_node(obj[2], "dst"),
            term=_uint(obj[3], "term"),
            log_term=_uint(obj[4], "log_term"),
            index=_uint(obj[5], "index"),
            commit=_uint(obj[6], "commit"),
            reject=obj[7],
            reject_hint=_uint(obj[8], "reject_hint"),
            seq=_uint(obj[9], "seq"),
            context=_bytes(obj[10], "context"),
            entries=_entries(obj[11]),
            snapshot=_snapshot(obj[12]),
        )
        if msg.entries and (msg.type != MessageType.APP or msg.entries[0].index != msg.index + 1):
            raise MalformedInput("raft message: entries must follow index in an APP message")
        if (msg.snapshot is None) == (msg.type == MessageType.SNAP):
            raise MalformedInput("raft message: a SNAP message and only it carries a snapshot")
        return msg


def message_from_wire(obj: object) -> RaftMessage:
    """Decode one Raft message from its wire list; raises MalformedInput."""
    return RaftMessage.from_wire(obj)


# Field decoders shared by every engine (consensus/wire_fields.py).
_READ = FieldReader("raft", data_checks={EntryKind.CONF_BOOTSTRAP: decode_bootstrap})
_short = short
_uint = _READ.uint
_node = _READ.node
_bytes = _READ.bytes_
_entries = _READ.entries
_snapshot = _READ.snapshot
