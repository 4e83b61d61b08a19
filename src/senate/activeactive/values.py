"""Redis value syntax: strict integer and float parsing, float formatting, and the read
value of a cell (register plus counter).

Rules kept in this file:
- integers parse as Redis's string2ll does: optional '-', no '+', no leading zeros, no
  spaces, within int64; anything else is "not an integer";
- floats parse as Redis's strtold checks do: no spaces, no NaN; "inf" is accepted;
- a cell's read value is its winning register write plus its counter: the counter is
  added when the register holds a number (or there is no register: base 0); a register
  that holds text hides the counter (a SET "abc" concurrent with an INCR reads "abc");
- floats print as the shortest repr that round-trips, integral values without ".0",
  never in exponent form (as Redis's human-friendly long double format does).
"""

from __future__ import annotations

import math
import re
from typing import Final

from senate.activeactive.cell import Cell

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
_INT: Final = re.compile(rb"-?(0|[1-9][0-9]{0,19})")
_FLOAT: Final = re.compile(
    rb"[+-]?(inf|infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)", re.I
)


def parse_int(raw: bytes) -> int | None:
    if len(raw) > 20 or not _INT.fullmatch(raw) or raw == b"-0":
        return None
    n = int(raw)
    return n if INT64_MIN <= n <= INT64_MAX else None


def parse_float(raw: bytes) -> float | None:
    if len(raw) > 5000 or not _FLOAT.fullmatch(raw):
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def format_float(x: float) -> bytes:
    if math.isinf(x):
        return b"inf" if x > 0 else b"-inf"
    if x == int(x) and abs(x) < 1e17:
        return b"%d" % int(x)
    text = repr(x)
    if "e" in text:
        text = format(x, ".17f").rstrip("0").rstrip(".")
    return text.encode()


def cell_value(cell: Cell) -> bytes:
    """The bytes GET/HGET answer for a live cell."""
    reg = cell.winner()
    ints, floats = cell.counts()
    if reg is not None and ints == 0 and floats == 0.0:
        raw = reg[2]
        return raw if isinstance(raw, bytes) else format_float(raw)
    base: int | float
    if reg is None:
        base = 0
    else:
        raw = reg[2]
        parsed: int | float | None = parse_int(raw) if isinstance(raw, bytes) else raw
        if parsed is None and isinstance(raw, bytes):
            parsed = parse_float(raw)
        if parsed is None:
            return raw if isinstance(raw, bytes) else format_float(raw)
        base = parsed
    if floats == 0.0 and isinstance(base, int):
        return b"%d" % (base + ints)
    return format_float(base + ints + floats)


def cell_score(cell: Cell) -> float:
    """A sorted-set member's score: the ZADD register (or 0) plus ZINCRBY totals."""
    reg = cell.winner()
    ints, floats = cell.counts()
    base = 0.0
    if reg is not None:
        raw = reg[2]
        base = raw if isinstance(raw, float) else (parse_float(raw) or 0.0)
    return base + ints + floats
