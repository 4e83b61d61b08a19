"""Dots, version vectors and causal contexts: the causality bookkeeping of the CRDTs.

A dot (replica, n) names the n-th event of a replica. A causal context is the set of
dots a replica has seen; it is kept compact as a version vector (every dot up to the
counter, per replica) plus a "dot cloud" of dots seen out of order (Almeida, Shoker,
Baquero, "Delta State Replicated Data Types", 2018, section 5; Riak's ORSWOT).

Rules kept in this file:
- counters start at 1; a version vector entry n means dots 1..n were all seen;
- a DotContext is always compact after a public call: no cloud dot is covered by the
  vector, and no cloud dot is the next one of its replica (it would be folded in), so
  two contexts holding the same set of dots are equal and encode identically;
- VersionVector and DotContext are mutable (they are CRDT state); `copy` before sharing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from senate.clocks._validate import check_counter, check_id
from senate.clocks.ordering import Ordering, compare_counts
from senate.errors import ClockError


@dataclass(frozen=True, slots=True, order=True)
class Dot:
    """The `counter`-th event of `replica` (counter >= 1)."""

    replica: str
    counter: int

    def __post_init__(self) -> None:
        check_id(self.replica, "dot replica id")
        check_counter(self.counter, "dot counter", minimum=1)

    def __str__(self) -> str:
        return f"{self.replica}:{self.counter}"


class VersionVector:
    """A mutable map replica -> highest counter seen (zeros are not stored)."""

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        self._counts: dict[str, int] = {}
        for replica, count in (counts or {}).items():
            check_id(replica, "version vector replica id")
            check_counter(count, f"version vector entry for {replica!r}")
            if count:
                self._counts[replica] = count

    def get(self, replica: str) -> int:
        return self._counts.get(replica, 0)

    def contains(self, dot: Dot) -> bool:
        return dot.counter <= self._counts.get(dot.replica, 0)

    __contains__ = contains

    def next_dot(self, replica: str) -> Dot:
        """Advance `replica`'s entry by one and return the new dot."""
        dot = Dot(replica, self._counts.get(replica, 0) + 1)
        self._counts[replica] = dot.counter
        return dot

    increment = next_dot

    def add(self, dot: Dot) -> None:
        """Record `dot` as the latest seen of its replica (entry-wise max)."""
        if dot.counter > self._counts.get(dot.replica, 0):
            self._counts[dot.replica] = dot.counter

    def merge(self, other: VersionVector) -> None:
        """In-place least upper bound."""
        for replica, count in other._counts.items():
            if count > self._counts.get(replica, 0):
                self._counts[replica] = count

    def compare(self, other: VersionVector) -> Ordering:
        return compare_counts(self._counts, other._counts)

    def dominates(self, other: VersionVector) -> bool:
        return self.compare(other) in (Ordering.AFTER, Ordering.EQUAL)

    def copy(self) -> VersionVector:
        vv = VersionVector()
        vv._counts = dict(self._counts)
        return vv

    def items(self) -> Iterator[tuple[str, int]]:
        """(replica, counter) pairs in replica order."""
        return iter(sorted(self._counts.items()))

    def to_dict(self) -> dict[str, int]:
        return dict(self.items())

    @classmethod
    def from_dict(cls, data: object) -> VersionVector:
        if not isinstance(data, Mapping):
            raise ClockError(
                f"a version vector must be a dict of replica -> count, got {data!r:.80}"
            )
        return cls(data)

    def __len__(self) -> int:
        return len(self._counts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionVector):
            return NotImplemented
        return self._counts == other._counts

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"VersionVector({self.to_dict()!r})"


