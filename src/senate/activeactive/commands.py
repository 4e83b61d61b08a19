"""Command execution: the Redis command table, and the string, key and expiry commands
(sets, hashes and sorted sets are in containers.py).

Theory of operation: `Commands.execute(args)` looks the command up, checks its arity
the way Redis does, and runs it against the keyspace. A write command opens one
OpBuilder (one dot, one HLC timestamp), changes cells through their mutators, and when
it returns, the builder's op (if anything changed) goes to `on_op`: the service logs it
durably and ships it to the peers. Reads see local state only (active-active: no
coordination); an expired key reads as absent, and a write to it first removes it.

Rules kept in this file:
- errors answer like Redis, text included (WRONGTYPE, "value is not an integer or out of
  range", "increment or decrement would overflow", "syntax error", arity, unknown);
- a command checks everything that can fail before it changes anything, so a failed
  command never leaves a partial op;
- SET replaces the value and type of a key: it removes every cell it observed (and the
  expiry, unless KEEPTTL); INCR and friends add to the string's counter (see values.py
  for how the register and the counter combine).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from senate.activeactive.clock import PackedHLC
from senate.activeactive.keys import STRING, TYPE_NAMES, KeyState
from senate.activeactive.keyspace import Keyspace, Op, OpBuilder
from senate.activeactive.values import (
    INT64_MAX,
    INT64_MIN,
    cell_value,
    incr_long_double,
    parse_float,
    parse_int,
    set_exact,
)
from senate.resp import reply as enc
from senate.resp.server import Session

Handler = Callable[["Commands", list[bytes]], bytes]

WRONGTYPE: Final = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
NOT_INT: Final = b"-ERR value is not an integer or out of range\r\n"
NOT_FLOAT: Final = b"-ERR value is not a valid float\r\n"
OVERFLOW: Final = b"-ERR increment or decrement would overflow\r\n"
SYNTAX: Final = b"-ERR syntax error\r\n"


class ReplyError(Exception):
    """Stop a command and answer `reply` (an encoded error)."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    handler: Handler
    arity: int  # Redis convention: n exact, -n at least n (the name counts)


TABLE: dict[bytes, Spec] = {}


def command(name: str, arity: int) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        TABLE[name.encode().upper()] = Spec(name, fn, arity)
        return fn

    return register


class Commands:
    """Executes commands against one replica's keyspace."""

    def __init__(
        self,
        space: Keyspace,
        hlc: PackedHLC,
        clock_ms: Callable[[], int],
        on_op: Callable[[Op], None],
    ) -> None:
        self.space = space
        self.hlc = hlc
        self.clock_ms = clock_ms
        self.on_op = on_op
        self.info: Callable[[bytes], bytes] = lambda section: b""
        self.admin: Callable[[bytes], bytes] | None = None
        self.expiring: set[bytes] = set()  # keys with expiry entries (for the sweeper)
        self._open: OpBuilder | None = None
        self.session: Session | None = None
        self.resp3 = False  # the current command's connection speaks RESP3

    # -- dispatch ------------------------------------------------------------------------
    def execute(self, args: list[bytes], session: Session | None = None) -> bytes:
        spec = TABLE.get(args[0].upper())
        if spec is None:
            return _unknown(args)
        n = len(args)
        if (spec.arity > 0 and n != spec.arity) or (spec.arity < 0 and n < -spec.arity):
            return enc.error(f"ERR wrong number of arguments for '{spec.name}' command")
        self.session = session
        self.resp3 = session is not None and session.proto == 3
        try:
            reply = spec.handler(self, args)
        except ReplyError as exc:
            return exc.reply
        else:
            # Nulls are only ever whole replies here (arrays hold no nulls).
            return enc.NULL3 if self.resp3 and reply == enc.NULL else reply
        finally:
            if self._open is not None:
                self._finish()

    def _finish(self) -> None:
        builder, self._open = self._open, None
        assert builder is not None
        op = builder.finish()
        for key in builder.touched():
            self.track_expiry(key)
        if op is not None:
            self.on_op(op)

    def track_expiry(self, key: bytes) -> None:
        ks = self.space.keys.get(key)
        if ks is not None and ks.exp:
            self.expiring.add(key)
        else:
            self.expiring.discard(key)

    # -- helpers for command functions -----------------------------------------------------
    def now_ms(self) -> int:
        return self.clock_ms()

    def begin(self) -> OpBuilder:
        if self._open is None:
            self._open = self.space.builder(self.hlc.now())
        return self._open

    def expired(self, ks: KeyState) -> bool:
        at = ks.expire_at()
        return at is not None and at <= self.clock_ms()

    def lookup(self, key: bytes) -> tuple[KeyState | None, int | None]:
        """The key's state and visible type, or (None, None) if absent or expired."""
        ks = self.space.keys.get(key)
        if ks is None:
            return None, None
        t = ks.type_of()
        if t is None or (ks.exp and self.expired(ks)):
            return None, None
        return ks, t

    def read(self, key: bytes, want: int) -> KeyState | None:
        ks, t = self.lookup(key)
        if ks is not None and t != want:
            raise ReplyError(WRONGTYPE)
        return ks

    def write(self, key: bytes, want: int | None) -> tuple[OpBuilder, KeyState]:
        """Open the op and the key for writing; an expired key is removed first."""
        ks, t = self.lookup(key)
        if ks is not None and want is not None and t != want:
            raise ReplyError(WRONGTYPE)
        b = self.begin()
        state = b.state(key)
        if ks is None and state.exp:
            # Expired, or dead with expiry entries left: the write starts a fresh key.
            state.clear(b.delta(key))
        return b, state

    def delete(self, b: OpBuilder, key: bytes) -> None:
        ks = self.space.keys.get(key)
        if ks is not None:
            b.state(key).clear(b.delta(key))


