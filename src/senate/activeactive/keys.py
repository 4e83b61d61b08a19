"""One key of the keyspace: its cells per Redis type, its expiry, and type conflicts.

A key holds four maps of cells (cell.py), one per Redis type: STRING (one cell, field
b""), HASH (field -> cell), SET (element -> cell, presence only), ZSET (member -> cell:
the score is the register plus the float counter). And an expiry: dot -> (HLC, at),
at = absolute unix ms, or 0 for a PERSIST marker.

Rules kept in this file (documented in README of the package, __init__.py):
- the key's type is the type with a live cell; if concurrent writes left live cells of
  several types, the type whose latest live write has the largest HLC wins (ties: the
  order STRING, HASH, SET, ZSET); the other types' cells stay, hidden, until a write
  that observes them (SET, DEL) removes them, so every replica picks the same type;
- expiry: entries are observed-remove like register writes; of the live entries a
  PERSIST marker beats every expiry, otherwise the latest (longest) expiry wins;
- a key with no live cell does not exist; it is kept in memory only while a cell has
  counter history or expiry entries remain (an operation that empties a key removes
  the expiry it observed; the expiry sweeper deletes what is left of dead keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from senate.activeactive.cell import Cell, CellDelta, Dot, _groups, _list, in_vv, uint
from senate.activeactive.cell import _dot as make_dot
from senate.errors import DecodeError

STRING, HASH, SET, ZSET = range(4)
TYPE_NAMES = ("string", "hash", "set", "zset")
PERSIST = 0


@dataclass(slots=True)
class KeyDelta:
    """The effect of one operation on one key."""

    cells: list[tuple[int, bytes, CellDelta]] = field(default_factory=list)
    exp_rm: list[Dot] = field(default_factory=list)
    exp_add: dict[Dot, tuple[int, int]] = field(default_factory=dict)

    def to_plain(self) -> list[Any]:
        return [
            [x for t, f, d in self.cells for x in (t, f, d.to_plain())],
            [x for d in self.exp_rm for x in d],
            [x for (o, s), (ts, at) in self.exp_add.items() for x in (o, s, ts, at)],
        ]

    @classmethod
    def from_plain(cls, obj: object) -> KeyDelta:
        cells, rm, add = _list(obj, "key delta", 3)
        out = cls()
        for t, f, d in _groups(cells, 3, "cell deltas"):
            out.cells.append((_type(t), _field(f), CellDelta.from_plain(d)))
        out.exp_rm = [make_dot(o, s) for o, s in _groups(rm, 2, "expiry removals")]
        for o, s, ts, at in _groups(add, 4, "expiry entries"):
            out.exp_add[make_dot(o, s)] = (uint(ts, "expiry HLC"), uint(at, "expiry time"))
        return out


def _type(obj: object) -> int:
    if type(obj) is not int or not 0 <= obj <= ZSET:
        raise DecodeError("bad key type code")
    return obj


def _field(obj: object) -> bytes:
    if not isinstance(obj, bytes):
        raise DecodeError("bad field: expected bytes")
    return obj


@dataclass(slots=True)
class KeyState:
    cells: tuple[dict[bytes, Cell], ...] = field(default_factory=lambda: ({}, {}, {}, {}))
    exp: dict[Dot, tuple[int, int]] = field(default_factory=dict)

    # -- reading --------------------------------------------------------------------------
    def type_of(self) -> int | None:
        """The visible type (see the module rules), or None if the key does not exist."""
        types = []
        for t, cells in enumerate(self.cells):
            if cells:
                for c in cells.values():
                    if c.regs or c.pres:
                        types.append(t)
                        break
        if len(types) <= 1:
            return types[0] if types else None
        return max(types, key=lambda t: (self._recency(t), -t))

    def _recency(self, t: int) -> int:
        return max(c.recency() for c in self.cells[t].values() if c.live())

    def live(self, t: int) -> dict[bytes, Cell]:
        return {f: c for f, c in self.cells[t].items() if c.live()}

    def expire_at(self) -> int | None:
        """Absolute unix ms of expiry, or None (no expiry, or PERSIST won)."""
        if not self.exp:
            return None
        best = 0
        for _ts, at in self.exp.values():
            if at == PERSIST:
                return None
            best = max(best, at)
        return best

    # -- local mutators -------------------------------------------------------------------
    def cell(self, t: int, f: bytes) -> Cell:
        cells = self.cells[t]
        c = cells.get(f)
        if c is None:
            c = cells[f] = Cell()
        return c

    def clear(self, delta: KeyDelta, *, keep: int | None = None) -> None:
        """Observed remove of every cell (but those of type `keep`) and of the expiry."""
        for t, cells in enumerate(self.cells):
            if t == keep:
                continue
            for f, c in cells.items():
                if c.live() or c.has_history():
                    d = c.clear()
                    if d.rm or d.base:
                        delta.cells.append((t, f, d))
        self.clear_expiry(delta)

    def clear_expiry(self, delta: KeyDelta) -> None:
        delta.exp_rm.extend(self.exp)
        self.exp = {}

    def set_expiry(self, delta: KeyDelta, dot: Dot, ts: int, at: int) -> None:
        self.clear_expiry(delta)
        self.exp[dot] = (ts, at)
        delta.exp_add[dot] = (ts, at)

    # -- replication ----------------------------------------------------------------------
    def apply(self, delta: KeyDelta) -> None:
        for t, f, d in delta.cells:
            self.cell(t, f).apply(d)
        for dot in delta.exp_rm:
            self.exp.pop(dot, None)
        if delta.exp_add:
            self.exp.update(delta.exp_add)

    def gc(self) -> bool:
        """Drop cells with no live dot and no history; True if the key itself can go.

        Expiry entries are never dropped here, only by operations: whether a key is
        momentarily dead depends on the order concurrent operations arrived in, so
        dropping state on that basis would let replicas diverge."""
        for cells in self.cells:
            for f in [f for f, c in cells.items() if not c.live() and not c.has_history()]:
                del cells[f]
        return not self.exp and not any(self.cells)

    def join(self, other: KeyState, mine: dict[str, int], theirs: dict[str, int]) -> None:
        for t in range(4):
            cells, others = self.cells[t], other.cells[t]
            for f, c in cells.items():
                c.join(others.get(f) or Cell(), mine, theirs)
            for f, c in others.items():
                if f not in cells:
                    fresh = Cell()
                    fresh.join(c, mine, theirs)
                    cells[f] = fresh
        exp = {d: x for d, x in self.exp.items() if d in other.exp or not in_vv(d, theirs)}
        for d, x in other.exp.items():
            if d not in self.exp and not in_vv(d, mine):
                exp[d] = x
        self.exp = exp

    def to_plain(self) -> list[Any]:
        return [
            [
                x
                for t, cells in enumerate(self.cells)
                for f, c in cells.items()
                for x in (t, f, c.to_plain())
            ],
            [x for (o, s), (ts, at) in self.exp.items() for x in (o, s, ts, at)],
        ]

    @classmethod
    def from_plain(cls, obj: object) -> KeyState:
        cells, exp = _list(obj, "key state", 2)
        out = cls()
        for t, f, c in _groups(cells, 3, "cells"):
            out.cells[_type(t)][_field(f)] = Cell.from_plain(c)
        for o, s, ts, at in _groups(exp, 4, "expiry entries"):
            out.exp[make_dot(o, s)] = (uint(ts, "expiry HLC"), uint(at, "expiry time"))
        return out
