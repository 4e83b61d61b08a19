"""The Cell: one replicated value slot (a string, a hash field, a set element, a
sorted-set member), an observed-remove register plus an observed-remove counter.

Theory of operation (dots and causal contexts as in Almeida, Shoker, Baquero, "Delta
State Replicated Data Types"; counters reset like Redis Active-Active's): every
operation of the keyspace has one dot (origin replica, sequence number). A cell holds

- `regs`: live register writes, dot -> (HLC packed, node, value). A write removes every
  dot it observed and adds its own, so concurrent writes both stay (as in an
  MV-register) and the read picks the largest (HLC, node): last-writer-wins by
  causality first, then by hybrid logical clock, then by replica id;
- `pres`: live presence dots, dot -> HLC packed, added by counter updates and set adds
  (the element or counter exists while one of them lives);
- `tot`/`base`: per origin, the totals ever added by that origin [int up, int down,
  float up, float down], and the totals a reset (SET, DEL, ZREM ...) observed. Both
  only grow (join = entry-wise max); the counter's value is sum(tot - base). So
  concurrent increments add up, a reset cancels exactly the increments it saw, and an
  increment concurrent with a reset survives it.

Rules kept in this file:
- a mutator changes the cell and returns the CellDelta with the same effect; applying
  a delta removes its `rm` dots, adds its entries and max-joins its totals;
- deltas are applied exactly once and in causal order (the replication layer's job);
  `join` is the state-based merge for whole states, under both sides' version vectors;
- a cell with no live dot does not exist for reads; it is kept only while it has
  counter history (its `tot`), which a later concurrent increment must be measured
  against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from senate.errors import DecodeError

Dot: TypeAlias = tuple[str, int]
Value: TypeAlias = bytes | float
Reg: TypeAlias = tuple[int, str, Value]  # (HLC packed, node id, value)
Totals: TypeAlias = list[Any]  # [int up, int down, float up, float down]

INT_UP, INT_DOWN, FLOAT_UP, FLOAT_DOWN = range(4)
MAX_ID = 256


def _zero() -> Totals:
    return [0, 0, 0.0, 0.0]


def _max_into(into: dict[str, Totals], other: dict[str, Totals]) -> None:
    for origin, theirs in other.items():
        mine = into.get(origin)
        if mine is None:
            into[origin] = list(theirs)
        else:
            for i in range(4):
                if theirs[i] > mine[i]:
                    mine[i] = theirs[i]


def in_vv(dot: Dot, vv: dict[str, int]) -> bool:
    return vv.get(dot[0], 0) >= dot[1]


@dataclass(slots=True)
class CellDelta:
    """The effect of one operation on one cell."""

    rm: list[Dot] = field(default_factory=list)
    regs: dict[Dot, Reg] = field(default_factory=dict)
    pres: dict[Dot, int] = field(default_factory=dict)
    tot: dict[str, Totals] = field(default_factory=dict)
    base: dict[str, Totals] = field(default_factory=dict)

    def to_plain(self) -> list[Any]:
        return [
            [x for d in self.rm for x in d],
            _regs_plain(self.regs),
            _pres_plain(self.pres),
            _totals_plain(self.tot),
            _totals_plain(self.base),
        ]

    @classmethod
    def from_plain(cls, obj: object) -> CellDelta:
        rm, regs, pres, tot, base = _list(obj, "cell delta", 5)
        dots = [_dot(o, s) for o, s in _groups(rm, 2, "removed dots")]
        return cls(dots, _regs(regs), _pres(pres), _totals(tot), _totals(base))


@dataclass(slots=True)
class Cell:
    regs: dict[Dot, Reg] = field(default_factory=dict)
    pres: dict[Dot, int] = field(default_factory=dict)
    tot: dict[str, Totals] = field(default_factory=dict)
    base: dict[str, Totals] = field(default_factory=dict)

    # -- reading ------------------------------------------------------------------------
    def live(self) -> bool:
        return bool(self.regs) or bool(self.pres)

    def recency(self) -> int:
        """The largest HLC of a live write (decides type conflicts between cells)."""
        best = 0
        for reg in self.regs.values():
            best = max(best, reg[0])
        for ts in self.pres.values():
            best = max(best, ts)
        return best

    def winner(self) -> Reg | None:
        """The register write that wins: largest (HLC, node id)."""
        regs = self.regs
        if not regs:
            return None
        if len(regs) == 1:
            return next(iter(regs.values()))
        return max(regs.values(), key=lambda r: (r[0], r[1]))

    def counts(self) -> tuple[int, float]:
        """(integer part, float part) of the counter: sum of totals minus bases."""
        ints = 0
        floats = 0.0
        base = self.base
        for origin in sorted(self.tot):
            t = self.tot[origin]
            b = base.get(origin)
            if b is None:
                ints += t[0] - t[1]
                floats += t[2] - t[3]
            else:
                ints += (t[0] - b[0]) - (t[1] - b[1])
                floats += (t[2] - b[2]) - (t[3] - b[3])
        return ints, floats

    def has_history(self) -> bool:
        return bool(self.tot)

    # -- local mutators (each returns its delta) -------------------------------------------
    def write(self, dot: Dot, ts: int, value: Value) -> CellDelta:
        """Register write: replaces every observed write and presence, resets the counter."""
        delta = CellDelta(rm=[*self.regs, *self.pres], base=self._reset())
        reg = (ts, dot[0], value)
        self.regs = {dot: reg}
        self.pres = {}
        delta.regs[dot] = reg
        return delta

    def bump(self, dot: Dot, ts: int, slot: int, amount: int | float) -> CellDelta:
        """Add `amount` (>= 0) to this origin's total in `slot`; the cell is present."""
        delta = CellDelta(rm=list(self.pres))
        self.pres = {dot: ts}
        delta.pres[dot] = ts
        if amount:
            totals = self.tot.get(dot[0])
            if totals is None:
                totals = self.tot[dot[0]] = _zero()
            totals[slot] += amount
            delta.tot[dot[0]] = list(totals)
        return delta

    def touch(self, dot: Dot, ts: int) -> CellDelta:
        """Presence only (a set element added): replaces observed presence dots."""
        return self.bump(dot, ts, INT_UP, 0)

    def clear(self) -> CellDelta:
        """Observed remove: drop every live dot seen here and reset the counter."""
        delta = CellDelta(rm=[*self.regs, *self.pres], base=self._reset())
        self.regs = {}
        self.pres = {}
        return delta

    def _reset(self) -> dict[str, Totals]:
        changed: dict[str, Totals] = {}
        for origin, totals in self.tot.items():
            if self.base.get(origin) != totals:
                self.base[origin] = list(totals)
                changed[origin] = list(totals)
        return changed

    # -- replication -----------------------------------------------------------------------
    def apply(self, delta: CellDelta) -> None:
        regs, pres = self.regs, self.pres
        for dot in delta.rm:
            regs.pop(dot, None)
            pres.pop(dot, None)
        if delta.regs:
            regs.update(delta.regs)
        if delta.pres:
            pres.update(delta.pres)
        if delta.tot:
            _max_into(self.tot, delta.tot)
        if delta.base:
            _max_into(self.base, delta.base)

    def join(self, other: Cell, mine: dict[str, int], theirs: dict[str, int]) -> None:
        """State merge: a dot lives if both have it, or one has it and the other never saw it."""
        self.regs = _join_dots(self.regs, mine, other.regs, theirs)
        self.pres = _join_dots(self.pres, mine, other.pres, theirs)
        _max_into(self.tot, other.tot)
        _max_into(self.base, other.base)

    def to_plain(self) -> list[Any]:
        return [
            _regs_plain(self.regs),
            _pres_plain(self.pres),
            _totals_plain(self.tot),
            _totals_plain(self.base),
        ]

    @classmethod
    def from_plain(cls, obj: object) -> Cell:
        regs, pres, tot, base = _list(obj, "cell", 4)
        return cls(_regs(regs), _pres(pres), _totals(tot), _totals(base))


