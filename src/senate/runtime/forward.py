"""Write forwarding: a follower hands a client's write to the leader over the peer transport.

Rules this file keeps:
- One message, `Forward(src, dst, data)`, in its own envelope kind ("fwd") next to
  Raft's ("raft") on the same peer connections. `data` is an encoded KV Request,
  already validated by the follower; the leader validates it again (untrusted
  bytes from the network) and proposes it unchanged.
- Fire and forget: there is no reply message. The entry reaches the follower's
  own log like any other, and the follower completes the client's request when
  it applies the entry there (driver.py). Lost forwards, a leader that stepped
  down or a proposal refused during a leadership transfer are all handled the same
  way: the follower sends again after a while or when it learns of a new leader.
  That is safe because a request carries its (client id, seq), so a request
  proposed twice is applied once (kv/sessions.py).
- `from_wire` trusts nothing and raises only MalformedInput.

Wire layout: ["fwd", [src, dst, data]].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from senate.errors import MalformedInput
from senate.wire.codec import MAX_ID_LEN, Codec

FORWARD: Final = "fwd"
MAX_FORWARD_BYTES: Final = 4 << 20  # a request holds at most a key, a value and a compare value


@dataclass(slots=True, frozen=True)
class Forward:
    src: str
    dst: str
    data: bytes  # an encoded senate.kv Request

    def to_wire(self) -> list[object]:
        return [self.src, self.dst, self.data]

    @classmethod
    def from_wire(cls, obj: object) -> Forward:
        if not (isinstance(obj, list) and len(obj) == 3):
            raise MalformedInput("bad forward: expected [src, dst, data]")
        src, dst, data = obj
        for name, value in (("src", src), ("dst", dst)):
            if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LEN:
                raise MalformedInput(f"bad forward: {name} must be a node id")
        if not isinstance(data, bytes) or not 0 < len(data) <= MAX_FORWARD_BYTES:
            raise MalformedInput("bad forward: data must be 1..4 MiB of bytes")
        assert isinstance(src, str) and isinstance(dst, str)
        return cls(src, dst, data)


def register_forward(codec: Codec) -> None:
    codec.register(FORWARD, Forward.from_wire)
