"""Replication messages between active-active replicas (wire kind "crdt").

    ops    [src, dst, "ops",   [op bytes, ...]]   ops in the order the sender applied them
    sync   [src, dst, "sync",  [origin, n, ...]]  the sender's durable version vector:
                                                  an acknowledgment and an anti-entropy probe
    state  [src, dst, "state", state bytes]       the sender's whole keyspace (when its log
                                                  no longer reaches back far enough)

Rules kept in this file: `from_wire` checks shapes only (op and state bytes are decoded,
and validated, by keyspace.py when they are used) and raises MalformedInput.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from senate.errors import MalformedInput
from senate.wire.codec import Codec

KIND: Final = "crdt"
OPS: Final = "ops"
SYNC: Final = "sync"
STATE: Final = "state"
_TYPES: Final = frozenset({OPS, SYNC, STATE})


@dataclass(slots=True, frozen=True)
class CrdtMessage:
    src: str
    dst: str
    type: str
    body: list[bytes] | dict[str, int] | bytes

    def to_wire(self) -> list[object]:
        body: object = self.body
        if isinstance(self.body, dict):
            body = [x for o, n in self.body.items() for x in (o, n)]
        return [self.src, self.dst, self.type, body]

    @classmethod
    def from_wire(cls, obj: object) -> CrdtMessage:
        if not (isinstance(obj, list) and len(obj) == 4):
            raise MalformedInput("bad crdt message: expected [src, dst, type, body]")
        src, dst, mtype, body = obj
        # isinstance first: `in` on an unhashable type (a list) would raise TypeError.
        known = isinstance(mtype, str) and mtype in _TYPES
        if not (isinstance(src, str) and isinstance(dst, str) and known):
            raise MalformedInput("bad crdt message: src, dst must be strings, type known")
        if mtype == OPS:
            if not (isinstance(body, list) and all(isinstance(b, bytes) for b in body)):
                raise MalformedInput("bad crdt ops: expected a list of bytes")
            return cls(src, dst, OPS, body)
        if mtype == STATE:
            if not isinstance(body, bytes):
                raise MalformedInput("bad crdt state: expected bytes")
            return cls(src, dst, STATE, body)
        if not (isinstance(body, list) and len(body) % 2 == 0):
            raise MalformedInput("bad crdt sync: expected [origin, n, ...]")
        vv: dict[str, int] = {}
        for i in range(0, len(body), 2):
            origin, n = body[i], body[i + 1]
            if not isinstance(origin, str) or type(n) is not int or n < 0:
                raise MalformedInput("bad crdt sync: entries are (origin, uint)")
            vv[origin] = n
        return cls(src, dst, SYNC, vv)


def register_crdt_messages(codec: Codec) -> None:
    """Register kind "crdt" with a wire codec (the node's, or the standalone entry's)."""
    codec.register(KIND, CrdtMessage.from_wire)
