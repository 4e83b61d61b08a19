"""Probe: the smallest engine-neutral message, for exercising a transport.

Tests and diagnostics use it to push traffic through the real wire path without
a consensus engine. Register it with `register_probe(codec)` (kind "probe").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from senate.errors import MalformedInput
from senate.wire.codec import Codec

PROBE: Final = "probe"


@dataclass(slots=True, frozen=True)
class Probe:
    src: str
    dst: str
    seq: int = 0
    data: bytes = b""

    def to_wire(self) -> list[object]:
        return [self.src, self.dst, self.seq, self.data]

    @classmethod
    def from_wire(cls, obj: object) -> Probe:
        if not (isinstance(obj, list) and len(obj) == 4):
            raise MalformedInput("bad probe: expected [src, dst, seq, data]")
        src, dst, seq, data = obj
        if not (isinstance(src, str) and isinstance(dst, str)):
            raise MalformedInput("bad probe: src and dst must be strings")
        if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(data, bytes):
            raise MalformedInput("bad probe: seq must be an int and data bytes")
        return cls(src, dst, seq, data)


def register_probe(codec: Codec) -> None:
    codec.register(PROBE, Probe.from_wire)
