"""Vector clocks (Fidge 1988, Mattern 1989): an immutable value type.

Rules kept in this file:
- a VectorClock never changes after construction; `increment` and `merge` return new
  clocks, so a clock can be shared, hashed and used as a dict key safely;
- zero entries are never stored, so two clocks with the same history are equal and
  have the same plain dict;
- comparison is `senate.clocks.ordering.compare_counts`, shared with version vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from senate.clocks._validate import check_counter, check_id
from senate.clocks.ordering import Ordering, compare_counts
from senate.errors import ClockError


class VectorClock:
    """An immutable map node -> event count, ordered by causality."""

    __slots__ = ("_counts", "_hash")

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        clean: dict[str, int] = {}
        for node, count in (counts or {}).items():
            check_id(node, "vector clock node id")
            check_counter(count, f"vector clock entry for {node!r}")
            if count:
                clean[node] = count
        self._counts = clean
        self._hash: int | None = None

    # -- events -------------------------------------------------------------------
    def increment(self, node: str) -> VectorClock:
        """The clock after one more event at `node`."""
        check_id(node, "vector clock node id")
        counts = dict(self._counts)
        counts[node] = counts.get(node, 0) + 1
        return VectorClock(counts)

    def merge(self, other: VectorClock) -> VectorClock:
        """The least upper bound (entry-wise max) of two clocks."""
        counts = dict(self._counts)
        for node, count in other._counts.items():
            if count > counts.get(node, 0):
                counts[node] = count
        return VectorClock(counts)

    # -- order ----------------------------------------------------------------------
    def compare(self, other: VectorClock) -> Ordering:
        return compare_counts(self._counts, other._counts)

    def dominates(self, other: VectorClock) -> bool:
        """True when this clock has seen everything `other` has (AFTER or EQUAL)."""
        return self.compare(other) in (Ordering.AFTER, Ordering.EQUAL)

    def happened_before(self, other: VectorClock) -> bool:
        return self.compare(other) is Ordering.BEFORE

    def concurrent_with(self, other: VectorClock) -> bool:
        return self.compare(other) is Ordering.CONCURRENT

    # -- plain form -------------------------------------------------------------------
    def get(self, node: str) -> int:
        return self._counts.get(node, 0)

    def to_dict(self) -> dict[str, int]:
        return dict(sorted(self._counts.items()))

    @classmethod
    def from_dict(cls, data: object) -> VectorClock:
        """Build from an untrusted plain dict; raises ClockError on anything malformed."""
        if not isinstance(data, Mapping):
            raise ClockError(f"a vector clock must be a dict of node -> count, got {data!r:.80}")
        return cls(data)

    # -- value protocol ----------------------------------------------------------------
    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VectorClock):
            return NotImplemented
        return self._counts == other._counts

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._counts.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"VectorClock({self.to_dict()!r})"
