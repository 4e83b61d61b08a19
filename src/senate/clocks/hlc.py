"""Hybrid logical clocks (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).

Rules kept in this file:
- the physical clock is injected (a callable returning integer milliseconds); this file
  never reads wall time, so the simulator can skew and drift it;
- a timestamp is (physical ms, logical counter, node id), ordered in that order; the
  node id only breaks ties so the order is total across replicas;
- `now`/`send` and `receive` follow the paper's algorithm: the physical part is the
  largest physical time heard of, the logical part counts events within it;
- the clock never goes backwards and its physical part is never behind the physical
  clock at the last event;
- a remote timestamp more than `max_drift_ms` ahead of the local physical clock is
  refused with ClockError and leaves the clock unchanged (one bad clock must not drag
  every replica into the future);
- the logical counter has 16 bits: on overflow the physical part is advanced by one ms
  and the counter restarts, unless that would exceed the drift bound (then ClockError);
- packed form: 48-bit ms << 16 | 16-bit counter, one uint64 (ms fits until year 10889).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from senate.clocks._validate import MAX_ID_LENGTH, check_id, is_int
from senate.errors import ClockError, DecodeError

PHYSICAL_BITS = 48
LOGICAL_BITS = 16
MAX_PHYSICAL = (1 << PHYSICAL_BITS) - 1
MAX_LOGICAL = (1 << LOGICAL_BITS) - 1
_PACKED_BYTES = 8


@dataclass(frozen=True, slots=True, order=True)
class HLCTimestamp:
    """One HLC reading. Field order is the comparison order."""

    physical: int
    logical: int
    node: str

    def __post_init__(self) -> None:
        if not is_int(self.physical) or not 0 <= self.physical <= MAX_PHYSICAL:
            raise ClockError(
                f"HLC physical part must be an int in [0, 2**48), got {self.physical!r:.40}"
            )
        if not is_int(self.logical) or not 0 <= self.logical <= MAX_LOGICAL:
            raise ClockError(
                f"HLC logical part must be an int in [0, 2**16), got {self.logical!r:.40}"
            )
        check_id(self.node, "HLC node id")

    # -- packed forms -------------------------------------------------------------------
    def pack(self) -> int:
        """The (physical, logical) part as one uint64; the node id travels separately."""
        return (self.physical << LOGICAL_BITS) | self.logical

    @classmethod
    def unpack(cls, packed: object, node: object) -> HLCTimestamp:
        """Inverse of `pack`, for untrusted input; raises DecodeError."""
        if not is_int(packed) or not 0 <= packed < (1 << 64):
            raise DecodeError(f"packed HLC timestamp must be a uint64, got {packed!r:.40}")
        if not isinstance(node, str) or not node or len(node) > MAX_ID_LENGTH:
            raise DecodeError(f"HLC node id must be a non-empty short string, got {node!r:.40}")
        return cls(packed >> LOGICAL_BITS, packed & MAX_LOGICAL, node)

    def encode(self) -> bytes:
        """8 bytes big-endian packed time, then the node id in UTF-8."""
        return self.pack().to_bytes(_PACKED_BYTES, "big") + self.node.encode("utf-8")

    @classmethod
    def decode(cls, data: object) -> HLCTimestamp:
        """Inverse of `encode`, for untrusted bytes; raises DecodeError, never anything else."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"an encoded HLC timestamp must be bytes, got {type(data).__name__}")
        raw = bytes(data)
        if len(raw) <= _PACKED_BYTES:
            raise DecodeError(
                f"an encoded HLC timestamp needs 8 time bytes and a node id, got {len(raw)} bytes"
            )
        try:
            node = raw[_PACKED_BYTES:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"HLC node id is not valid UTF-8: {exc.reason}") from None
        return cls.unpack(int.from_bytes(raw[:_PACKED_BYTES], "big"), node)

    def __str__(self) -> str:
        return f"{self.physical}.{self.logical}@{self.node}"


def _read_physical(physical: Callable[[], int]) -> int:
    pt = physical()
    if not is_int(pt) or not 0 <= pt <= MAX_PHYSICAL:
        raise ClockError(f"the physical clock must return integer ms in [0, 2**48), got {pt!r:.40}")
    return pt


class HybridLogicalClock:
    """A mutable HLC for one node. `physical` is called once per event."""

    __slots__ = ("_c", "_l", "max_drift_ms", "node", "physical")

    def __init__(
        self,
        node: str,
        physical: Callable[[], int],
        *,
        max_drift_ms: int | None = 500,
        last: HLCTimestamp | None = None,
    ) -> None:
        self.node = check_id(node, "HLC node id")
        self.physical = physical
        if max_drift_ms is not None and (not is_int(max_drift_ms) or max_drift_ms < 0):
            raise ClockError(
                f"max_drift_ms must be a non-negative int or None, got {max_drift_ms!r}"
            )
        # None disables the refusal; used where no physical clock is injected at all.
        self.max_drift_ms = max_drift_ms
        self._l = last.physical if last is not None else 0
        self._c = last.logical if last is not None else 0

    @property
    def last(self) -> HLCTimestamp:
        """The timestamp of the last event (0.0@node before any)."""
        return HLCTimestamp(self._l, self._c, self.node)

    def _settle(self, l: int, c: int, pt: int) -> HLCTimestamp:  # noqa: E741 - paper's names
        if c > MAX_LOGICAL:
            # Borrow one millisecond instead of wrapping: keeps the order monotonic.
            l, c = l + 1, 0  # noqa: E741
            if l > MAX_PHYSICAL or (self.max_drift_ms is not None and l - pt > self.max_drift_ms):
                raise ClockError(
                    f"HLC logical counter overflow at {l - 1} ms on {self.node}: more than "
                    f"{MAX_LOGICAL} events in one millisecond and the drift bound forbids moving on"
                )
        self._l, self._c = l, c
        return HLCTimestamp(l, c, self.node)

    def now(self) -> HLCTimestamp:
        """A local or send event; returns its timestamp."""
        pt = _read_physical(self.physical)
        l = max(self._l, pt)  # noqa: E741
        c = self._c + 1 if l == self._l else 0
        return self._settle(l, c, pt)

    send = now
    tick = now

    def receive(self, remote: HLCTimestamp) -> HLCTimestamp:
        """A receive event for a message stamped `remote`; returns this event's timestamp.

        Raises ClockError, leaving the clock unchanged, if `remote` is more than
        `max_drift_ms` ahead of the local physical clock.
        """
        if not isinstance(remote, HLCTimestamp):
            raise ClockError(f"receive needs an HLCTimestamp, got {type(remote).__name__}")
        pt = _read_physical(self.physical)
        if self.max_drift_ms is not None and remote.physical - pt > self.max_drift_ms:
            raise ClockError(
                f"refused HLC timestamp {remote} from {remote.node!r}: it is "
                f"{remote.physical - pt} ms ahead of local physical time {pt} on {self.node!r}, "
                f"more than the max drift of {self.max_drift_ms} ms"
            )
        l = max(self._l, remote.physical, pt)  # noqa: E741
        if l == self._l == remote.physical:
            c = max(self._c, remote.logical) + 1
        elif l == self._l:
            c = self._c + 1
        elif l == remote.physical:
            c = remote.logical + 1
        else:
            c = 0
        return self._settle(l, c, pt)

    def __repr__(self) -> str:
        return f"HybridLogicalClock(node={self.node!r}, last={self.last})"
