"""Observed-remove map with nested causal CRDT values (Almeida, Shoker, Baquero 2018).

Theory of operation: the map's state is a DotMap key -> the value's dot store, with
ONE causal context shared by the map and every value in it. To update a key, the
map lends its context to a value object wrapping that key's store; the value's
mutators draw fresh dots from (and record them in) the map's context. Removing a key
removes exactly the dots it observed under that key. Join is the DotMap join, so:
- a remove concurrent with an update keeps the update (the update's dots were not
  observed by the remove), and only the update: what the remove saw stays removed,
  as Redis Active-Active hashes do;
- a key is present exactly when its value holds at least one live dot (so, e.g.,
  disabling an enable-wins flag or emptying a set drops its key).

Rules kept in this file:
- values are causal CRDTs of one kind per map (ORSet, EWFlag, DWFlag, MVRegister,
  CausalLWWRegister, counters or, nested, ORMap.of(...)); the kind is part of the state
  and of the encoding;
- a map of counters, `ORMap(r, PNCounter)`, holds CausalCounters (a PNCounter's
  per-replica totals cannot be observed-and-removed): increments add up, a remove
  concurrent with an increment keeps the increment (and only it: the value restarts
  from what the remover observed), remove-then-readd restarts at 0 (Redis
  Active-Active HINCRBY/HDEL);
- the map's HLC (optional, node = replica id) is lent to values that stamp writes;
- a delta of `update` is computed from what changed: the dots added, the dots removed
  and every dot drawn (even one added and removed again inside the update, so that
  receivers' contexts have no gaps and stay compact).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Self

from senate.clocks import Dot, DotContext, HybridLogicalClock
from senate.crdt._codec import MAX_DEPTH, Element, check_element, expect_list, sort_key
from senate.crdt.causal import CausalCRDT, CausalKind, DotMapShape, KeyedCausalCRDT
from senate.crdt.counters import CausalCounter, PNCounter
from senate.crdt.flags import DWFlag, EWFlag
from senate.crdt.registers import CausalLWWRegister, MVRegister, fork_clock, own_clock
from senate.crdt.sets import ORSet
from senate.errors import CRDTError, DecodeError

ValueType = type[CausalCRDT] | type[PNCounter] | CausalKind

_BASIC_KINDS: dict[str, CausalKind] = {
    cls.KIND.descriptor: cls.KIND
    for cls in (ORSet, EWFlag, DWFlag, MVRegister, CausalLWWRegister, CausalCounter)
}


def kind_of(value_type: ValueType) -> CausalKind:
    if value_type is PNCounter:  # a map of counters holds observed-reset counters
        return CausalCounter.KIND
    return _kind_of(value_type)


def _kind_of(value_type: ValueType | type[PNCounter]) -> CausalKind:
    if isinstance(value_type, CausalKind):
        return value_type
    if isinstance(value_type, type) and issubclass(value_type, CausalCRDT):
        kind = getattr(value_type, "KIND", None)
        if isinstance(kind, CausalKind) and value_type is not ORMap:
            return kind
    raise CRDTError(
        "ORMap values must be ORSet, EWFlag, DWFlag, MVRegister, CausalLWWRegister, "
        "PNCounter (held as a CausalCounter) or ORMap.of(...), "
        f"got {value_type!r:.60}"
    )


def _kind_from_descriptor(obj: object, depth: int = 0) -> CausalKind:
    if depth > MAX_DEPTH:
        raise DecodeError(f"ORMap value types nest deeper than {MAX_DEPTH}")
    if isinstance(obj, str) and obj in _BASIC_KINDS:
        return _BASIC_KINDS[obj]
    if isinstance(obj, list) and len(obj) == 2 and obj[0] == "ormap":
        return ORMap.of(_kind_from_descriptor(obj[1], depth + 1))
    raise DecodeError(f"unknown ORMap value type {obj!r:.60}")


class ORMap(KeyedCausalCRDT):
    """An observed-remove map from keys (str, bytes, int) to causal CRDT values."""

    __slots__ = ("_clock", "_kind", "_map_kind")
    TAG = "ormap"

    def __init__(
        self, replica: str, value_type: ValueType, clock: HybridLogicalClock | None = None
    ) -> None:
        self._kind = kind_of(value_type)
        self._map_kind = ORMap.of(self._kind)
        super().__init__(replica)
        self._clock = None if clock is None else own_clock(clock, replica)

    @property
    def clock(self) -> HybridLogicalClock | None:
        return self._clock

    @clock.setter
    def clock(self, clock: HybridLogicalClock | None) -> None:
        self._clock = None if clock is None else own_clock(clock, self._replica)

    def fork(self, replica: str, clock: HybridLogicalClock | None = None) -> Self:
        twin = super().fork(replica)
        if clock is None and self._clock is not None:
            clock = fork_clock(self._clock, twin.replica)
        twin.clock = clock
        return twin

    @staticmethod
    def of(value_type: ValueType) -> CausalKind:
        """The kind "ORMap with values of `value_type`", to nest maps in maps."""
        inner = kind_of(value_type)
        depth, descriptor = 0, inner.descriptor
        while isinstance(descriptor, list):
            depth, descriptor = depth + 1, descriptor[1]
        if depth > MAX_DEPTH:
            raise CRDTError(f"ORMap values nest at most {MAX_DEPTH} maps deep")

        def embed(
            replica: str, store: Any, ctx: DotContext, clock: HybridLogicalClock | None
        ) -> CausalCRDT:
            out = ORMap(replica, inner, clock)
            out._store, out._ctx = store, ctx
            return out

        def value(store: Any) -> dict[Element, Any]:
            return {k: inner.value(store[k]) for k in sorted(store, key=sort_key)}

        return CausalKind(DotMapShape(inner.shape), ["ormap", inner.descriptor], embed, value)

    @property
    def kind(self) -> CausalKind:
        """The kind of this map as a whole (ORMap.of(value kind))."""
        return self._map_kind

    @property
    def value_kind(self) -> CausalKind:
        return self._kind

    def _blank(self) -> Self:
        return type(self)(self._replica, self._kind, self._clock)

    # -- mutators ---------------------------------------------------------------------------
    def update(self, key: Element, mutate: Callable[[Any], object]) -> Self:
        """Apply `mutate` to the value at `key` (created empty if absent); returns the
        delta. `mutate` gets a live value object (ORSet, EWFlag, ...) and may call any
        of its mutators, any number of times; its return value is ignored. If `mutate`
        raises, the value is left as it was (dots it drew stay used up)."""
        check_element(key)
        shape = self._kind.shape
        before = shape.copy(self._store[key]) if key in self._store else shape.empty()
        before_dots = set(shape.dots(before))
        first = self._ctx.max_counter(self._replica)
        child = self._kind.embed(self._replica, shape.copy(before), self._ctx, self._clock)
        mutate(child)
        if child._ctx is not self._ctx:
            raise CRDTError("a map value's context was replaced during update")
        after = child._store
        after_dots = set(shape.dots(after))
        drawn = range(first + 1, self._ctx.max_counter(self._replica) + 1)
        changed = {Dot(self._replica, n) for n in drawn} | (before_dots - after_dots)
        self._put(key, after)
        added = shape.restrict(after, after_dots - before_dots)
        return self._with({key: added} if added else {}, DotContext.of(changed))

    def remove(self, key: Element) -> Self:
        """Remove `key` as observed here; a concurrent update elsewhere survives."""
        check_element(key)
        seen = self._store.get(key)
        dots = set(self._kind.shape.dots(seen)) if seen is not None else set()
        self._put(key, None)
        return self._with({}, DotContext.of(dots))

    def clear(self) -> Self:
        return self._with({}, DotContext.of(self._clear_store()))

    # -- reading ----------------------------------------------------------------------------
    @property
    def value(self) -> dict[Element, Any]:
        """A plain dict key -> the value's value, keys in canonical order."""
        return dict(self.kind.value(self._store))

    def get(self, key: Element, default: Any = None) -> Any:
        if key not in self._store:
            return default
        return self._kind.value(self._store[key])

    def keys(self) -> list[Element]:
        return sorted(self._store, key=sort_key)

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[Element]:
        return iter(self.keys())

    # -- encoding ---------------------------------------------------------------------------
    def _state_plain(self) -> Any:
        return [self._kind.descriptor, *super()._state_plain()]

    @classmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        descriptor, store, ctx = expect_list(plain, "ormap state", 3)
        out = cls(replica, _kind_from_descriptor(descriptor))
        out._load(store, ctx)
        return out