def _unknown(args: list[bytes]) -> bytes:
    name = args[0][:128].decode("utf-8", "replace")
    rest = "".join(f"'{a[:128].decode('utf-8', 'replace')}' " for a in args[1:6])
    return enc.error(f"ERR unknown command '{name}', with args beginning with: {rest}")


def int_arg(raw: bytes) -> int:
    n = parse_int(raw)
    if n is None:
        raise ReplyError(NOT_INT)
    return n


def float_arg(raw: bytes) -> float:
    x = parse_float(raw)
    if x is None:
        raise ReplyError(NOT_FLOAT)
    return x


# -- connection and server commands ----------------------------------------------------------
@command("ping", -1)
def _ping(cx: Commands, args: list[bytes]) -> bytes:
    if len(args) > 2:
        return enc.error("ERR wrong number of arguments for 'ping' command")
    return enc.bulk(args[1]) if len(args) == 2 else enc.PONG


@command("echo", 2)
def _echo(cx: Commands, args: list[bytes]) -> bytes:
    return enc.bulk(args[1])


@command("select", 2)
def _select(cx: Commands, args: list[bytes]) -> bytes:
    n = int_arg(args[1])
    return enc.OK if n == 0 else enc.error("ERR DB index is out of range")


@command("command", -1)
def _command(cx: Commands, args: list[bytes]) -> bytes:
    if len(args) > 1 and args[1].upper() == b"COUNT":
        return enc.integer(len(TABLE))
    return enc.EMPTY_ARRAY  # enough for redis-cli and redis-py; no command docs


@command("config", -2)
def _config(cx: Commands, args: list[bytes]) -> bytes:
    if args[1].upper() == b"GET" and len(args) >= 3:
        known = {b"save": b"", b"appendonly": b"no", b"databases": b"1"}
        out: list[bytes] = []
        for pattern in args[2:]:
            for name, value in known.items():
                if fnmatch.fnmatchcase(name.decode(), pattern.decode("latin-1").lower()):
                    out += [name, value]
        return enc.bulk_map(out) if cx.resp3 else enc.bulk_array(out)
    return enc.error("ERR CONFIG subcommand not supported by Senate (only CONFIG GET)")


@command("client", -2)
def _client(cx: Commands, args: list[bytes]) -> bytes:
    sub = args[1].upper()
    session = cx.session
    if sub == b"SETNAME" and len(args) == 3 and session is not None:
        session.name = args[2]
        return enc.OK
    if sub == b"GETNAME":
        return enc.bulk(session.name) if session is not None and session.name else enc.NULL
    if sub == b"ID":
        return enc.integer(session.id if session is not None else 0)
    if sub in (b"SETINFO", b"NO-EVICT", b"NO-TOUCH", b"REPLY"):
        return enc.OK
    return enc.error(f"ERR unknown subcommand '{args[1][:64].decode('utf-8', 'replace')}'")


