"""The replicated keyspace: keys, the version vector, operations and whole-state merges.

Theory of operation: every write command becomes one Op, named by one dot (origin,
seq) with seq = that origin's count of operations so far, and carrying `deps`, the
version vector its origin had applied when it made the op. An op applies once, at
every replica, in causal order: it is deliverable when it is the origin's next one
and everything in `deps` is applied (replication.py buffers the others). So a
replica's causal context is always exactly its version vector `vv` (no gaps), which
is also the context under which whole states are merged (`join_state`).

Rules kept in this file:
- `apply` is the only way a remote op changes the state, and `OpBuilder` (local ops)
  mutates cells through their mutators, which return the same deltas `apply` would
  apply; so a replica that makes an op and one that receives it end identical;
- an op's bytes (`encode_op`) are what goes to the WAL and to peers, encoded once;
- decoding untrusted bytes raises DecodeError and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from senate.activeactive.cell import Dot, _groups, _list, check_id, uint
from senate.activeactive.keys import KeyDelta, KeyState
from senate.errors import DecodeError

# Format 2 (counters as per-origin signed running totals, see cell.py) replaced format 1
# (grow-only up/down totals): format 1 ops and states are refused with a clear error.
FORMAT = 2


def _check_format(fmt: object, what: str) -> None:
    if fmt == FORMAT:
        return
    if fmt == 1:
        raise DecodeError(
            f"{what} format 1 was written by an older Senate (grow-only counter totals) and "
            f"cannot be read by this one (format {FORMAT}): move the old data dir away, "
            "start this replica empty, and let anti-entropy refill it from its peers"
        )
    raise DecodeError(f"unknown {what} format {fmt!r:.20}")


@dataclass(slots=True)
class Op:
    origin: str
    seq: int
    deps: dict[str, int]
    ts: int  # HLC packed, for the receiver's clock
    keys: list[tuple[bytes, KeyDelta]] = field(default_factory=list)

    def to_plain(self) -> list[Any]:
        deps = [x for o, n in self.deps.items() for x in (o, n)]
        keys = [x for k, d in self.keys for x in (k, d.to_plain())]
        return [FORMAT, self.origin, self.seq, deps, self.ts, keys]

    @classmethod
    def from_plain(cls, obj: object) -> Op:
        fmt, origin, seq, deps, ts, keys = _list(obj, "op", 6)
        _check_format(fmt, "op")
        op = cls(check_id(origin, "op origin"), uint(seq, "op seq"), {}, uint(ts, "op HLC"))
        if op.seq < 1:
            raise DecodeError("bad op seq: must be >= 1")
        for o, n in _groups(deps, 2, "op deps"):
            op.deps[check_id(o, "dep origin")] = uint(n, "dep counter")
        for k, d in _groups(keys, 2, "op keys"):
            if not isinstance(k, bytes):
                raise DecodeError("bad op key: expected bytes")
            op.keys.append((k, KeyDelta.from_plain(d)))
        return op


def pack(obj: object) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def unpack(data: bytes, what: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, max_ext_len=0)
    except Exception as exc:  # msgpack raises many kinds for bad bytes; all mean "malformed"
        raise DecodeError(f"undecodable {what}: {type(exc).__name__}") from None


def encode_op(op: Op) -> bytes:
    return pack(op.to_plain())


def decode_op(data: bytes) -> Op:
    try:
        return Op.from_plain(unpack(data, "op"))
    except (ValueError, TypeError) as exc:  # a wrong-arity unpack of a list
        raise DecodeError(f"bad op: {exc}") from None


class Keyspace:
    """Keys -> KeyState, plus the version vector of applied ops."""

    __slots__ = ("keys", "node", "vv")

    def __init__(self, node: str) -> None:
        self.node = node
        self.keys: dict[bytes, KeyState] = {}
        self.vv: dict[str, int] = {}

    # -- reading ----------------------------------------------------------------------
    def get(self, key: bytes) -> KeyState | None:
        return self.keys.get(key)

    def count_live(self) -> int:
        return sum(1 for ks in self.keys.values() if ks.type_of() is not None)

    # -- ops ----------------------------------------------------------------------------
    def is_applied(self, op: Op) -> bool:
        return self.vv.get(op.origin, 0) >= op.seq

    def deliverable(self, op: Op) -> bool:
        vv = self.vv
        if vv.get(op.origin, 0) + 1 != op.seq:
            return False
        return all(vv.get(o, 0) >= n for o, n in op.deps.items() if o != op.origin)

    def apply(self, op: Op) -> None:
        """Apply a deliverable remote op (the caller checked `deliverable`)."""
        keys = self.keys
        for key, delta in op.keys:
            ks = keys.get(key)
            if ks is None:
                ks = keys[key] = KeyState()
            ks.apply(delta)
            if ks.gc():
                del keys[key]
        self.vv[op.origin] = op.seq

    def builder(self, ts: int) -> OpBuilder:
        return OpBuilder(self, ts)

    # -- whole state ------------------------------------------------------------------
    def encode_state(self) -> bytes:
        vv = [x for o, n in self.vv.items() for x in (o, n)]
        keys = [x for k, ks in self.keys.items() for x in (k, ks.to_plain())]
        return pack([FORMAT, vv, keys])

    @staticmethod
    def decode_state(data: bytes) -> tuple[dict[str, int], dict[bytes, KeyState]]:
        try:
            fmt, raw_vv, raw_keys = _list(unpack(data, "state"), "state", 3)
            _check_format(fmt, "state")
            vv = {
                check_id(o, "vv origin"): uint(n, "vv counter") for o, n in _groups(raw_vv, 2, "vv")
            }
            keys: dict[bytes, KeyState] = {}
            for k, ks in _groups(raw_keys, 2, "keys"):
                if not isinstance(k, bytes):
                    raise DecodeError("bad key: expected bytes")
                keys[k] = KeyState.from_plain(ks)
        except (ValueError, TypeError) as exc:
            raise DecodeError(f"bad state: {exc}") from None
        return vv, keys

    def load(self, vv: dict[str, int], keys: dict[bytes, KeyState]) -> None:
        self.vv = dict(vv)
        self.keys = keys

    def join_state(self, vv: dict[str, int], keys: dict[bytes, KeyState]) -> None:
        """Merge a whole (causally closed) state seen under `vv` into this one."""
        mine = self.vv
        for key in set(self.keys) | set(keys):
            ks = self.keys.get(key)
            if ks is None:
                ks = self.keys[key] = KeyState()
            ks.join(keys.get(key) or KeyState(), mine, vv)
            if ks.gc():
                del self.keys[key]
        merged = dict(mine)
        for o, n in vv.items():
            if n > merged.get(o, 0):
                merged[o] = n
        self.vv = merged


class OpBuilder:
    """Collects the key deltas of one local op; one dot names all its new entries."""

    __slots__ = ("_deltas", "_seen", "_space", "dot", "ts")

    def __init__(self, space: Keyspace, ts: int) -> None:
        self._space = space
        self.dot: Dot = (space.node, space.vv.get(space.node, 0) + 1)
        self.ts = ts
        self._deltas: dict[bytes, KeyDelta] = {}
        self._seen: set[bytes] = set()

    def state(self, key: bytes) -> KeyState:
        """The key's state, created if absent, for a mutator to change."""
        ks = self._space.keys.get(key)
        if ks is None:
            ks = self._space.keys[key] = KeyState()
        self._seen.add(key)
        return ks

    def delta(self, key: bytes) -> KeyDelta:
        d = self._deltas.get(key)
        if d is None:
            d = self._deltas[key] = KeyDelta()
        return d

    def touched(self) -> Iterable[bytes]:
        return self._deltas.keys()

    def finish(self) -> Op | None:
        """The op (the keyspace has already changed), or None if nothing changed."""
        space = self._space
        deltas = [(k, d) for k, d in self._deltas.items() if d.cells or d.exp_rm or d.exp_add]
        for key in self._seen:
            ks = space.keys.get(key)
            if ks is not None and ks.gc():
                del space.keys[key]
        if not deltas:
            return None
        deps = dict(space.vv)
        space.vv[self.dot[0]] = self.dot[1]
        return Op(self.dot[0], self.dot[1], deps, self.ts, deltas)
