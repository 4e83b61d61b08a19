"""Peer info: each node tells the others where its HTTP API listens.

`--cluster` names peer addresses only, yet clients want the leader's HTTP address
(and `senate status`, GET /v1/members, every member's). So each node sends a
PeerInfo (kind "info") to every peer when it starts and then every INFO_TICKS
ticks; receivers keep the latest address per peer.

Rules this file keeps:
- Advisory only: nothing in consensus depends on it, a lost message is resent at
  the next period, and an address is replaced by whatever the peer said last.
- `from_wire` trusts nothing and raises only MalformedInput; the address must
  parse as host:port and is at most 300 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from senate.errors import MalformedInput, UsageError
from senate.runtime.config import parse_addr
from senate.wire.codec import MAX_ID_LEN, Codec

INFO_KIND: Final = "info"
INFO_TICKS: Final = 40  # every 2 s at the default 50 ms tick
_MAX_ADDR: Final = 300


@dataclass(slots=True, frozen=True)
class PeerInfo:
    src: str
    dst: str
    http: str  # host:port of the sender's HTTP API

    def to_wire(self) -> list[object]:
        return [self.src, self.dst, self.http]

    @classmethod
    def from_wire(cls, obj: object) -> PeerInfo:
        if not (isinstance(obj, list) and len(obj) == 3):
            raise MalformedInput("bad peer info: expected [src, dst, http]")
        src, dst, http = obj
        for name, value in (("src", src), ("dst", dst)):
            if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LEN:
                raise MalformedInput(f"bad peer info: {name} must be a node id")
        if not isinstance(http, str) or not 0 < len(http) <= _MAX_ADDR:
            raise MalformedInput("bad peer info: http must be host:port")
        try:
            parse_addr(http, "http")
        except UsageError as exc:
            raise MalformedInput(f"bad peer info: {exc}") from None
        assert isinstance(src, str) and isinstance(dst, str)
        return cls(src, dst, http)


def register_peer_info(codec: Codec) -> None:
    codec.register(INFO_KIND, PeerInfo.from_wire)
