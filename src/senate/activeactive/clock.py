"""A hybrid logical clock on packed integers, for the per-write hot path.

Same algorithm and packing as senate.clocks.hlc (Kulkarni et al. 2014; 48-bit ms << 16
| 16-bit logical counter), minus the per-call object validation that costs more than
the rest of a SET. Rules kept in this file:
- `now()` never returns a value <= the last one it returned or received;
- `receive(packed)` moves the clock past a remote timestamp unless it is more than
  `max_drift_ms` ahead of the physical clock (then it is ignored: one bad clock must
  not drag every replica into the future);
- the node id is not part of the packed value; it travels beside it (the tie-break).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

LOGICAL_BITS: Final = 16
MAX_LOGICAL: Final = (1 << LOGICAL_BITS) - 1


class PackedHLC:
    __slots__ = ("_last", "max_drift_ms", "physical")

    def __init__(self, physical: Callable[[], int], max_drift_ms: int = 500) -> None:
        self.physical = physical
        self.max_drift_ms = max_drift_ms
        self._last = 0

    @property
    def last(self) -> int:
        return self._last

    def now(self) -> int:
        wall = self.physical() << LOGICAL_BITS
        last = self._last
        # Past the last value: either the wall clock moved on, or count within its ms
        # (a 16-bit overflow simply borrows the next ms, keeping the order).
        self._last = wall if wall > last else last + 1
        return self._last

    def receive(self, packed: int) -> None:
        if (packed >> LOGICAL_BITS) - self.physical() > self.max_drift_ms:
            return
        if packed > self._last:
            self._last = packed
