"""Causal CRDTs: dot stores joined under causal contexts (the machinery of the
add-wins set, the flags, the multi-value register and the observed-remove map).

Theory of operation (Almeida, Shoker, Baquero 2018, section 6): the state of a causal
CRDT is a *dot store* plus a *causal context* (every dot the replica has seen). A dot
in the store is a live event; a dot in the context but not in the store was seen and
then removed. Join keeps a dot if both sides have it, or if one side has it and the
other has never seen it. So a remove deletes exactly what it observed, a concurrent
add survives (add-wins), and no per-element tombstone is ever kept (Riak's ORSWOT).

Three shapes of dot store, nested as needed:
- DotSet:  set[Dot]                      (enable-wins flag)
- DotFun:  dict[Dot, value]              (multi-value register, disable-wins flag)
- DotMap:  dict[key, inner dot store]    (add-wins set = DotMap[DotSet]; ORMap)

Rules kept in this file:
- every dot in a store is in its context, and a dot appears at most once per state;
  decode rejects states that break this;
- empty inner stores are never kept, so equal states have equal plain forms;
- a local mutator mutates the context *in place* (never rebinds it): an ORMap lends
  its context to the value it updates, so the value's new dots land in the map's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Protocol, Self

from senate.clocks import Dot, DotContext, HybridLogicalClock
from senate.crdt._codec import (
    ctx_plain,
    dot_plain,
    expect_ctx,
    expect_dot,
    expect_dots,
    expect_element,
    expect_list,
    sort_key,
    unique_keys,
)
from senate.crdt.base import CRDT
from senate.errors import CRDTError, DecodeError


class Shape(Protocol):
    """The operations every dot store shape offers (stores are plain sets and dicts)."""

    def empty(self) -> Any: ...
    def join(self, a: Any, ca: DotContext, b: Any, cb: DotContext) -> Any: ...
    def dots(self, s: Any) -> Iterator[Dot]: ...
    def copy(self, s: Any) -> Any: ...
    def restrict(self, s: Any, keep: set[Dot]) -> Any: ...
    def to_plain(self, s: Any) -> list[Any]: ...
    def from_plain(self, obj: object) -> Any: ...


class DotSetShape:
    """set[Dot]."""

    def empty(self) -> set[Dot]:
        return set()

    def join(self, a: set[Dot], ca: DotContext, b: set[Dot], cb: DotContext) -> set[Dot]:
        return (a & b) | {d for d in a if d not in cb} | {d for d in b if d not in ca}

    def dots(self, s: set[Dot]) -> Iterator[Dot]:
        return iter(s)

    def copy(self, s: set[Dot]) -> set[Dot]:
        return set(s)

    def restrict(self, s: set[Dot], keep: set[Dot]) -> set[Dot]:
        return s & keep

    def to_plain(self, s: set[Dot]) -> list[Any]:
        return [dot_plain(d) for d in sorted(s)]

    def from_plain(self, obj: object) -> set[Dot]:
        return set(expect_dots(obj, "dot set"))


class DotFunShape:
    """dict[Dot, value]; `check` validates decoded values."""

    def __init__(self, check: Callable[[object], Any]) -> None:
        self._check = check

    def empty(self) -> dict[Dot, Any]:
        return {}

    def join(
        self, a: dict[Dot, Any], ca: DotContext, b: dict[Dot, Any], cb: DotContext
    ) -> dict[Dot, Any]:
        out: dict[Dot, Any] = {}
        for dot, v in a.items():
            if dot in b:
                # One dot is one event, so the values agree; if a corrupt peer says
                # otherwise, pick by encoding so the join stays commutative.
                w = b[dot]
                out[dot] = v if sort_key(v) >= sort_key(w) else w
            elif dot not in cb:
                out[dot] = v
        for dot, w in b.items():
            if dot not in a and dot not in ca:
                out[dot] = w
        return out

    def dots(self, s: dict[Dot, Any]) -> Iterator[Dot]:
        return iter(s)

    def copy(self, s: dict[Dot, Any]) -> dict[Dot, Any]:
        return dict(s)

    def restrict(self, s: dict[Dot, Any], keep: set[Dot]) -> dict[Dot, Any]:
        return {d: v for d, v in s.items() if d in keep}

    def to_plain(self, s: dict[Dot, Any]) -> list[Any]:
        return [[dot_plain(d), s[d]] for d in sorted(s)]

    def from_plain(self, obj: object) -> dict[Dot, Any]:
        pairs = []
        for item in expect_list(obj, "dot function"):
            dot, value = expect_list(item, "dot function entry", 2)
            pairs.append((expect_dot(dot), self._check(value)))
        return unique_keys(pairs, "dot function")


class DotMapShape:
    """dict[key, inner store]; keys are set elements (str, bytes, int)."""

    def __init__(self, inner: Shape) -> None:
        self.inner = inner

    def empty(self) -> dict[Any, Any]:
        return {}

    def join(
        self, a: dict[Any, Any], ca: DotContext, b: dict[Any, Any], cb: DotContext
    ) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        inner = self.inner
        for key in a.keys() | b.keys():
            joined = inner.join(a.get(key) or inner.empty(), ca, b.get(key) or inner.empty(), cb)
            if joined:
                out[key] = joined
        return out

    def dots(self, s: dict[Any, Any]) -> Iterator[Dot]:
        for inner_store in s.values():
            yield from self.inner.dots(inner_store)

    def copy(self, s: dict[Any, Any]) -> dict[Any, Any]:
        return {k: self.inner.copy(v) for k, v in s.items()}

    def restrict(self, s: dict[Any, Any], keep: set[Dot]) -> dict[Any, Any]:
        out = {}
        for key, inner_store in s.items():
            kept = self.inner.restrict(inner_store, keep)
            if kept:
                out[key] = kept
        return out

    def to_plain(self, s: dict[Any, Any]) -> list[Any]:
        return [[k, self.inner.to_plain(s[k])] for k in sorted(s, key=sort_key)]

    def from_plain(self, obj: object) -> dict[Any, Any]:
        pairs = []
        for item in expect_list(obj, "dot map"):
            key, inner = expect_list(item, "dot map entry", 2)
            pairs.append((expect_element(key, "map key"), self.inner.from_plain(inner)))
        return {k: v for k, v in unique_keys(pairs, "dot map").items() if v}


class CausalKind:
    """A causal CRDT type as a value type of an ORMap: its store shape, its name on the
    wire, how to read its value and how to wrap a store and a borrowed context."""

    __slots__ = ("_factory", "_value", "descriptor", "shape")

    def __init__(
        self,
        shape: Shape,
        descriptor: Any,
        factory: Callable[[str, Any, DotContext, HybridLogicalClock | None], CausalCRDT],
        value: Callable[[Any], Any],
    ) -> None:
        self.shape = shape
        self.descriptor = descriptor
        self._factory = factory
        self._value = value

    def value(self, store: Any) -> Any:
        return self._value(store)

    def embed(
        self, replica: str, store: Any, ctx: DotContext, clock: HybridLogicalClock | None = None
    ) -> CausalCRDT:
        """Wrap `store` and a borrowed `ctx`; `clock` is for values that need one."""
        return self._factory(replica, store, ctx, clock)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalKind):
            return NotImplemented
        return bool(self.descriptor == other.descriptor)

    def __hash__(self) -> int:
        return hash(repr(self.descriptor))

    def __repr__(self) -> str:
        return f"CausalKind({self.descriptor!r})"


class CausalCRDT(CRDT):
    """A CRDT whose state is a dot store plus a causal context."""

    __slots__ = ("_ctx", "_store")
    KIND: ClassVar[CausalKind]

    def __init__(self, replica: str) -> None:
        super().__init__(replica)
        self._store: Any = self.kind.shape.empty()
        self._ctx = DotContext()

    @property
    def kind(self) -> CausalKind:
        return self.KIND

    @property
    def context(self) -> DotContext:
        """A copy of the causal context: every dot this replica has seen."""
        return self._ctx.copy()

    def dots(self) -> frozenset[Dot]:
        """The live dots of the state (the events not yet removed)."""
        return frozenset(self.kind.shape.dots(self._store))

    @classmethod
    def _embedded(
        cls, replica: str, store: Any, ctx: DotContext, clock: HybridLogicalClock | None = None
    ) -> Self:
        """Wrap a store and a *borrowed* context (an ORMap's) without copying either.
        `clock` is ignored here; clocked values override this."""
        out = cls(replica)
        out._store = store
        out._ctx = ctx
        return out

    def _blank(self) -> Self:
        return type(self)(self._replica)

    def _with(self, store: Any, ctx: DotContext) -> Self:
        out = self._blank()
        out._store = store
        out._ctx = ctx
        return out

    def copy(self) -> Self:
        return self._with(self.kind.shape.copy(self._store), self._ctx.copy())

    def _join(self, other: Self) -> None:
        if other.kind != self.kind:
            raise CRDTError(f"cannot merge a {other.kind!r} into a {self.kind!r}")
        self._store = self.kind.shape.join(self._store, self._ctx, other._store, other._ctx)
        self._ctx.merge(other._ctx)

    @property
    def value(self) -> Any:
        return self.kind.value(self._store)

    def _state_plain(self) -> Any:
        return [self.kind.shape.to_plain(self._store), ctx_plain(self._ctx)]

    @classmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        store, ctx = expect_list(plain, f"{cls.TAG} state", 2)
        out = cls(replica)
        out._load(store, ctx)
        return out

    def _load(self, store: object, ctx: object) -> None:
        self._store = self.kind.shape.from_plain(store)
        self._ctx = expect_ctx(ctx)
        seen: set[Dot] = set()
        for dot in self.kind.shape.dots(self._store):
            if dot in seen:
                raise DecodeError(f"{self.TAG} state uses dot {dot} twice")
            if dot not in self._ctx:
                raise DecodeError(f"{self.TAG} state holds dot {dot} outside its causal context")
            seen.add(dot)


class KeyedCausalCRDT(CausalCRDT):
    """A causal CRDT whose store is a DotMap (ORSet, ORMap), with an index dot -> key.

    The index lets a small delta be merged into a large state in time proportional to
    the delta: only the keys the delta names, or whose dots its context covers, can
    change. It is built lazily (None = not built) and kept up to date by `_put`.
    """

    __slots__ = ("_owner",)

    def __init__(self, replica: str) -> None:
        super().__init__(replica)
        self._owner: dict[Dot, Any] | None = None

    def _index(self) -> dict[Dot, Any]:
        if self._owner is None:
            inner = self._map_shape().inner
            self._owner = {d: k for k, s in self._store.items() for d in inner.dots(s)}
        return self._owner

    def _map_shape(self) -> DotMapShape:
        shape = self.kind.shape
        assert isinstance(shape, DotMapShape)
        return shape

    def _put(self, key: Any, inner_store: Any) -> None:
        """Set (or, if empty/None, delete) the entry of `key`, keeping the index."""
        inner = self._map_shape().inner
        old = self._store.pop(key, None)
        owner = self._owner
        if owner is not None and old is not None:
            for dot in inner.dots(old):
                owner.pop(dot, None)
        if inner_store:
            self._store[key] = inner_store
            if owner is not None:
                for dot in inner.dots(inner_store):
                    owner[dot] = key

    def _clear_store(self) -> set[Dot]:
        seen = set(self.kind.shape.dots(self._store))
        self._store = {}
        self._owner = None
        return seen

    def _join(self, other: Self) -> None:
        if other.kind != self.kind:
            raise CRDTError(f"cannot merge a {other.kind!r} into a {self.kind!r}")
        inner = self._map_shape().inner
        theirs, cb = other._store, other._ctx
        owner = self._index()
        keys = set(theirs)
        if len(cb) < len(owner):
            for dot in cb.dots():
                key = owner.get(dot)
                if key is not None:
                    keys.add(key)
        else:
            keys.update(key for dot, key in owner.items() if dot in cb)
        mine, ca = self._store, self._ctx
        for key in keys:
            # Both contexts as they were before this join: merge the context last.
            joined = inner.join(
                mine.get(key) or inner.empty(), ca, theirs.get(key) or inner.empty(), cb
            )
            self._put(key, joined)
        self._ctx.merge(cb)
