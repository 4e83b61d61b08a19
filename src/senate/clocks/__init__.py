"""Logical clocks: Lamport, vector, hybrid logical clocks, dots and causal contexts.

The bottom layer of Senate: no I/O, no wall time (physical time is injected into the
HLC), nothing imported from the layers above except the error hierarchy.
"""

from senate.clocks.dots import Dot, DotContext, VersionVector
from senate.clocks.hlc import (
    LOGICAL_BITS,
    MAX_LOGICAL,
    MAX_PHYSICAL,
    PHYSICAL_BITS,
    HLCTimestamp,
    HybridLogicalClock,
)
from senate.clocks.lamport import LamportClock
from senate.clocks.ordering import Ordering, compare_counts
from senate.clocks.vector import VectorClock

__all__ = [
    "LOGICAL_BITS",
    "MAX_LOGICAL",
    "MAX_PHYSICAL",
    "PHYSICAL_BITS",
    "Dot",
    "DotContext",
    "HLCTimestamp",
    "HybridLogicalClock",
    "LamportClock",
    "Ordering",
    "VectorClock",
    "VersionVector",
    "compare_counts",
]
