"""Set, hash and sorted-set commands (registered in commands.TABLE on import).

Rules kept in this file:
- set elements: SADD always adds a fresh dot, even for a present element, so an add
  concurrent with a remove wins (add-wins, observed-remove: SREM removes what it saw);
- hash fields: HSET is a register write (last writer wins by causality, then HLC, then
  replica id); HINCRBY adds to the field's counter; HDEL removes what it observed;
- sorted sets: members are add-wins like set elements; ZADD sets the score as a register
  write (LWW) and resets the ZINCRBY counter it observed; ZINCRBY adds to the counter,
  so concurrent ZINCRBYs add up; the score is register (or 0) + counter, never NaN:
  an increment that would give NaN is refused as in Redis, and one whose result is
  infinite becomes a register write (counters hold finite values only);
- a remove that leaves a key empty also removes the expiry it observed (Redis deletes
  an empty key, TTL and all).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from senate.activeactive.cell import ZERO
from senate.activeactive.commands import (
    NOT_FLOAT,
    OVERFLOW,
    SYNTAX,
    Commands,
    ReplyError,
    command,
    float_arg,
    int_arg,
)
from senate.activeactive.keys import HASH, SET, ZSET, KeyState
from senate.activeactive.values import (
    INT64_MAX,
    INT64_MIN,
    cell_score,
    cell_value,
    format_float,
    incr_long_double,
    parse_int,
    parse_long_double,
    set_exact,
)
from senate.resp import reply as enc


def _remove(cx: Commands, args: list[bytes], t: int) -> bytes:
    ks = cx.read(args[1], t)
    if ks is None:
        return enc.ZERO
    present = [f for f in dict.fromkeys(args[2:]) if (c := ks.cells[t].get(f)) and c.live()]
    if not present:
        return enc.ZERO
    b, state = cx.write(args[1], t)
    delta = b.delta(args[1])
    for f in present:
        delta.cells.append((t, f, state.cells[t][f].clear()))
    if not state.live(t):
        state.clear_expiry(delta)
    return enc.integer(len(present))


# -- sets ------------------------------------------------------------------------------------
@command("sadd", -3)
def _sadd(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], SET)
    live = ks.cells[SET] if ks is not None else {}
    members = list(dict.fromkeys(args[2:]))
    added = sum(1 for m in members if not ((c := live.get(m)) and c.live()))
    b, state = cx.write(args[1], SET)
    delta = b.delta(args[1])
    for m in members:
        delta.cells.append((SET, m, state.cell(SET, m).touch(b.dot, b.ts)))
    return enc.integer(added)


@command("srem", -3)
def _srem(cx: Commands, args: list[bytes]) -> bytes:
    return _remove(cx, args, SET)


@command("smembers", 2)
def _smembers(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], SET)
    members = sorted(ks.live(SET)) if ks is not None else []
    if cx.resp3:  # RESP3: a set reply
        return b"~%d\r\n" % len(members) + b"".join(enc.bulk(m) for m in members)
    return enc.bulk_array(members)


@command("sismember", 3)
def _sismember(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], SET)
    cell = ks.cells[SET].get(args[2]) if ks is not None else None
    return enc.ONE if cell is not None and cell.live() else enc.ZERO


@command("scard", 2)
def _scard(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], SET)
    return enc.integer(len(ks.live(SET)) if ks is not None else 0)


# -- hashes ----------------------------------------------------------------------------------
def _hset(cx: Commands, args: list[bytes]) -> int:
    if len(args) % 2:
        name = args[0].decode("latin-1").lower()
        raise ReplyError(enc.error(f"ERR wrong number of arguments for '{name}' command"))
    ks = cx.read(args[1], HASH)
    fields = {args[i]: args[i + 1] for i in range(2, len(args), 2)}
    live = ks.cells[HASH] if ks is not None else {}
    new = sum(1 for f in fields if not ((c := live.get(f)) and c.live()))
    b, state = cx.write(args[1], HASH)
    delta = b.delta(args[1])
    for f, v in fields.items():
        delta.cells.append((HASH, f, state.cell(HASH, f).write(b.dot, b.ts, v)))
    return new


@command("hset", -4)
def _hset_cmd(cx: Commands, args: list[bytes]) -> bytes:
    return enc.integer(_hset(cx, args))


@command("hmset", -4)
def _hmset(cx: Commands, args: list[bytes]) -> bytes:
    _hset(cx, args)
    return enc.OK


def _field(ks: KeyState | None, f: bytes) -> bytes | None:
    cell = ks.cells[HASH].get(f) if ks is not None else None
    return cell_value(cell) if cell is not None and cell.live() else None


@command("hget", 3)
def _hget(cx: Commands, args: list[bytes]) -> bytes:
    value = _field(cx.read(args[1], HASH), args[2])
    return enc.NULL if value is None else enc.bulk(value)


@command("hexists", 3)
def _hexists(cx: Commands, args: list[bytes]) -> bytes:
    return enc.ONE if _field(cx.read(args[1], HASH), args[2]) is not None else enc.ZERO


@command("hdel", -3)
def _hdel(cx: Commands, args: list[bytes]) -> bytes:
    return _remove(cx, args, HASH)


@command("hgetall", 2)
def _hgetall(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], HASH)
    out: list[bytes] = []
    if ks is not None:
        for f, cell in sorted(ks.live(HASH).items()):
            out += [f, cell_value(cell)]
    return enc.bulk_map(out) if cx.resp3 else enc.bulk_array(out)


@command("hlen", 2)
def _hlen(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], HASH)
    return enc.integer(len(ks.live(HASH)) if ks is not None else 0)


@command("hincrby", 4)
def _hincrby(cx: Commands, args: list[bytes]) -> bytes:
    by = int_arg(args[3])
    raw = _field(cx.read(args[1], HASH), args[2])
    current = 0
    if raw is not None:
        parsed = parse_int(raw)
        if parsed is None:
            return enc.error("ERR hash value is not an integer")
        current = parsed
    new = current + by
    if not INT64_MIN <= new <= INT64_MAX:
        return OVERFLOW
    b, state = cx.write(args[1], HASH)
    cell = state.cell(HASH, args[2])
    b.delta(args[1]).cells.append((HASH, args[2], cell.add(b.dot, b.ts, by)))
    return enc.integer(new)


@command("hincrbyfloat", 4)
def _hincrbyfloat(cx: Commands, args: list[bytes]) -> bytes:
    """As INCRBYFLOAT (values.py), with Redis's hash checks in Redis's order."""
    incr = parse_long_double(args[3])
    if incr is None:
        return NOT_FLOAT
    if isinstance(incr, float):
        return enc.error("ERR value is NaN or Infinity")
    raw = _field(cx.read(args[1], HASH), args[2])
    if raw is not None and parse_long_double(raw) is None:
        return enc.error("ERR hash value is not a float")
    new, err = incr_long_double(raw, args[3])
    if new is None:
        return enc.error((err or b"").decode())
    b, state = cx.write(args[1], HASH)
    cell = state.cell(HASH, args[2])
    delta = set_exact(cell, b.dot, b.ts, Decimal(new.decode()))
    b.delta(args[1]).cells.append((HASH, args[2], delta))
    return enc.bulk(new)


# -- sorted sets -----------------------------------------------------------------------------
ZADD_FLAGS: Final = (b"NX", b"XX", b"CH", b"INCR", b"GT", b"LT")


def _score_arg(raw: bytes) -> float:
    x = float_arg(raw)
    if math.isnan(x):
        raise ReplyError(NOT_FLOAT)
    return x


@command("zadd", -4)
def _zadd(cx: Commands, args: list[bytes]) -> bytes:
    """Options, checks, their order and texts as Redis 7's zaddGenericCommand; the pairs
    apply in order (a member given twice is added, then updated)."""
    flags: set[bytes] = set()
    i = 2
    while i < len(args) and args[i].upper() in ZADD_FLAGS:
        flags.add(args[i].upper())
        i += 1
    pairs = args[i:]
    if not pairs or len(pairs) % 2:
        return SYNTAX
    nx, xx, gt, lt = (f in flags for f in (b"NX", b"XX", b"GT", b"LT"))
    if nx and xx:
        return enc.error("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        return enc.error("ERR GT, LT, and/or NX options at the same time are not compatible")
    if b"INCR" in flags and len(pairs) != 2:
        return enc.error("ERR INCR option supports a single increment-element pair")
    scores = [(_score_arg(pairs[j]), pairs[j + 1]) for j in range(0, len(pairs), 2)]
    if b"INCR" in flags:
        new = _zincr(cx, args[1], scores[0][1], scores[0][0], flags)
        return enc.NULL if new is None else _score_reply(cx, new)
    ks = cx.read(args[1], ZSET)
    live = ks.cells[ZSET] if ks is not None else {}
    todo: dict[bytes, float] = {}  # member -> the score this command sets
    added = updated = 0
    for score, member in scores:
        if member in todo:
            current: float | None = todo[member]
        else:
            cell = live.get(member)
            current = cell_score(cell) if cell is not None and cell.live() else None
        if current is None:
            if not xx:
                todo[member] = score
                added += 1
            continue
        if nx or (lt and score >= current) or (gt and score <= current):
            continue
        if score != current:
            todo[member] = score
            updated += 1
    if todo:
        b, state = cx.write(args[1], ZSET)
        delta = b.delta(args[1])
        for member, score in todo.items():
            delta.cells.append((ZSET, member, state.cell(ZSET, member).write(b.dot, b.ts, score)))
    return enc.integer(added + updated if b"CH" in flags else added)


def _zincr(
    cx: Commands, key: bytes, member: bytes, by: float, flags: set[bytes] | None = None
) -> float | None:
    """ZINCRBY (and ZADD INCR with its flags): the new score, or None if a flag said no.

    Redis adds in double; the member's counter then moves by the exact difference to that
    double, so the cell reads exactly what Redis would store. An infinite result is a
    register write instead (a ZADD of ±inf), so counter totals always stay finite and a
    later ZADD resets them without ever computing inf - inf."""
    flags = flags or set()
    ks = cx.read(key, ZSET)
    cell = ks.cells[ZSET].get(member) if ks is not None else None
    current: float | None = None
    if cell is not None and cell.live():
        current = cell_score(cell)
        if b"NX" in flags:
            return None
        new = current + by
        if math.isnan(new):
            raise ReplyError(enc.error("ERR resulting score is not a number (NaN)"))
        if (b"LT" in flags and new >= current) or (b"GT" in flags and new <= current):
            return None
    elif b"XX" in flags:
        return None
    else:
        new = by
    b, state = cx.write(key, ZSET)
    target = state.cell(ZSET, member)
    if not math.isinf(new):
        delta = set_exact(target, b.dot, b.ts, Decimal(new + 0.0))
    elif current is not None and math.isinf(current):
        delta = target.add(b.dot, b.ts, 0, ZERO)  # inf stays inf: present, no change
    else:
        delta = target.write(b.dot, b.ts, new)
    b.delta(key).cells.append((ZSET, member, delta))
    return cell_score(target)


@command("zincrby", 4)
def _zincrby_cmd(cx: Commands, args: list[bytes]) -> bytes:
    new = _zincr(cx, args[1], args[3], _score_arg(args[2]))
    assert new is not None
    return _score_reply(cx, new)


@command("zrem", -3)
def _zrem(cx: Commands, args: list[bytes]) -> bytes:
    return _remove(cx, args, ZSET)


@command("zscore", 3)
def _zscore(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], ZSET)
    cell = ks.cells[ZSET].get(args[2]) if ks is not None else None
    if cell is None or not cell.live():
        return enc.NULL
    return _score_reply(cx, cell_score(cell))


@command("zcard", 2)
def _zcard(cx: Commands, args: list[bytes]) -> bytes:
    ks = cx.read(args[1], ZSET)
    return enc.integer(len(ks.live(ZSET)) if ks is not None else 0)


# ZRANGE and its older forms. Members are ordered by (score, member bytes); REV reverses
# that. Errors, option checks and LIMIT's edge cases (negative offset: nothing; negative
# count: everything from the offset) as in Redis 7's t_zset.c.
INDEX, BYSCORE, BYLEX = range(3)
LIMIT_NEEDS_BY: Final = (
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
NOT_FLOAT_RANGE: Final = b"-ERR min or max is not a float\r\n"
NOT_LEX_RANGE: Final = b"-ERR min or max not valid string range item\r\n"


@dataclass(slots=True)
class RangeQuery:
    by: int = INDEX
    rev: bool = False
    withscores: bool = False
    offset: int = 0
    count: int = -1  # negative: no limit


_STRTOD: Final = re.compile(
    rb"[+-]?(?:inf(?:inity)?|nan|0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)",
    re.I,
)


def _strtod(raw: bytes) -> float | None:
    """C's strtod as Redis's range parser uses it: the whole text must be read (leading
    white space allowed, "" reads as 0), hexadecimal and inf accepted, out-of-range
    values saturate to +-inf or 0; None where Redis says "not a float" (NaN too)."""
    if raw == b"":
        return 0.0  # no conversion, and the end pointer sits on the terminating NUL
    text = raw.lstrip(b" \t\n\v\f\r")
    if not _STRTOD.fullmatch(text):
        return None
    sign = -1.0 if text[:1] == b"-" else 1.0
    body = text.lstrip(b"+-").lower()
    if body.startswith(b"0x"):
        try:
            x = float.fromhex(body.decode())
        except OverflowError:
            x = math.inf
    else:
        x = float(body)
    return None if math.isnan(x) else sign * x


def _score_bound(raw: bytes) -> tuple[float, bool]:
    """A BYSCORE bound: (value, exclusive); "(" makes it exclusive."""
    exclusive = raw.startswith(b"(")
    x = _strtod(raw[1:] if exclusive else raw)
    if x is None:
        raise ReplyError(NOT_FLOAT_RANGE)
    return x, exclusive


def _lex_bound(raw: bytes) -> tuple[bytes | None, bool, int]:
    """A BYLEX bound: (value, exclusive, infinity): "-" is -1, "+" is +1, else "[" or "("."""
    if raw == b"-":
        return None, False, -1
    if raw == b"+":
        return None, False, 1
    if raw[:1] in (b"[", b"("):
        return raw[1:], raw[:1] == b"(", 0
    raise ReplyError(NOT_LEX_RANGE)


def _in_scores(x: float, lo: tuple[float, bool], hi: tuple[float, bool]) -> bool:
    above = x > lo[0] if lo[1] else x >= lo[0]
    below = x < hi[0] if hi[1] else x <= hi[0]
    return above and below


def _in_lex(
    m: bytes, lo: tuple[bytes | None, bool, int], hi: tuple[bytes | None, bool, int]
) -> bool:
    lo_value, lo_excl, lo_inf = lo
    hi_value, hi_excl, hi_inf = hi
    if lo_inf == 1 or hi_inf == -1:
        return False
    if lo_inf == 0 and lo_value is not None and (m <= lo_value if lo_excl else m < lo_value):
        return False
    return not (
        hi_inf == 0 and hi_value is not None and (m >= hi_value if hi_excl else m > hi_value)
    )


def _zrange_reply(cx: Commands, key: bytes, first: bytes, last: bytes, q: RangeQuery) -> bytes:
    """The members of `key` selected by `q` between `first` and `last` (as the user gave
    them: with REV and BYSCORE/BYLEX, `first` is the max)."""
    if q.by == BYSCORE:
        hi_s, lo_s = _score_bound(first), _score_bound(last)
        if not q.rev:
            lo_s, hi_s = hi_s, lo_s
    elif q.by == BYLEX:
        hi_l, lo_l = _lex_bound(first), _lex_bound(last)
        if not q.rev:
            lo_l, hi_l = hi_l, lo_l
    else:
        start, stop = int_arg(first), int_arg(last)
    ks = cx.read(key, ZSET)
    if ks is None:
        return enc.EMPTY_ARRAY
    ranked = sorted((cell_score(c), m) for m, c in ks.live(ZSET).items())
    if q.rev:
        ranked.reverse()
    if q.by == INDEX:
        n = len(ranked)
        start = max(start + n if start < 0 else start, 0)
        stop = stop + n if stop < 0 else min(stop, n - 1)
        chosen = ranked[start : stop + 1] if start <= stop else []
    else:
        if q.by == BYSCORE:
            chosen = [(x, m) for x, m in ranked if _in_scores(x, lo_s, hi_s)]
        else:
            chosen = [(x, m) for x, m in ranked if _in_lex(m, lo_l, hi_l)]
        if q.offset < 0:
            chosen = []
        else:
            end = None if q.count < 0 else q.offset + q.count
            chosen = chosen[q.offset : end]
    if q.withscores and cx.resp3:  # RESP3: [member, double] pairs
        pairs = [b"*2\r\n" + enc.bulk(m) + enc.double(format_float(x)) for x, m in chosen]
        return b"*%d\r\n" % len(pairs) + b"".join(pairs)
    out: list[bytes] = []
    for score, member in chosen:
        out.append(member)
        if q.withscores:
            out.append(format_float(score))
    return enc.bulk_array(out)


def _range_options(args: list[bytes], q: RangeQuery, fixed: bool) -> None:
    """Redis's one option parser for every form; `fixed`: the command itself sets BY and
    REV (ZREVRANGE, ZRANGEBYSCORE...), so those words are syntax errors there."""
    by_set = rev_set = fixed
    i = 4
    while i < len(args):
        opt = args[i].upper()
        if opt == b"WITHSCORES":
            q.withscores = True
        elif opt == b"LIMIT" and len(args) - i - 1 >= 2:
            q.offset, q.count = int_arg(args[i + 1]), int_arg(args[i + 2])
            i += 2
        elif opt == b"REV" and not rev_set:
            q.rev = rev_set = True
        elif opt in (b"BYSCORE", b"BYLEX") and not by_set:
            q.by = BYSCORE if opt == b"BYSCORE" else BYLEX
            by_set = True
        else:
            raise ReplyError(SYNTAX)
        i += 1
    if q.count != -1 and q.by == INDEX:  # (Redis checks the count only: LIMIT 0 -1 passes)
        raise ReplyError(enc.error(LIMIT_NEEDS_BY))
    if q.withscores and q.by == BYLEX:
        raise ReplyError(
            enc.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        )


def _zrange_form(by: int, rev: bool, fixed: bool) -> Callable[[Commands, list[bytes]], bytes]:
    def handler(cx: Commands, args: list[bytes]) -> bytes:
        q = RangeQuery(by=by, rev=rev)
        _range_options(args, q, fixed)
        return _zrange_reply(cx, args[1], args[2], args[3], q)

    return handler


command("zrange", -4)(_zrange_form(INDEX, False, False))
command("zrevrange", -4)(_zrange_form(INDEX, True, True))
command("zrangebyscore", -4)(_zrange_form(BYSCORE, False, True))
command("zrevrangebyscore", -4)(_zrange_form(BYSCORE, True, True))
command("zrangebylex", -4)(_zrange_form(BYLEX, False, True))
command("zrevrangebylex", -4)(_zrange_form(BYLEX, True, True))


def _score_reply(cx: Commands, score: float) -> bytes:
    text = format_float(score)
    return enc.double(text) if cx.resp3 else enc.bulk(text)
