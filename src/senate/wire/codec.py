"""Envelopes for engine messages, and the handshake every peer connection opens with.

A frame payload is an envelope `[kind, body]`: `kind` names a registered message
family ("raft", "paxos", "zab", "probe" ...) and `body` is what that family's
`to_wire()` produced. This module knows no engine: an engine (or the runtime that
wires it up) registers its decoder, e.g.

    codec.register("raft", senate.raft.messages.message_from_wire)

The kinds "hello" and "reject" are reserved for the handshake:

    dialer -> acceptor   ["hello",  [protocol_version, cluster_id, node_id]]
    acceptor -> dialer   ["hello",  [...]]          accepted; the acceptor's identity
                     or  ["reject", reason]         refused; the acceptor then closes

Decoders see untrusted objects. Whatever a registered decoder raises is reported
as MalformedInput, so one buggy or hostile peer cannot crash a node.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Final, Protocol

from senate.consensus.types import Message
from senate.errors import MalformedInput

PROTOCOL_VERSION: Final = 1
HELLO: Final = "hello"
REJECT: Final = "reject"
_RESERVED: Final = frozenset({HELLO, REJECT})
MAX_ID_LEN: Final = 256
_MAX_REASON_LEN: Final = 1024


class WireMessage(Message, Protocol):
    """What the codec needs of an engine message: src/dst plus a wire form.

    encode_message() takes any Message (a Ready batch types its messages so) and
    checks for `to_wire` when it runs.
    """

    def to_wire(self) -> object: ...


Decoder = Callable[[object], Message]


@dataclass(slots=True, frozen=True)
class Hello:
    """Who is on the other end of a connection, sent first in each direction."""

    cluster_id: str
    node_id: str
    protocol_version: int = PROTOCOL_VERSION

    def to_wire(self) -> list[object]:
        return [HELLO, [self.protocol_version, self.cluster_id, self.node_id]]

    @classmethod
    def from_wire(cls, obj: object) -> Hello:
        if not (isinstance(obj, list) and len(obj) == 2 and obj[0] == HELLO):
            raise MalformedInput(f"expected a hello, got {_preview(obj)}")
        body = obj[1]
        if not (isinstance(body, list) and len(body) == 3):
            raise MalformedInput(f"bad hello body: {_preview(body)}")
        version, cluster_id, node_id = body
        if isinstance(version, bool) or not isinstance(version, int):
            raise MalformedInput(f"bad hello protocol version: {_preview(version)}")
        return cls(_ident(cluster_id, "cluster id"), _ident(node_id, "node id"), version)


@dataclass(slots=True, frozen=True)
class Reject:
    """The acceptor's refusal of a handshake, with a reason for the dialer's log."""

    reason: str

    def to_wire(self) -> list[object]:
        return [REJECT, self.reason[:_MAX_REASON_LEN]]


def decode_handshake(obj: object) -> Hello | Reject:
    """Decode the first frame of a connection: a Hello, or (dialer side) a Reject."""
    if isinstance(obj, list) and len(obj) == 2 and obj[0] == REJECT:
        reason = obj[1]
        if not isinstance(reason, str):
            raise MalformedInput(f"bad reject reason: {_preview(reason)}")
        return Reject(reason[:_MAX_REASON_LEN])
    return Hello.from_wire(obj)


def refusal(hello: Hello, *, cluster_id: str, node_id: str, known: Container[str]) -> str | None:
    """Why the acceptor `node_id` of cluster `cluster_id` must refuse `hello`, or None."""
    if hello.protocol_version != PROTOCOL_VERSION:
        return f"protocol version {hello.protocol_version} (this node speaks {PROTOCOL_VERSION})"
    if hello.cluster_id != cluster_id:
        return f"cluster id {hello.cluster_id!r} (this node is in {cluster_id!r})"
    if hello.node_id == node_id:
        return f"node id {hello.node_id!r} is this node's own"
    if hello.node_id not in known:
        return f"unknown node {hello.node_id!r}"
    return None


def answer_problem(answer: Hello | Reject, *, cluster_id: str, expected: str) -> str | None:
    """Why a dialer that meant to reach `expected` must not use this connection, or None."""
    if isinstance(answer, Reject):
        return f"refused by the peer: {answer.reason}"
    if answer.cluster_id != cluster_id:
        return f"peer is in cluster {answer.cluster_id!r}, not {cluster_id!r}"
    if answer.node_id != expected:
        return f"the node at that address is {answer.node_id!r}"
    if answer.protocol_version != PROTOCOL_VERSION:
        return f"peer speaks protocol {answer.protocol_version}, we speak {PROTOCOL_VERSION}"
    return None


class Codec:
    """A registry of message kinds and their decoders."""

    __slots__ = ("_decoders",)

    def __init__(self) -> None:
        self._decoders: dict[str, Decoder] = {}

    def register(self, kind: str, decode: Decoder) -> None:
        """Register `decode` for envelopes of `kind`. Re-registering replaces it."""
        if not kind or kind in _RESERVED:
            raise ValueError(f"message kind {kind!r} is reserved or empty")
        self._decoders[kind] = decode

    def kinds(self) -> frozenset[str]:
        return frozenset(self._decoders)

    def encode_message(self, kind: str, msg: Message) -> list[object]:
        """The envelope for `msg`; `kind` must be registered (a peer could not decode it)."""
        if kind not in self._decoders:
            raise MalformedInput(f"message kind {kind!r} is not registered")
        to_wire = getattr(msg, "to_wire", None)
        if not callable(to_wire):
            raise MalformedInput(f"{type(msg).__name__} has no to_wire(); it cannot be sent")
        body: object = to_wire()
        return [kind, body]

    def decode_message(self, obj: object) -> Message:
        """The message in envelope `obj`. Anything wrong with it is MalformedInput."""
        if not (isinstance(obj, list) and len(obj) == 2):
            raise MalformedInput(f"bad message envelope: {_preview(obj)}")
        kind, body = obj
        if not isinstance(kind, str):
            raise MalformedInput(f"bad message kind: {_preview(kind)}")
        decode = self._decoders.get(kind)
        if decode is None:
            raise MalformedInput(f"unknown message kind {kind[:64]!r}")
        try:
            msg = decode(body)
        except MalformedInput:
            raise
        # A decoder that trips over hostile input with another exception is a bug in
        # that decoder, but the peer's bytes are still what is malformed.
        except Exception as exc:
            raise MalformedInput(
                f"{kind} decoder failed: {type(exc).__name__}: {exc}"[:_MAX_REASON_LEN]
            ) from exc
        src = getattr(msg, "src", None)
        dst = getattr(msg, "dst", None)
        if not (isinstance(src, str) and isinstance(dst, str)):
            raise MalformedInput(f"{kind} message without string src/dst")
        return msg


# The process-wide registry the runtime uses unless it is given its own.
default_codec: Final = Codec()


def register(kind: str, decode: Decoder) -> None:
    default_codec.register(kind, decode)


def encode_message(kind: str, msg: Message) -> list[object]:
    return default_codec.encode_message(kind, msg)


def decode_message(obj: object) -> Message:
    return default_codec.decode_message(obj)


def _ident(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LEN:
        raise MalformedInput(f"bad {what}: {_preview(value)}")
    return value


_REPR: Final = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = 6
_REPR.maxlevel = 3


def _preview(obj: object) -> str:
    # Bounded in time and length whatever the peer sent (huge or deeply nested).
    return _REPR.repr(obj)
