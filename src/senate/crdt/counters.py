"""Grow-only and positive-negative counters (Shapiro et al. 2011), delta-state.

Rules kept in this file:
- a GCounter is a map replica -> total of that replica's increments; join is the
  entry-wise max, value the sum; a replica only ever raises its own entry;
- a PNCounter is two GCounters, one for increments and one for decrements; so
  concurrent increments (and decrements) add up, as in Redis Active-Active counters;
- a delta carries only the one entry the mutation changed (its new total);
- totals are bounded by 2**64-1 (they travel as msgpack uint64); exceeding it is a
  CRDTError and changes nothing;
- CausalCounter is the counter a map holds (`ORMap(r, PNCounter)`): a causal CRDT whose
  events a map's remove can observe and take back (see its docstring).
"""

from __future__ import annotations

from typing import Any, Self

from senate.clocks import DotContext
from senate.crdt._codec import (
    MAX_COUNT,
    check_amount,
    expect_id,
    expect_list,
    expect_uint,
    is_int,
    unique_keys,
)
from senate.crdt.base import CRDT
from senate.crdt.causal import CausalCRDT, CausalKind, DotFunShape
from senate.errors import CRDTError, DecodeError


def _join_max(into: dict[str, int], other: dict[str, int]) -> None:
    for replica, count in other.items():
        if count > into.get(replica, 0):
            into[replica] = count


def _plain(counts: dict[str, int]) -> list[list[Any]]:
    return [[r, n] for r, n in sorted(counts.items()) if n]


def _from_plain(obj: object, what: str) -> dict[str, int]:
    pairs = []
    for item in expect_list(obj, what):
        replica, count = expect_list(item, f"{what} entry", 2)
        pairs.append((expect_id(replica, f"{what} replica"), expect_uint(count, f"{what} count")))
    return {r: n for r, n in unique_keys(pairs, what).items() if n}


def _bump(counts: dict[str, int], replica: str, amount: int) -> int:
    total = counts.get(replica, 0) + amount
    if total > MAX_COUNT:
        raise CRDTError(f"counter entry of {replica!r} would pass 2**64-1")
    return total


class GCounter(CRDT):
    """A grow-only counter."""

    __slots__ = ("_counts",)
    TAG = "gcounter"

    def __init__(self, replica: str) -> None:
        super().__init__(replica)
        self._counts: dict[str, int] = {}

    def increment(self, amount: int = 1) -> Self:
        """Add `amount` (>= 0); returns the delta."""
        check_amount(amount, "a GCounter increment")
        total = _bump(self._counts, self._replica, amount)
        delta = type(self)(self._replica)
        if total:
            self._counts[self._replica] = total
            delta._counts[self._replica] = total
        return delta

    @property
    def value(self) -> int:
        return sum(self._counts.values())

    def copy(self) -> Self:
        twin = type(self)(self._replica)
        twin._counts = dict(self._counts)
        return twin

    def _join(self, other: Self) -> None:
        _join_max(self._counts, other._counts)

    def _state_plain(self) -> Any:
        return _plain(self._counts)

    @classmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        out = cls(replica)
        out._counts = _from_plain(plain, "gcounter")
        return out


class PNCounter(CRDT):
    """A counter that goes up and down; concurrent changes add up."""

    __slots__ = ("_n", "_p")
    TAG = "pncounter"

    def __init__(self, replica: str) -> None:
        super().__init__(replica)
        self._p: dict[str, int] = {}
        self._n: dict[str, int] = {}

    def increment(self, amount: int = 1) -> Self:
        """Add `amount` (any int; negative decrements); returns the delta."""
        if not is_int(amount):
            raise CRDTError(f"a counter increment must be an int, got {amount!r:.40}")
        side = "_p" if amount >= 0 else "_n"
        mine: dict[str, int] = getattr(self, side)
        total = _bump(mine, self._replica, abs(amount))
        delta = type(self)(self._replica)
        if total:
            mine[self._replica] = total
            getattr(delta, side)[self._replica] = total
        return delta

    def decrement(self, amount: int = 1) -> Self:
        if not is_int(amount):
            raise CRDTError(f"a counter decrement must be an int, got {amount!r:.40}")
        return self.increment(-amount)

    @property
    def value(self) -> int:
        return sum(self._p.values()) - sum(self._n.values())

    def copy(self) -> Self:
        twin = type(self)(self._replica)
        twin._p = dict(self._p)
        twin._n = dict(self._n)
        return twin

    def _join(self, other: Self) -> None:
        _join_max(self._p, other._p)
        _join_max(self._n, other._n)

    def _state_plain(self) -> Any:
        return [_plain(self._p), _plain(self._n)]

    @classmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        p, n = expect_list(plain, "pncounter state", 2)
        out = cls(replica)
        out._p = _from_plain(p, "pncounter increments")
        out._n = _from_plain(n, "pncounter decrements")
        return out


# -- the counter an ORMap holds ------------------------------------------------------------
_AMOUNT_MIN, _AMOUNT_MAX = -(2**63), 2**63 - 1


def _expect_amount(value: object) -> int:
    if not is_int(value) or not _AMOUNT_MIN <= value <= _AMOUNT_MAX:
        raise DecodeError(f"a counter amount must be a 64-bit signed int, got {value!r:.40}")
    return value


class CausalCounter(CausalCRDT):
    """An observed-reset counter: the value type of `ORMap(replica, PNCounter)`.

    Semantics (Redis Active-Active counters in hashes, HINCRBY/HDEL):
    - every increment or decrement is one event (a dot) carrying its amount; the value
      is the sum of the live amounts, so concurrent increments add up;
    - `reset` (what an ORMap's `remove` of the key does) removes exactly the events it
      observed: a concurrent increment survives with its own amount only, so after a
      remove the value restarts from what the remover observed (0) plus whatever it
      did not observe; remove-then-readd likewise restarts at 0;
    - a counter with no live event is absent from its map (as after HDEL); an
      increment by 0 makes it present with value 0 (as HINCRBY key field 0).

    Cost: one (dot, amount) entry per increment until a remove observes it. Folding a
    replica's own entries into one would make a concurrent remove take back amounts it
    never observed (Riak's embedded counter has that quirk), so it is not done; folding
    entries every replica has seen (causally stable) would be safe and is not built yet.
    """

    __slots__ = ()
    TAG = "causalcounter"

    def increment(self, amount: int = 1) -> Self:
        """Add `amount` (any 64-bit signed int; negative decrements); returns the delta."""
        if not is_int(amount) or not _AMOUNT_MIN <= amount <= _AMOUNT_MAX:
            raise CRDTError(f"a counter increment must be a 64-bit signed int, got {amount!r:.40}")
        dot = self._ctx.next_dot(self._replica)
        self._store[dot] = amount
        return self._with({dot: amount}, DotContext.of({dot}))

    def decrement(self, amount: int = 1) -> Self:
        if not is_int(amount) or amount == _AMOUNT_MIN:
            raise CRDTError(f"a counter decrement must be a 64-bit signed int, got {amount!r:.40}")
        return self.increment(-amount)

    def reset(self) -> Self:
        """Remove every increment observed here (value 0); concurrent ones survive."""
        seen = set(self._store)
        self._store = {}
        return self._with({}, DotContext.of(seen))

    @property
    def value(self) -> int:
        return _sum(self._store)


def _sum(store: Any) -> int:
    return sum(store.values())


CausalCounter.KIND = CausalKind(
    DotFunShape(_expect_amount), "counter", CausalCounter._embedded, _sum
)