class DotContext:
    """A compact set of dots: a version vector plus a cloud of out-of-order dots."""

    __slots__ = ("_cloud", "_vv")

    def __init__(self, vv: VersionVector | None = None, cloud: Iterable[Dot] = ()) -> None:
        self._vv = vv.copy() if vv is not None else VersionVector()
        self._cloud: set[Dot] = set(cloud)
        self._compact()

    @classmethod
    def of(cls, dots: Iterable[Dot]) -> DotContext:
        """The context holding exactly `dots`."""
        return cls(cloud=dots)

    @property
    def vv(self) -> VersionVector:
        """The compact part (a copy: mutate through this class only)."""
        return self._vv.copy()

    @property
    def cloud(self) -> frozenset[Dot]:
        return frozenset(self._cloud)

    def contains(self, dot: Dot) -> bool:
        return self._vv.contains(dot) or dot in self._cloud

    __contains__ = contains

    def max_counter(self, replica: str) -> int:
        """The highest counter of `replica` in the context (vector or cloud)."""
        best = self._vv.get(replica)
        for dot in self._cloud:
            if dot.replica == replica and dot.counter > best:
                best = dot.counter
        return best

    def next_dot(self, replica: str) -> Dot:
        """A fresh dot for a local event of `replica`, added to the context.

        Takes the cloud into account so a dot is never reused, even if a replica id
        was (wrongly) shared and some of its dots arrived out of order.
        """
        dot = Dot(replica, self.max_counter(replica) + 1)
        self.add(dot)
        return dot

    def add(self, dot: Dot) -> None:
        if self._vv.contains(dot):
            return
        if dot.counter == self._vv.get(dot.replica) + 1:
            self._vv.add(dot)
            if self._cloud:
                self._compact()
        else:
            self._cloud.add(dot)

    def update(self, dots: Iterable[Dot]) -> None:
        for dot in dots:
            if not self._vv.contains(dot):
                self._cloud.add(dot)
        self._compact()

    def merge(self, other: DotContext) -> None:
        """In-place union."""
        self._vv.merge(other._vv)
        self._cloud |= other._cloud
        self._compact()

    def _compact(self) -> None:
        # Sorted by (replica, counter): each replica's run folds into the vector in one pass.
        if not self._cloud:
            return
        keep: set[Dot] = set()
        for dot in sorted(self._cloud):
            have = self._vv.get(dot.replica)
            if dot.counter <= have:
                continue
            if dot.counter == have + 1:
                self._vv.add(dot)
            else:
                keep.add(dot)
        self._cloud = keep

    def dots(self) -> Iterator[Dot]:
        """Every dot in the context (can be large: the vector part is expanded)."""
        for replica, count in self._vv.items():
            for n in range(1, count + 1):
                yield Dot(replica, n)
        yield from sorted(self._cloud)

    def is_empty(self) -> bool:
        return not self._vv and not self._cloud

    def __len__(self) -> int:
        """How many dots the context holds (without expanding the vector)."""
        return sum(count for _, count in self._vv.items()) + len(self._cloud)

    def copy(self) -> DotContext:
        ctx = DotContext()
        ctx._vv = self._vv.copy()
        ctx._cloud = set(self._cloud)
        return ctx

    def to_plain(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """Canonical plain form: sorted vector pairs and sorted cloud pairs."""
        return (
            list(self._vv.items()),
            [(d.replica, d.counter) for d in sorted(self._cloud)],
        )

    @classmethod
    def from_plain(cls, vv: object, cloud: object) -> DotContext:
        """Inverse of `to_plain` for untrusted input; raises ClockError on bad shapes."""
        counts: dict[str, int] = {}
        for replica, count in _pairs(vv, "causal context vector"):
            if replica in counts:
                raise ClockError(f"causal context vector names {replica!r} twice")
            counts[replica] = check_counter(count, "causal context counter", minimum=1)
        dots = [Dot(r, c) for r, c in _pairs(cloud, "causal context cloud")]
        return cls(VersionVector(counts), dots)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DotContext):
            return NotImplemented
        return self._vv == other._vv and self._cloud == other._cloud

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        cloud = ", ".join(str(d) for d in sorted(self._cloud))
        return f"DotContext({self._vv.to_dict()!r}, cloud={{{cloud}}})"


def _pairs(obj: object, what: str) -> Iterator[tuple[str, int]]:
    if not isinstance(obj, list | tuple):
        raise ClockError(f"{what} must be a list of [replica, counter] pairs")
    for item in obj:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ClockError(f"{what} must be a list of [replica, counter] pairs, got {item!r:.60}")
        replica, count = item
        yield check_id(replica, f"{what} replica id"), check_counter(count, f"{what} counter")
