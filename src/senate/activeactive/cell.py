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
- `tot`: per origin, that origin's ONE signed running total of its own increments,
  (seq, since, int total, float total, fseq): `seq` is the dot of the origin's latest
  update, and the newer entry replaces the older (a last-writer-wins register that only
  its origin writes, so its updates are totally ordered and the join is "larger seq");
  the int part is a Python int, the float part an exact Decimal (no rounding, ever);
  `fseq` is the seq of the origin's latest float increment (0: none in this scale);
- `base`: per origin, the entry (seq, int, float) of `tot` that a reset (SET, DEL, ZADD,
  ZREM ...) observed; again the larger seq wins (a later observation covers more).

The counter's value is the sum over origins of `tot - base`: an origin whose `tot` a
reset observed entirely (base seq == tot seq) adds exactly 0 (no subtraction, so no
inf - inf), one that moved on adds what it added since. Concurrent increments add up, a
reset cancels exactly the increments it saw, an increment concurrent with a reset
survives it. When an origin increments and a reset covered all of its total, it
starts a new scale from zero, `since` = the covered seq: a base with seq <= since
belongs to the old scale and is ignored (every replica that has the new entry has that
base too: delivery is causal). So totals stay as small as the value in the common case
and do not drift with SET/INCR churn; a float total never holds an infinity (an
infinite score is a register write, see containers.py). What must stay in int64 is the
value a client sees (INCR and friends check it, with Redis's overflow error), never a
total: a total may pass 64 bits only when resets concurrent with increments kept
covering part of it, and then it travels as decimal text.

Rules kept in this file:
- a mutator changes the cell and returns the CellDelta with the same effect; applying
  a delta removes its `rm` dots, adds its entries and joins its counter entries;
- deltas are applied exactly once and in causal order (the replication layer's job);
  `join` is the state-based merge for whole states, under both sides' version vectors;
- a cell with no live dot does not exist for reads; it is kept only while it has
  counter history (its `tot`), which a later concurrent increment must be measured
  against.
- plain form (format 2): an int total travels as a msgpack int when it fits 64 bits,
  else as its decimal text; a float total as 0 or its exact decimal text.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypeAlias

from senate.errors import DecodeError

Dot: TypeAlias = tuple[str, int]
Value: TypeAlias = bytes | float
Reg: TypeAlias = tuple[int, str, Value]  # (HLC packed, node id, value)
Tot: TypeAlias = tuple[int, int, int, Decimal, int]  # (seq, since, int, float, fseq)
Seen: TypeAlias = tuple[int, int, Decimal]  # (seq, int, float) of an observed Tot

MAX_ID = 256
ZERO: Final = Decimal(0)
# Exact arithmetic: no rounding at any precision these values reach (long double range).
EXACT: Final = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.Inexact, decimal.Rounded],
)
MAX_DIGITS: Final = 20_000  # a decoded total: digits and |exponent| bounds
_INT_TEXT: Final = re.compile(r"-?[1-9][0-9]{0,4999}")


