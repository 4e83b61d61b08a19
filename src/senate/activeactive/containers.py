"""Set, hash and sorted-set commands (registered in commands.TABLE on import).

Rules kept in this file:
- set elements: SADD always adds a fresh dot, even for a present element, so an add
  concurrent with a remove wins (add-wins, observed-remove: SREM removes what it saw);
- hash fields: HSET is a register write (last writer wins by causality, then HLC, then
  replica id); HINCRBY adds to the field's counter; HDEL removes what it observed;
- sorted sets: members are add-wins like set elements; ZADD sets the score as a register
  write (LWW) and resets the ZINCRBY counter it observed; ZINCRBY adds to the counter,
  so concurrent ZINCRBYs add up; the score is register (or 0) + counter;
- a remove that leaves a key empty also removes the expiry it observed (Redis deletes
  an empty key, TTL and all).
"""

from __future__ import annotations

import math

from senate.activeactive.cell import FLOAT_DOWN, FLOAT_UP, INT_DOWN, INT_UP
from senate.activeactive.commands import (
    NOT_FLOAT,
    OVERFLOW,
    SYNTAX,
    Commands,
    ReplyError,
    command,
    float_arg,
    int_arg,
    total_would_overflow,
)
from senate.activeactive.keys import HASH, SET, ZSET, KeyState
from senate.activeactive.values import (
    INT64_MAX,
    INT64_MIN,
    cell_score,
    cell_value,
    format_float,
    parse_int,
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
    return enc.bulk_array(sorted(ks.live(SET)) if ks is not None else [])


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
    slot = INT_UP if by >= 0 else INT_DOWN
    if total_would_overflow(cx, args[1], HASH, args[2], slot, abs(by)):
        return OVERFLOW
    b, state = cx.write(args[1], HASH)
    cell = state.cell(HASH, args[2])
    b.delta(args[1]).cells.append((HASH, args[2], cell.bump(b.dot, b.ts, slot, abs(by))))
    return enc.integer(new)


# -- sorted sets -----------------------------------------------------------------------------
def _score_arg(raw: bytes) -> float:
    x = float_arg(raw)
    if math.isnan(x):
        raise ReplyError(NOT_FLOAT)
    return x


@command("zadd", -4)
def _zadd(cx: Commands, args: list[bytes]) -> bytes:
    flags: set[bytes] = set()
    i = 2
    while i < len(args) and args[i].upper() in (b"NX", b"XX", b"CH", b"INCR"):
        flags.add(args[i].upper())
        i += 1
    pairs = args[i:]
    if not pairs or len(pairs) % 2:
        return SYNTAX
    if {b"NX", b"XX"} <= flags:
        return enc.error("ERR XX and NX options at the same time are not compatible")
    if b"INCR" in flags and len(pairs) != 2:
        return enc.error("ERR INCR option supports a single increment-element pair")
    scores = [(_score_arg(pairs[j]), pairs[j + 1]) for j in range(0, len(pairs), 2)]
    ks = cx.read(args[1], ZSET)
    live = ks.cells[ZSET] if ks is not None else {}
    todo = []
    added = changed = 0
    for score, member in scores:
        cell = live.get(member)
        exists = cell is not None and cell.live()
        if (b"NX" in flags and exists) or (b"XX" in flags and not exists):
            continue
        if b"INCR" not in flags and exists and cell is not None and cell_score(cell) == score:
            continue
        added += not exists
        changed += exists
        todo.append((score, member))
    if b"INCR" in flags:
        if not todo:
            return enc.NULL
        return _score_reply(cx, _zincrby(cx, args[1], todo[0][1], todo[0][0]))
    if todo:
        b, state = cx.write(args[1], ZSET)
        delta = b.delta(args[1])
        for score, member in todo:
            delta.cells.append((ZSET, member, state.cell(ZSET, member).write(b.dot, b.ts, score)))
    return enc.integer(added + changed if b"CH" in flags else added)


def _zincrby(cx: Commands, key: bytes, member: bytes, by: float) -> float:
    ks = cx.read(key, ZSET)
    cell = ks.cells[ZSET].get(member) if ks is not None else None
    current = cell_score(cell) if cell is not None and cell.live() else 0.0
    new = current + by
    if math.isnan(new):
        raise ReplyError(enc.error("ERR resulting score is not a number (NaN)"))
    b, state = cx.write(key, ZSET)
    target = state.cell(ZSET, member)
    slot = FLOAT_UP if by >= 0 else FLOAT_DOWN
    b.delta(key).cells.append((ZSET, member, target.bump(b.dot, b.ts, slot, abs(by))))
    return cell_score(target)


@command("zincrby", 4)
def _zincrby_cmd(cx: Commands, args: list[bytes]) -> bytes:
    return _score_reply(cx, _zincrby(cx, args[1], args[3], _score_arg(args[2])))


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


@command("zrange", -4)
def _zrange(cx: Commands, args: list[bytes]) -> bytes:
    withscores = False
    for opt in args[4:]:
        if opt.upper() != b"WITHSCORES":
            return SYNTAX
        withscores = True
    start, stop = int_arg(args[2]), int_arg(args[3])
    ks = cx.read(args[1], ZSET)
    if ks is None:
        return enc.EMPTY_ARRAY
    ranked = sorted((cell_score(c), m) for m, c in ks.live(ZSET).items())
    n = len(ranked)
    start = max(start + n if start < 0 else start, 0)
    stop = stop + n if stop < 0 else min(stop, n - 1)
    chosen = ranked[start : stop + 1] if start <= stop else []
    if withscores and cx.resp3:  # RESP3: [member, double] pairs
        pairs = [b"*2\r\n" + enc.bulk(m) + enc.double(format_float(x)) for x, m in chosen]
        return b"*%d\r\n" % len(pairs) + b"".join(pairs)
    out: list[bytes] = []
    for score, member in chosen:
        out.append(member)
        if withscores:
            out.append(format_float(score))
    return enc.bulk_array(out)


def _score_reply(cx: Commands, score: float) -> bytes:
    text = format_float(score)
    return enc.double(text) if cx.resp3 else enc.bulk(text)
