"""Write forwarding: a follower hands clients' writes to the leader over the peer transport.

Rules this file keeps:
- `Forward(src, dst, items)` carries one or more (client id, seq, encoded KV
  Request) (all the writes a follower got in one loop iteration), validated by
  the follower. The leader proposes the data unchanged, in order, without
  decoding it: KVStore.apply validates every entry and applies garbage as a
  deterministic no-op. The (client id, seq) beside it only says where to send
  the result; the leader matches it against the key of the applied data.
- `ForwardResult(src, dst, results)` goes back from the node that applied the
  entries (the leader) to the follower that forwarded them: (client id, seq,
  result) per request. It is sent only once the entry is applied there, i.e.
  committed — appended and fsynced on a quorum — so the follower may answer its
  client with it. The state machine is deterministic and a session answers a
  repeated (client id, seq) with the stored result, so this is the result every
  node computes. Without it the follower still completes when it applies the
  entry itself; whichever comes first answers.
- Lost forwards or results, a leader that stepped down or a proposal refused
  during a leadership transfer are all handled the same way: the follower sends
  again after a while or when it learns of a new leader. That is safe because a
  request carries its (client id, seq), so a request proposed twice is applied
  once (kv/sessions.py).
- `from_wire` trusts nothing and raises only MalformedInput.

Wire layout: ["fwd", [src, dst, [[client_id, seq, data], ...]]] and
["fwdr", [src, dst, [[client_id, seq, result], ...]]] with result in the KV
snapshot's result layout (kv/snapshot.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from senate.errors import MalformedInput
from senate.kv import Result
from senate.kv.commands import MAX_CLIENT_ID_BYTES, MAX_INT
from senate.kv.snapshot import FORMAT, _Reader, _result_obj
from senate.wire.codec import MAX_ID_LEN, Codec

FORWARD: Final = "fwd"
FORWARD_RESULT: Final = "fwdr"
MAX_FORWARD_BYTES: Final = 4 << 20  # a request holds at most a key, a value and a compare value
MAX_BATCH: Final = 4096  # requests (or results) in one message

WriteResult = tuple[str, int, Result]  # (client id, seq, result)
ForwardItem = tuple[str, int, bytes]  # (client id, seq, encoded request)


def _write_key(client_id: object, seq: object, what: str) -> tuple[str, int]:
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_BYTES:
        raise MalformedInput(f"bad {what}: client_id must be a short string")
    if type(seq) is not int or not 0 < seq <= MAX_INT:
        raise MalformedInput(f"bad {what}: seq must be a positive integer")
    return client_id, seq


def _ids(src: object, dst: object, what: str) -> tuple[str, str]:
    for name, value in (("src", src), ("dst", dst)):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LEN:
            raise MalformedInput(f"bad {what}: {name} must be a node id")
    assert isinstance(src, str) and isinstance(dst, str)
    return src, dst


@dataclass(slots=True, frozen=True)
class Forward:
    src: str
    dst: str
    items: tuple[ForwardItem, ...]  # proposed in this order

    def to_wire(self) -> list[object]:
        return [self.src, self.dst, [list(item) for item in self.items]]

    @classmethod
    def from_wire(cls, obj: object) -> Forward:
        if not (isinstance(obj, list) and len(obj) == 3):
            raise MalformedInput("bad forward: expected [src, dst, data]")
        src, dst = _ids(obj[0], obj[1], "forward")
        rows = obj[2]
        if not isinstance(rows, list) or not 0 < len(rows) <= MAX_BATCH:
            raise MalformedInput("bad forward: expected 1..4096 requests")
        items: list[ForwardItem] = []
        for row in rows:
            if not (isinstance(row, list) and len(row) == 3):
                raise MalformedInput("bad forward: a request is [client_id, seq, data]")
            client_id, seq = _write_key(row[0], row[1], "forward")
            data = row[2]
            if not isinstance(data, bytes) or not 0 < len(data) <= MAX_FORWARD_BYTES:
                raise MalformedInput("bad forward: data must be 1..4 MiB of bytes")
            items.append((client_id, seq, data))
        return cls(src, dst, tuple(items))


@dataclass(slots=True, frozen=True)
class ForwardResult:
    src: str
    dst: str
    results: tuple[WriteResult, ...]

    def to_wire(self) -> list[object]:
        return [self.src, self.dst, [[c, s, _result_obj(r)] for c, s, r in self.results]]

    @classmethod
    def from_wire(cls, obj: object) -> ForwardResult:
        if not (isinstance(obj, list) and len(obj) == 3):
            raise MalformedInput("bad forward result: expected [src, dst, results]")
        src, dst = _ids(obj[0], obj[1], "forward result")
        rows = obj[2]
        if not isinstance(rows, list) or not 0 < len(rows) <= MAX_BATCH:
            raise MalformedInput("bad forward result: results must be 1..4096 rows")
        # Revisions and indexes are only bounded, not checked against a local state.
        reader = _Reader(FORMAT, MAX_INT, MAX_INT)
        results: list[WriteResult] = []
        for row in rows:
            if not (isinstance(row, list) and len(row) == 3):
                raise MalformedInput("bad forward result: a row is [client_id, seq, result]")
            client_id, seq = _write_key(row[0], row[1], "forward result")
            results.append((client_id, seq, reader.result(row[2])))
        return cls(src, dst, tuple(results))


def register_forward(codec: Codec) -> None:
    codec.register(FORWARD, Forward.from_wire)
    codec.register(FORWARD_RESULT, ForwardResult.from_wire)