def _join_into(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Per origin, the entry with the larger seq (its first field) wins."""
    for origin, theirs in other.items():
        mine = into.get(origin)
        if mine is None or theirs[0] > mine[0]:
            into[origin] = theirs


def in_vv(dot: Dot, vv: dict[str, int]) -> bool:
    return vv.get(dot[0], 0) >= dot[1]


@dataclass(slots=True)
class CellDelta:
    """The effect of one operation on one cell."""

    rm: list[Dot] = field(default_factory=list)
    regs: dict[Dot, Reg] = field(default_factory=dict)
    pres: dict[Dot, int] = field(default_factory=dict)
    tot: dict[str, Tot] = field(default_factory=dict)
    base: dict[str, Seen] = field(default_factory=dict)

    def to_plain(self) -> list[Any]:
        return [
            [x for d in self.rm for x in d],
            _regs_plain(self.regs),
            _pres_plain(self.pres),
            _tot_plain(self.tot),
            _base_plain(self.base),
        ]

    @classmethod
    def from_plain(cls, obj: object) -> CellDelta:
        rm, regs, pres, tot, base = _list(obj, "cell delta", 5)
        dots = [_dot(o, s) for o, s in _groups(rm, 2, "removed dots")]
        return cls(dots, _regs(regs), _pres(pres), _tot(tot), _base(base))


@dataclass(slots=True)
class Cell:
    regs: dict[Dot, Reg] = field(default_factory=dict)
    pres: dict[Dot, int] = field(default_factory=dict)
    tot: dict[str, Tot] = field(default_factory=dict)
    base: dict[str, Seen] = field(default_factory=dict)

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

    def counts(self) -> tuple[int, Decimal, bool | None]:
        """(integer part, exact float part, touched) of the counter: the sum over origins
        of tot - base. `touched` is None when no origin added anything since the resets
        (the register alone is the value), else whether a float increment did."""
        ints = 0
        floats = ZERO
        touched: bool | None = None
        base = self.base
        for origin, t in self.tot.items():
            b = base.get(origin)
            bseq = b[0] if b is not None else 0
            if bseq >= t[0]:
                continue  # a reset saw all of it
            floor = t[1]
            if bseq > floor:  # the base is of this scale: count from it
                floor = bseq
                assert b is not None
                ints += t[2] - b[1]
                if t[3] or b[2]:
                    floats = EXACT.add(floats, EXACT.subtract(t[3], b[2]))
            else:
                ints += t[2]
                if t[3]:
                    floats = EXACT.add(floats, t[3])
            touched = touched or t[4] > floor
        return ints, floats, touched

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

    def add(self, dot: Dot, ts: int, ints: int, floats: Decimal | None = None) -> CellDelta:
        """Counter update: this origin's running total moves by `ints` and `floats` (None:
        an integer update; a Decimal, even 0, marks a float increment); the cell is present."""
        delta = CellDelta(rm=list(self.pres))
        self.pres = {dot: ts}
        delta.pres[dot] = ts
        origin, seq = dot
        t = self.tot.get(origin)
        b = self.base.get(origin)
        bseq = b[0] if b is not None else 0
        fseq = seq if floats is not None else 0
        if t is None or bseq >= t[0]:  # a reset saw all of it: a new scale from zero
            new: Tot = (seq, bseq, ints, floats if floats is not None else ZERO, fseq)
        else:
            f = t[3] if floats is None else EXACT.add(t[3], floats)
            new = (seq, t[1], t[2] + ints, f, fseq or t[4])
        self.tot[origin] = new
        delta.tot[origin] = new
        return delta

    def touch(self, dot: Dot, ts: int) -> CellDelta:
        """Presence only (a set element added): replaces observed presence dots."""
        delta = CellDelta(rm=list(self.pres))
        self.pres = {dot: ts}
        delta.pres[dot] = ts
        return delta

    def clear(self) -> CellDelta:
        """Observed remove: drop every live dot seen here and reset the counter."""
        delta = CellDelta(rm=[*self.regs, *self.pres], base=self._reset())
        self.regs = {}
        self.pres = {}
        return delta

    def _reset(self) -> dict[str, Seen]:
        changed: dict[str, Seen] = {}
        for origin, t in self.tot.items():
            b = self.base.get(origin)
            if b is None or b[0] < t[0]:
                seen = (t[0], t[2], t[3])
                self.base[origin] = seen
                changed[origin] = seen
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
            _join_into(self.tot, delta.tot)
        if delta.base:
            _join_into(self.base, delta.base)

    def join(self, other: Cell, mine: dict[str, int], theirs: dict[str, int]) -> None:
        """State merge: a dot lives if both have it, or one has it and the other never saw it."""
        self.regs = _join_dots(self.regs, mine, other.regs, theirs)
        self.pres = _join_dots(self.pres, mine, other.pres, theirs)
        _join_into(self.tot, other.tot)
        _join_into(self.base, other.base)

    def to_plain(self) -> list[Any]:
        return [
            _regs_plain(self.regs),
            _pres_plain(self.pres),
            _tot_plain(self.tot),
            _base_plain(self.base),
        ]

    @classmethod
    def from_plain(cls, obj: object) -> Cell:
        regs, pres, tot, base = _list(obj, "cell", 4)
        return cls(_regs(regs), _pres(pres), _tot(tot), _base(base))


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


def _int_plain(n: int) -> int | str:
    return n if -(2**63) <= n < 2**64 else str(n)


def _float_plain(x: Decimal) -> int | str:
    return str(x) if x else 0


def _tot_plain(tot: dict[str, Tot]) -> list[Any]:
    return [
        x
        for o, (seq, since, i, f, fseq) in tot.items()
        for x in (o, seq, since, _int_plain(i), _float_plain(f), fseq)
    ]


def _base_plain(base: dict[str, Seen]) -> list[Any]:
    return [x for o, (seq, i, f) in base.items() for x in (o, seq, _int_plain(i), _float_plain(f))]


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


def _int_total(obj: object) -> int:
    if type(obj) is int:
        return obj
    if isinstance(obj, str) and _INT_TEXT.fullmatch(obj):
        return int(obj)
    raise DecodeError("bad counter total: expected an integer")


def _float_total(obj: object) -> Decimal:
    if obj == 0 and type(obj) is int:
        return ZERO
    if isinstance(obj, str) and len(obj) <= MAX_DIGITS:
        try:
            x = Decimal(obj)
        except decimal.InvalidOperation:
            x = Decimal("NaN")
        digits = len(x.as_tuple().digits)
        if x.is_finite() and abs(x.adjusted()) <= MAX_DIGITS and digits <= MAX_DIGITS:
            return x
    raise DecodeError("bad counter total: expected a finite decimal")


def _tot(obj: object) -> dict[str, Tot]:
    out: dict[str, Tot] = {}
    for o, seq, since, i, f, fseq in _groups(obj, 6, "counter totals"):
        seq = uint(seq, "counter seq")
        since = uint(since, "counter scale")
        fseq = uint(fseq, "counter float seq")
        if not since < seq or not (fseq == 0 or since < fseq <= seq):
            raise DecodeError("bad counter totals: inconsistent sequence numbers")
        out[check_id(o, "counter origin")] = (seq, since, _int_total(i), _float_total(f), fseq)
    return out


def _base(obj: object) -> dict[str, Seen]:
    out: dict[str, Seen] = {}
    for o, seq, i, f in _groups(obj, 4, "counter bases"):
        out[check_id(o, "counter origin")] = (
            uint(seq, "base seq"),
            _int_total(i),
            _float_total(f),
        )
    return out