@command("hello", -1)
def _hello(cx: Commands, args: list[bytes]) -> bytes:
    proto = cx.session.proto if cx.session is not None else 2
    if len(args) > 1:
        if args[1] not in (b"2", b"3"):
            return enc.error("NOPROTO sorry, this protocol version is not supported")
        proto = int(args[1])
        if cx.session is not None:
            cx.session.proto = proto
    session_id = cx.session.id if cx.session is not None else 0
    fields: list[tuple[bytes, bytes]] = [
        (b"server", enc.bulk(b"redis")),
        (b"version", enc.bulk(b"7.0.0")),
        (b"proto", enc.integer(proto)),
        (b"id", enc.integer(session_id)),
        (b"mode", enc.bulk(b"standalone")),
        (b"role", enc.bulk(b"master")),
        (b"modules", enc.EMPTY_ARRAY),
    ]
    head = b"%%%d\r\n" % len(fields) if proto == 3 else b"*%d\r\n" % (2 * len(fields))
    return head + b"".join(enc.bulk(name) + value for name, value in fields)


@command("info", -1)
def _info(cx: Commands, args: list[bytes]) -> bytes:
    return enc.bulk(cx.info(args[1].lower() if len(args) > 1 else b"default"))


@command("dbsize", 1)
def _dbsize(cx: Commands, args: list[bytes]) -> bytes:
    return enc.integer(sum(1 for k in list(cx.space.keys) if cx.lookup(k)[0] is not None))


@command("keys", 2)
def _keys(cx: Commands, args: list[bytes]) -> bytes:
    # Redis glob via fnmatch ([!x] for negation); latin-1 maps bytes 1:1 to characters.
    regex = re.compile(fnmatch.translate(args[1].decode("latin-1")), re.S)
    found = [k for k in cx.space.keys if regex.match(k.decode("latin-1"))]
    return enc.bulk_array(sorted(k for k in found if cx.lookup(k)[0] is not None))


@command("flushall", -1)
def _flushall(cx: Commands, args: list[bytes]) -> bytes:
    b = cx.begin()
    for key in list(cx.space.keys):
        cx.delete(b, key)
    return enc.OK


TABLE[b"FLUSHDB"] = Spec("flushdb", _flushall, -1)


@command("senate.fault", 2)
def _fault(cx: Commands, args: list[bytes]) -> bytes:
    if cx.admin is None:
        return _unknown(args)
    return cx.admin(args[1])


@command("senate.vv", 1)
def _vv(cx: Commands, args: list[bytes]) -> bytes:
    items = sorted(cx.space.vv.items())
    return enc.bulk(",".join(f"{o}={n}" for o, n in items).encode())


# -- keys ------------------------------------------------------------------------------------
@command("del", -2)
def _del(cx: Commands, args: list[bytes]) -> bytes:
    removed = 0
    b = cx.begin()
    for key in dict.fromkeys(args[1:]):
        if cx.lookup(key)[0] is not None:
            removed += 1
        cx.delete(b, key)
    return enc.integer(removed)


TABLE[b"UNLINK"] = Spec("unlink", _del, -2)


@command("exists", -2)
def _exists(cx: Commands, args: list[bytes]) -> bytes:
    return enc.integer(sum(1 for key in args[1:] if cx.lookup(key)[0] is not None))


@command("type", 2)
def _type(cx: Commands, args: list[bytes]) -> bytes:
    _ks, t = cx.lookup(args[1])
    return enc.simple("none" if t is None else TYPE_NAMES[t])


# -- strings ---------------------------------------------------------------------------------
def string_value(ks: KeyState | None) -> bytes | None:
    if ks is None:
        return None
    cell = ks.cells[STRING].get(b"")
    return cell_value(cell) if cell is not None else None


@command("get", 2)
def _get(cx: Commands, args: list[bytes]) -> bytes:
    value = string_value(cx.read(args[1], STRING))
    return enc.NULL if value is None else enc.bulk(value)