def _join_dots(a: dict[Dot, Any], va: dict[str, int], b: dict[Dot, Any], vb: dict[str, int]) -> Any:
    out = {d: x for d, x in a.items() if d in b or not in_vv(d, vb)}
    for d, x in b.items():
        if d not in a and not in_vv(d, va):
            out[d] = x
    return out


# -- plain forms (flat lists: compact msgpack) and their validation ---------------------
def _regs_plain(regs: dict[Dot, Reg]) -> list[Any]:
    return [x for (o, s), (ts, node, v) in regs.items() for x in (o, s, ts, node, v)]


def _pres_plain(pres: dict[Dot, int]) -> list[Any]:
    return [x for (o, s), ts in pres.items() for x in (o, s, ts)]


def _totals_plain(totals: dict[str, Totals]) -> list[Any]:
    return [x for o, t in totals.items() for x in (o, *t)]


def _list(obj: object, what: str, n: int | None = None) -> list[Any]:
    if not isinstance(obj, list) or (n is not None and len(obj) != n):
        raise DecodeError(f"bad {what}: expected a list" + (f" of {n}" if n else ""))
    return obj


def _groups(obj: object, n: int, what: str) -> list[list[Any]]:
    items = _list(obj, what)
    if len(items) % n:
        raise DecodeError(f"bad {what}: length {len(items)} is not a multiple of {n}")
    return [items[i : i + n] for i in range(0, len(items), n)]


def check_id(obj: object, what: str) -> str:
    if not isinstance(obj, str) or not obj or len(obj) > MAX_ID:
        raise DecodeError(f"bad {what}: expected a replica id")
    return obj


def uint(obj: object, what: str) -> int:
    if type(obj) is not int or obj < 0:
        raise DecodeError(f"bad {what}: expected an unsigned integer")
    return obj


def _dot(origin: object, seq: object) -> Dot:
    return check_id(origin, "dot origin"), uint(seq, "dot counter")


def _regs(obj: object) -> dict[Dot, Reg]:
    out: dict[Dot, Reg] = {}
    for o, s, ts, node, v in _groups(obj, 5, "register writes"):
        if not isinstance(v, bytes | float):
            raise DecodeError("bad register value: expected bytes or a float")
        out[_dot(o, s)] = (uint(ts, "register HLC"), check_id(node, "register node"), v)
    return out


def _pres(obj: object) -> dict[Dot, int]:
    return {_dot(o, s): uint(ts, "presence HLC") for o, s, ts in _groups(obj, 3, "presence")}


def _totals(obj: object) -> dict[str, Totals]:
    out: dict[str, Totals] = {}
    for o, iu, idn, fu, fd in _groups(obj, 5, "counter totals"):
        if not (
            type(iu) is int
            and type(idn) is int
            and iu >= 0
            and idn >= 0
            and isinstance(fu, float)
            and isinstance(fd, float)
            and fu >= 0.0
            and fd >= 0.0
        ):
            raise DecodeError("bad counter totals: expected two uints and two floats >= 0")
        out[check_id(o, "counter origin")] = [iu, idn, fu, fd]
    return out
