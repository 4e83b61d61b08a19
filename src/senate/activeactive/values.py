"""Redis value syntax: strict integer and float parsing, float formatting, and the read
value of a cell (register plus counter).

Rules kept in this file (each checked against redis-server 7.0 by
tests/activeactive/test_redis_parity.py):
- integers parse as Redis's string2ll does: optional '-', no '+', no leading zeros, no
  spaces, within int64; anything else is "not an integer";
- floats parse as C's strtod/strtold under Redis's checks (string2d, string2ld): decimal
  or hexadecimal ("0x10", "0x1p-3") text, "inf"/"infinity", an optional sign; no leading
  space, nothing after the number, no NaN, and no out-of-range value (one that overflows
  to infinity or underflows to zero is "not a valid float");
- INCRBYFLOAT and HINCRBYFLOAT compute in x87 long double (64-bit mantissa, emulated
  exactly here with fractions) and print "%.17Lf" with trailing zeros trimmed ("human"
  form: 0.1 + 0.2 is "0.3", 1e-20 is "0", 3.0 + 0 is "3"); sorted-set scores are doubles
  printed "%.17g" (0.1 is "0.10000000000000001", 1e-20 is "9.9999999999999995e-21"),
  and -0 prints as "0" (as a small sorted set, listpack-encoded, answers);
- a cell's read value is its winning register write plus its counter: the counter is
  added when the register holds a number (or there is no register: base 0); a register
  that holds text hides the counter (a SET "abc" concurrent with an INCR reads "abc").
  Counter parts are exact (Python ints and Decimals), so the value after a local
  INCRBYFLOAT is exactly the decimal Redis would store, and reads reprint it unchanged;
  once a float increment touched the value since the last reset it reads in human form.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Final

from senate.activeactive.cell import EXACT, Cell, CellDelta, Dot

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_LD_CHARS: Final = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS: string2ld's buffer
_INT: Final = re.compile(rb"-?(0|[1-9][0-9]{0,19})")
_NUM: Final = re.compile(
    rb"(?P<sign>[+-]?)(?:(?P<inf>inf(?:inity)?)"
    rb"|0x(?P<hex>[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p(?P<pexp>[+-]?[0-9]+))?"
    rb"|(?P<dec>[0-9]+\.?[0-9]*|\.[0-9]+)(?:e(?P<eexp>[+-]?[0-9]+))?)",
    re.I,
)
INF: Final = math.inf
# Binary formats: (mantissa bits, smallest normal exponent, largest exponent).
DOUBLE: Final = (53, -1022, 1023)
LONG_DOUBLE: Final = (64, -16382, 16383)
_FAR: Final = 5200  # decimal exponents beyond this over/underflow every format here
_HUGE: Final = Fraction(2) ** 20000
_TINY: Final = Fraction(1, 2**20000)


def parse_int(raw: bytes) -> int | None:
    if len(raw) > 20 or not _INT.fullmatch(raw) or raw == b"-0":
        return None
    n = int(raw)
    return n if INT64_MIN <= n <= INT64_MAX else None


def _exact(raw: bytes) -> Fraction | float | None:
    """The exact value strtod reads from `raw` (±INF for infinity text), or None."""
    m = _NUM.fullmatch(raw)
    if m is None:
        return None
    neg = m["sign"] == b"-"
    if m["inf"] is not None:
        return -INF if neg else INF
    if m["hex"] is not None:
        whole, _, frac = m["hex"].partition(b".")
        digits = (whole + frac).lstrip(b"0")
        if not digits:
            return Fraction(0)
        exp2 = int(m["pexp"] or b"0") - 4 * len(frac)
        if not -4 * _FAR < exp2 + 4 * len(digits) < 4 * _FAR:
            value = _HUGE if exp2 > 0 else _TINY  # overflows, or underflows to zero
            return -value if neg else value
        value = Fraction(int(digits, 16)) * Fraction(2) ** exp2
    else:
        whole, _, frac = m["dec"].partition(b".")
        digits = (whole + frac).lstrip(b"0")
        if not digits:
            return Fraction(0)
        exp10 = int(m["eexp"] or b"0") - len(frac)
        if not -_FAR < exp10 + len(digits) < _FAR:
            value = _HUGE if exp10 > 0 else _TINY
            return -value if neg else value
        value = Fraction(int(digits)) * Fraction(10) ** exp10
    return -value if neg else value


def round_binary(x: Fraction, fmt: tuple[int, int, int]) -> Fraction | float:
    """`x` rounded to nearest (ties to even) in a binary format; ±INF on overflow."""
    if x == 0:
        return Fraction(0)
    bits, emin, emax = fmt
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    q = max(e, emin) - (bits - 1)  # the quantum's exponent (subnormals: fixed)
    m = round(a / Fraction(2) ** q)
    if m == 0:
        return Fraction(0)
    if m.bit_length() + q > emax + 1:
        return -INF if x < 0 else INF
    r = Fraction(m) * Fraction(2) ** q
    return -r if x < 0 else r


def parse_long_double(raw: bytes) -> Fraction | float | None:
    """string2ld: the long double `raw` reads as (±INF allowed), or None."""
    if not raw or len(raw) >= MAX_LD_CHARS:
        return None
    x = _exact(raw)
    if x is None or isinstance(x, float):  # not a number, or infinity text
        return x
    r = round_binary(x, LONG_DOUBLE)
    if isinstance(r, float) or (r == 0 and x != 0):
        return None  # ERANGE: overflow to HUGE_VAL or underflow to zero
    return r


def parse_float(raw: bytes) -> float | None:
    """string2d: the double `raw` reads as (±inf allowed), or None."""
    if not raw or len(raw) > 100_000:
        return None
    m = _NUM.fullmatch(raw)
    if m is None:
        return None
    if m["inf"] is not None:
        return -INF if m["sign"] == b"-" else INF
    try:
        x = float.fromhex(raw.decode()) if m["hex"] is not None else float(raw)
    except (OverflowError, ValueError):
        return None
    if math.isinf(x):
        return None
    if x == 0.0:
        body = m["hex"] if m["hex"] is not None else m["dec"]
        if body.strip(b"0.") != b"":
            return None  # underflow to zero
        return 0.0
    return x


def to_decimal(x: Fraction) -> Decimal:
    """The exact Decimal of a dyadic or decimal fraction (every value here is one)."""
    d = x.denominator
    twos = (d & -d).bit_length() - 1
    fives = 0
    rest = d >> twos
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        raise ValueError("not a finite decimal")
    k = max(twos, fives)
    scaled = x.numerator * (5 ** (k - twos)) * (2 ** (k - fives))  # x * 10**k
    return Decimal(scaled).scaleb(-k, EXACT)


def format_human(x: Fraction | Decimal) -> bytes:
    """Redis's LD_STR_HUMAN: "%.17Lf" of an exact value, trailing zeros trimmed, no "-0"."""
    q = round(Fraction(x) * 10**17)  # ties to even, as glibc's printf
    if q == 0:
        return b"0"
    digits = str(abs(q)).rjust(18, "0")
    text = (digits[:-17] + "." + digits[-17:]).rstrip("0").rstrip(".")
    return ("-" + text if q < 0 else text).encode()