@command("set", -3)
def _set(cx: Commands, args: list[bytes]) -> bytes:
    key, value = args[1], args[2]
    nx = xx = keepttl = get = False
    at: int | None = None
    i = 3
    while i < len(args):
        opt = args[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"KEEPTTL" and at is None:
            keepttl = True
        elif opt == b"GET":
            get = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and at is None and not keepttl:
            if i + 1 >= len(args):
                return SYNTAX
            n = int_arg(args[i + 1])
            if n <= 0:
                return enc.error("ERR invalid expire time in 'set' command")
            scale = 1000 if opt in (b"EX", b"EXAT") else 1
            at = n * scale + (cx.now_ms() if opt in (b"EX", b"PX") else 0)
            if at > 2**63:
                return enc.error("ERR invalid expire time in 'set' command")
            i += 1
        else:
            return SYNTAX
        i += 1
    ks, t = cx.lookup(key)
    old: bytes | None = None
    if get:
        if ks is not None and t != STRING:
            return WRONGTYPE
        old = string_value(ks)
    if (nx and ks is not None) or (xx and ks is None):
        return enc.bulk(old) if old is not None else enc.NULL
    b, state = cx.write(key, None)
    delta = b.delta(key)
    exp = dict(state.exp) if keepttl else None
    state.clear(delta, keep=STRING)
    if exp is not None:  # KEEPTTL: clear() dropped the expiry; put it back unchanged
        delta.exp_rm = [d for d in delta.exp_rm if d not in exp]
        state.exp = exp
    delta.cells.append((STRING, b"", state.cell(STRING, b"").write(b.dot, b.ts, value)))
    if at is not None:
        state.set_expiry(delta, b.dot, b.ts, at)
    if get:
        return enc.bulk(old) if old is not None else enc.NULL
    return enc.OK


def _incr(cx: Commands, key: bytes, by: int) -> bytes:
    ks = cx.read(key, STRING)
    current = 0
    if ks is not None:
        raw = string_value(ks)
        parsed = parse_int(raw) if raw is not None else None
        if parsed is None:
            return NOT_INT
        current = parsed
    new = current + by
    if not INT64_MIN <= new <= INT64_MAX:
        return OVERFLOW
    b, state = cx.write(key, STRING)
    cell = state.cell(STRING, b"")
    b.delta(key).cells.append((STRING, b"", cell.add(b.dot, b.ts, by)))
    return enc.integer(new)


@command("incr", 2)
def _incr1(cx: Commands, args: list[bytes]) -> bytes:
    return _incr(cx, args[1], 1)


@command("decr", 2)
def _decr1(cx: Commands, args: list[bytes]) -> bytes:
    return _incr(cx, args[1], -1)


@command("incrby", 3)
def _incrby(cx: Commands, args: list[bytes]) -> bytes:
    return _incr(cx, args[1], int_arg(args[2]))


@command("decrby", 3)
def _decrby(cx: Commands, args: list[bytes]) -> bytes:
    by = int_arg(args[2])
    if by == INT64_MIN:
        return enc.error("ERR decrement would overflow")
    return _incr(cx, args[1], -by)


@command("incrbyfloat", 3)
def _incrbyfloat(cx: Commands, args: list[bytes]) -> bytes:
    """Computed and printed as Redis does (values.py: long double, "%.17Lf" trimmed); the
    cell then holds exactly that decimal (concurrent increments still add up)."""
    new, err = incr_long_double(string_value(cx.read(args[1], STRING)), args[2])
    if new is None:
        return enc.error((err or b"").decode())
    b, state = cx.write(args[1], STRING)
    cell = state.cell(STRING, b"")
    delta = set_exact(cell, b.dot, b.ts, Decimal(new.decode()))
    b.delta(args[1]).cells.append((STRING, b"", delta))
    return enc.bulk(new)


# -- expiry ----------------------------------------------------------------------------------
EXPIRE_FLAGS: Final = (b"NX", b"XX", b"GT", b"LT")


def _expire_flags(args: list[bytes]) -> set[bytes]:
    """Redis 7's NX | XX | GT | LT (repeats allowed, checks and texts as expire.c)."""
    flags: set[bytes] = set()
    for raw in args[3:]:
        opt = raw.upper()
        if opt not in EXPIRE_FLAGS:
            raise ReplyError(enc.error(f"ERR Unsupported option {raw.decode('utf-8', 'replace')}"))
        flags.add(opt)
    if b"NX" in flags and len(flags) > 1:
        raise ReplyError(
            enc.error("ERR NX and XX, GT or LT options at the same time are not compatible")
        )
    if {b"GT", b"LT"} <= flags:
        raise ReplyError(enc.error("ERR GT and LT options at the same time are not compatible"))
    return flags


def _expire(cx: Commands, args: list[bytes], scale: int, relative: bool) -> bytes:
    """EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: in Redis's order, options are checked first,
    then the time (an overflow is an error even for a missing key), then the key.
    GT and LT treat a key without expiry as one with an infinite TTL (GT never sets it,
    LT always does). A time already past deletes the key (answer 1)."""
    flags = _expire_flags(args)
    n = int_arg(args[2])
    bad_time = enc.error(
        f"ERR invalid expire time in '{args[0].decode('latin-1').lower()}' command"
    )
    now = cx.now_ms()
    if scale > 1 and not -(INT64_MAX // scale) <= n <= INT64_MAX // scale:
        return bad_time
    at = n * scale
    if relative:
        if at > INT64_MAX - now:
            return bad_time
        at += now
    ks, _t = cx.lookup(args[1])
    if ks is None:
        return enc.ZERO
    current = ks.expire_at()  # None: no expiry (an infinite TTL for GT and LT)
    if (
        (b"NX" in flags and current is not None)
        or (b"XX" in flags and current is None)
        or (b"GT" in flags and (current is None or at <= current))
        or (b"LT" in flags and current is not None and at >= current)
    ):
        return enc.ZERO
    b, state = cx.write(args[1], None)
    if at <= now:
        state.clear(b.delta(args[1]))
        return enc.ONE
    state.set_expiry(b.delta(args[1]), b.dot, b.ts, at)
    return enc.ONE


@command("expire", -3)
def _expire_s(cx: Commands, args: list[bytes]) -> bytes:
    return _expire(cx, args, 1000, True)


@command("pexpire", -3)
def _expire_ms(cx: Commands, args: list[bytes]) -> bytes:
    return _expire(cx, args, 1, True)


@command("expireat", -3)
def _expireat_s(cx: Commands, args: list[bytes]) -> bytes:
    return _expire(cx, args, 1000, False)


@command("pexpireat", -3)
def _expireat_ms(cx: Commands, args: list[bytes]) -> bytes:
    return _expire(cx, args, 1, False)


def _expiretime(cx: Commands, key: bytes, ms: bool) -> bytes:
    ks, _t = cx.lookup(key)
    if ks is None:
        return enc.integer(-2)
    at = ks.expire_at()
    if at is None:
        return enc.integer(-1)
    return enc.integer(at if ms else at // 1000)


@command("expiretime", 2)
def _expiretime_s(cx: Commands, args: list[bytes]) -> bytes:
    return _expiretime(cx, args[1], False)


@command("pexpiretime", 2)
def _expiretime_ms(cx: Commands, args: list[bytes]) -> bytes:
    return _expiretime(cx, args[1], True)


def _ttl(cx: Commands, key: bytes, ms: bool) -> bytes:
    ks, _t = cx.lookup(key)
    if ks is None:
        return enc.integer(-2)
    at = ks.expire_at()
    if at is None:
        return enc.integer(-1)
    left = max(at - cx.now_ms(), 0)
    return enc.integer(left if ms else (left + 500) // 1000)


@command("ttl", 2)
def _ttl_s(cx: Commands, args: list[bytes]) -> bytes:
    return _ttl(cx, args[1], False)


@command("pttl", 2)
def _ttl_ms(cx: Commands, args: list[bytes]) -> bytes:
    return _ttl(cx, args[1], True)


@command("persist", 2)
def _persist(cx: Commands, args: list[bytes]) -> bytes:
    ks, _t = cx.lookup(args[1])
    if ks is None or ks.expire_at() is None:
        return enc.ZERO
    b, state = cx.write(args[1], None)
    state.set_expiry(b.delta(args[1]), b.dot, b.ts, 0)  # the PERSIST marker beats expiries
    return enc.ONE
