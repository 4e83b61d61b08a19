"""Per-replica delta buffer with acknowledgments (Almeida, Shoker, Baquero 2018, §4.2).

Theory of operation, sans-I/O: the owner pushes every delta it produces (and, when
peers are not all directly connected, every delta-group it receives) and gets a
sequence number. For each peer the buffer knows the highest sequence number that peer
has acknowledged. `batch_for(peer)` joins every delta the peer has not acknowledged
into one delta-group; the driver sends it, the peer merges it and acknowledges its
sequence number, and the driver calls `ack`. A lost batch or a lost ack just means the
next batch repeats it: merging is idempotent. Deltas acknowledged by every peer are
dropped. A peer so far behind that its deltas are gone (or a new peer) gets the whole
state from `snapshot` instead.

Rules kept in this file:
- sequence numbers start at 1 and only grow; acks only move forward (a late or
  duplicated ack is harmless) and an ack beyond the last sequence number is refused;
- a delta is kept while any known peer has not acknowledged it, and dropped after.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from senate.crdt.base import CRDT, check_replica
from senate.errors import CRDTError

T = TypeVar("T", bound=CRDT)


@dataclass(frozen=True, slots=True)
class DeltaBatch(Generic[T]):
    """What to send to one peer: merge `payload`, then acknowledge `seq`."""

    seq: int
    payload: T
    full_state: bool  # True: payload is the whole state, not a delta-group


class DeltaBuffer(Generic[T]):
    """Deltas awaiting acknowledgment by peers."""

    __slots__ = ("_acked", "_base", "_deltas", "_last", "_snapshot")

    def __init__(
        self, peers: Iterable[str] = (), *, snapshot: Callable[[], T] | None = None
    ) -> None:
        self._deltas: deque[tuple[int, T]] = deque()
        self._last = 0  # the last sequence number handed out
        self._base = 0  # every delta <= base has been dropped
        self._acked: dict[str, int] = {}
        self._snapshot = snapshot
        for peer in peers:
            self.add_peer(peer, acked=0)

    @property
    def last_seq(self) -> int:
        return self._last

    @property
    def peers(self) -> list[str]:
        return sorted(self._acked)

    def __len__(self) -> int:
        """How many deltas are held."""
        return len(self._deltas)

    def acked(self, peer: str) -> int:
        return self._acked[self._known(peer)]

    def add_peer(self, peer: str, acked: int | None = None) -> None:
        """Start shipping to `peer`. `acked` is what it already has (default: nothing
        that was pushed before, so it gets everything still held, or a snapshot)."""
        peer = check_replica(peer)
        self._acked[peer] = 0 if acked is None else self._check_seq(acked)

    def remove_peer(self, peer: str) -> None:
        del self._acked[self._known(peer)]
        self._collect()

    def push(self, delta: T) -> int:
        """Hold `delta` for every peer; returns its sequence number."""
        self._last += 1
        if self._acked:
            self._deltas.append((self._last, delta.copy()))
        else:
            self._base = self._last  # nobody to ship to: nothing to keep
        return self._last

    def batch_for(self, peer: str) -> DeltaBatch[T] | None:
        """The delta-group `peer` still needs, or None if it is up to date."""
        acked = self._acked[self._known(peer)]
        if acked >= self._last:
            return None
        if acked < self._base:
            if self._snapshot is None:
                raise CRDTError(f"peer {peer!r} needs deltas already dropped and no snapshot")
            return DeltaBatch(self._last, self._snapshot(), True)
        group: T | None = None
        for seq, delta in self._deltas:
            if seq <= acked:
                continue
            if group is None:
                group = delta.copy()
            else:
                group.merge(delta)
        assert group is not None  # acked < last and every delta > base is held
        return DeltaBatch(self._last, group, False)

    def ack(self, peer: str, seq: int) -> None:
        """`peer` has merged everything up to `seq`."""
        peer = self._known(peer)
        seq = self._check_seq(seq)
        if seq > self._acked[peer]:
            self._acked[peer] = seq
            self._collect()

    def _collect(self) -> None:
        floor = min(self._acked.values(), default=self._last)
        while self._deltas and self._deltas[0][0] <= floor:
            self._base = self._deltas.popleft()[0]
        if not self._acked:
            self._base = self._last

    def _known(self, peer: str) -> str:
        if peer not in self._acked:
            raise CRDTError(f"unknown peer {peer!r}")
        return peer

    def _check_seq(self, seq: object) -> int:
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= self._last:
            raise CRDTError(f"sequence number must be in [0, {self._last}], got {seq!r:.40}")
        return seq