def format_float(x: float) -> bytes:
    """A sorted-set score as Redis replies it: "%.17g"; inf, -inf; -0 as "0"."""
    if math.isinf(x):
        return b"inf" if x > 0 else b"-inf"
    if x == 0.0:
        return b"0"
    return format(x, ".17g").encode()


def incr_long_double(current: bytes | None, by: bytes) -> tuple[bytes | None, bytes | None]:
    """INCRBYFLOAT's arithmetic: (new value text, None) or (None, the error's text)."""
    incr = parse_long_double(by)
    if incr is None:
        return None, b"ERR value is not a valid float"
    value: Fraction | float = Fraction(0)
    if current is not None:
        parsed = parse_long_double(current)
        if parsed is None:
            return None, b"ERR value is not a valid float"
        value = parsed
    total = _add(value, incr)
    if isinstance(total, float):  # infinity, or inf - inf
        return None, b"ERR increment would produce NaN or Infinity"
    return format_human(total), None


def _add(a: Fraction | float, b: Fraction | float) -> Fraction | float:
    if isinstance(a, float) and isinstance(b, float):
        return a + b  # two infinities: inf or nan
    if isinstance(a, float) or isinstance(b, float):
        return a if isinstance(a, float) else b  # an infinity plus a finite value
    return round_binary(a + b, LONG_DOUBLE)


# -- cells ----------------------------------------------------------------------------------
def register_number(raw: bytes) -> Decimal | None:
    """The exact numeric value of a register's text (what a counter adds to), or None."""
    x = parse_long_double(raw)
    if x is None:
        return None
    if isinstance(x, float):
        return Decimal(x)  # ±Infinity
    exact = _exact(raw)
    assert exact is not None and not isinstance(exact, float)
    return to_decimal(exact)


def cell_exact(cell: Cell) -> Decimal | None:
    """The exact numeric value of a string or hash cell (None: its register holds text)."""
    reg = cell.winner()
    ints, floats, _touched = cell.counts()
    base = Decimal(0)
    if reg is not None:
        raw = reg[2]
        num = register_number(raw) if isinstance(raw, bytes) else Decimal(raw)
        if num is None:
            return None
        base = num
    with decimal.localcontext(EXACT):
        return base + ints + floats


def set_exact(cell: Cell, dot: Dot, ts: int, new: Decimal) -> CellDelta:
    """A float increment that leaves the cell's exact value at `new` (what Redis stores:
    the increment computed and printed by Redis's rules): this origin's float total
    moves by the exact difference, so no rounding ever creeps into the counter."""
    current = cell_exact(cell)
    assert current is not None and current.is_finite()
    return cell.add(dot, ts, 0, EXACT.subtract(new, current))


def cell_value(cell: Cell) -> bytes:
    """The bytes GET/HGET answer for a live cell."""
    reg = cell.winner()
    ints, floats, touched = cell.counts()
    if reg is not None and touched is None:
        raw = reg[2]
        return raw if isinstance(raw, bytes) else format_float(raw)
    if not touched and not floats:  # integer counting only
        if reg is None:
            return b"%d" % ints
        raw = reg[2]
        if isinstance(raw, bytes):
            n = parse_int(raw)
            if n is not None:
                return b"%d" % (n + ints)
    exact = cell_exact(cell)
    if exact is None:
        assert reg is not None
        raw = reg[2]
        return raw if isinstance(raw, bytes) else format_float(raw)
    if exact.is_infinite():
        return b"inf" if exact > 0 else b"-inf"
    return format_human(exact)


def cell_score(cell: Cell) -> float:
    """A sorted-set member's score: the ZADD register (or 0) plus ZINCRBY totals."""
    reg = cell.winner()
    ints, floats, touched = cell.counts()
    base = 0.0
    if reg is not None:
        raw = reg[2]
        base = raw if isinstance(raw, float) else (parse_float(raw) or 0.0)
    if touched is None or (not ints and not floats):
        return base + 0.0
    if math.isinf(base):
        return base
    with decimal.localcontext(EXACT):
        return float(Decimal(base) + ints + floats) + 0.0
