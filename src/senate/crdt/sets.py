"""Grow-only, two-phase and add-wins observed-remove sets, delta-state.

Rules kept in this file:
- GSet: union; elements are never removed.
- TwoPSet: an added set and a removed set (the tombstones), both grow-only; an element
  is present if added and not removed, and once removed it can never come back; remove
  needs the element to be present here (precondition), re-adding a removed one is an error.
- ORSet (Riak's ORSWOT): a DotMap element -> set of dots, plus one causal context; no
  per-element tombstones. Add replaces the dots it saw for the element by one fresh
  dot; remove drops the dots it saw. A concurrent add's dot was not seen by the remove,
  so it survives: add wins, as Redis Active-Active sets do.
- Elements are str, bytes or 64-bit ints (see senate.crdt._codec.Element).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

from senate.clocks import Dot, DotContext
from senate.crdt._codec import Element, check_element, expect_element, expect_list, sort_key
from senate.crdt.base import CRDT
from senate.crdt.causal import CausalKind, DotMapShape, DotSetShape, KeyedCausalCRDT
from senate.errors import CRDTError, DecodeError


def _elements_plain(elements: set[Element]) -> list[Element]:
    return sorted(elements, key=sort_key)


def _elements_from_plain(obj: object, what: str) -> set[Element]:
    items = [expect_element(e, what) for e in expect_list(obj, what)]
    out = set(items)
    if len(out) != len(items):
        raise DecodeError(f"{what} lists an element twice")
    return out


class GSet(CRDT):
    """A grow-only set."""

    __slots__ = ("_items",)
    TAG = "gset"

    def __init__(self, replica: str) -> None:
        super().__init__(replica)
        self._items: set[Element] = set()

    def add(self, element: Element) -> Self:
        check_element(element)
        self._items.add(element)
        delta = type(self)(self._replica)
        delta._items.add(element)
        return delta

    @property
    def value(self) -> frozenset[Element]:
        return frozenset(self._items)

    def __contains__(self, element: object) -> bool:
        return element in self._items

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Self:
        twin = type(self)(self._replica)
        twin._items = set(self._items)
        return twin

    def _join(self, other: Self) -> None:
        self._items |= other._items

    def _state_plain(self) -> Any:
        return _elements_plain(self._items)

    @classmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        out = cls(replica)
        out._items = _elements_from_plain(plain, "gset element")
        return out


class TwoPSet(CRDT):
    """A two-phase set: add, then remove forever."""

    __slots__ = ("_added", "_removed")
    TAG = "twopset"

    def __init__(self, replica: str) -> None:
        super().__init__(replica)
        self._added: set[Element] = set()
        self._removed: set[Element] = set()

    def add(self, element: Element) -> Self:
        check_element(element)
        if element in self._removed:
            raise CRDTError(f"{element!r:.60} was removed from a two-phase set; it cannot return")
        self._added.add(element)
        delta = type(self)(self._replica)
        delta._added.add(element)
        return delta

    def remove(self, element: Element) -> Self:
        check_element(element)
        if element not in self._added or element in self._removed:
            raise CRDTError(f"{element!r:.60} is not in the set; only present elements go")
        self._removed.add(element)
        delta = type(self)(self._replica)
        delta._removed.add(element)
        return delta

    @property
    def value(self) -> frozenset[Element]:
        return frozenset(self._added - self._removed)

    def __contains__(self, element: object) -> bool:
        return element in self._added and element not in self._removed

    def copy(self) -> Self:
        twin = type(self)(self._replica)
        twin._added = set(self._added)
        twin._removed = set(self._removed)
        return twin

    def _join(self, other: Self) -> None:
        self._added |= other._added
        self._removed |= other._removed

    def _state_plain(self) -> Any:
        return [_elements_plain(self._added), _elements_plain(self._removed)]

    @classmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        added, removed = expect_list(plain, "twopset state", 2)
        out = cls(replica)
        out._added = _elements_from_plain(added, "twopset added element")
        # A delta of a remove carries only the tombstone, so removed need not be in added.
        out._removed = _elements_from_plain(removed, "twopset removed element")
        return out


class ORSet(KeyedCausalCRDT):
    """An add-wins observed-remove set without tombstones (ORSWOT)."""

    __slots__ = ()
    TAG = "orset"

    def add(self, element: Element) -> Self:
        """Add `element`; returns the delta (the fresh dot, and the dots it replaces)."""
        check_element(element)
        seen: set[Dot] = self._store.get(element, set())
        dot = self._ctx.next_dot(self._replica)
        self._put(element, {dot})
        return self._with({element: {dot}}, DotContext.of(seen | {dot}))

    def remove(self, element: Element) -> Self:
        """Remove `element` as observed here; a concurrent add elsewhere survives."""
        check_element(element)
        seen: set[Dot] = self._store.get(element, set())
        self._put(element, None)
        return self._with({}, DotContext.of(seen))

    def clear(self) -> Self:
        """Remove every element observed here."""
        return self._with({}, DotContext.of(self._clear_store()))

    @property
    def value(self) -> frozenset[Element]:
        return frozenset(self._store)

    def elements(self) -> list[Element]:
        """The elements in canonical order."""
        return sorted(self._store, key=sort_key)

    def __contains__(self, element: object) -> bool:
        return element in self._store

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[Element]:
        return iter(self.elements())


ORSet.KIND = CausalKind(DotMapShape(DotSetShape()), "orset", ORSet._embedded, frozenset)
