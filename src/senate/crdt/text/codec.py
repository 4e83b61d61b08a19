"""The binary format of a Text document and of a Text update (format 1).

Rules kept in this file:
- every blob starts with b"SNTX", a format byte (1) and a kind byte (0 document,
  1 update); anything else is refused;
- integers are unsigned LEB128 varints; seqs are written as zigzag deltas from the
  previous seq of the same replica in the same section, origins as flags when they
  are the obvious neighbour (see below) and explicitly otherwise;
- replica ids are written once, in a table sorted by id, and referred to by index;
- visible text is written once, UTF-8, as one blob per section after the runs
  (with "surrogatepass": a Python str may hold lone surrogates, and they survive);
  deleted runs carry only their length;
- a document is canonical: equal states encode to equal bytes (runs are coalesced
  to maximal runs, delete targets sorted and merged, tables sorted);
- decoding never trusts a count or an index: malformed input raises DecodeError.

Layout.
    document: header, ids, replica (length, UTF-8; empty when canonical), version,
              floor, OPS(runs in document order), OPS(ops still waiting)
    update:   header, ids, OPS(the delta)
    ids:      n, then n x (byte length, UTF-8)
    version:  n, then n x (id index, count)        (floor: the same)
    OPS:      n inserts, n x insert, text blob (byte length, UTF-8),
              n deletes, n x (id, seq delta, length, n targets, n x (id, seq, length))
    insert:   id, seq delta, length, flags, [left id, left seq], [right id, right seq]
    flags:    1 deleted; 2 has left; 4 left is the last char of the previous insert
              in the section; 8 has right; 16 right is the first char of the next one;
              32 right is the previous insert's right (typing, deleting, typing on)
    origins written explicitly are (id index, zigzag(origin seq - own seq)): a left
    origin is usually a few seqs back, so this is one or two bytes
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from senate.crdt.text.doc import MAX_REPLICA_ID, Text
from senate.crdt.text.records import CharId, DeleteRun, InsertRun, TextDelta
from senate.crdt.text.runs import Run
from senate.errors import CRDTError, DecodeError

MAGIC = b"SNTX"
FORMAT = 1
KIND_DOC = 0
KIND_UPDATE = 1
MAX_VARINT = 2**63 - 1

F_DELETED, F_LEFT, F_LEFT_PREV, F_RIGHT, F_RIGHT_NEXT, F_RIGHT_SAME = 1, 2, 4, 8, 16, 32


# ---- writing -----------------------------------------------------------------


def _uv(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zz(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def _coalesce(runs: Iterable[InsertRun]) -> list[InsertRun]:
    """Join neighbours that are one run split in two (canonical form)."""
    out: list[InsertRun] = []
    for r in runs:
        if out:
            p = out[-1]
            if (
                p.agent == r.agent
                and p.seq + p.length == r.seq
                and r.left == (p.agent, r.seq - 1)
                and p.right == r.right
                and p.deleted == r.deleted
            ):
                out[-1] = InsertRun(
                    p.agent, p.seq, p.length + r.length, p.text + r.text, p.deleted, p.left,
                    p.right,
                )
                continue
        out.append(r)
    return out


def _norm_targets(targets: Iterable[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    for a, s, m in sorted(targets):
        if out and out[-1][0] == a and out[-1][1] + out[-1][2] >= s:
            pa, ps, pm = out[-1]
            out[-1] = (pa, ps, max(pm, s + m - ps))
        else:
            out.append((a, s, m))
    return out


class _Writer:
    def __init__(self, agents: Iterable[str]) -> None:
        self.names = sorted(set(agents))
        self.idx = {a: i for i, a in enumerate(self.names)}
        self.out = bytearray()

    def header(self, kind: int) -> None:
        self.out += MAGIC
        self.out.append(FORMAT)
        self.out.append(kind)
        _uv(self.out, len(self.names))
        for a in self.names:
            raw = a.encode("utf-8")
            _uv(self.out, len(raw))
            self.out += raw

    def version(self, vv: dict[str, int]) -> None:
        items = sorted((a, c) for a, c in vv.items() if c)
        _uv(self.out, len(items))
        for a, c in items:
            _uv(self.out, self.idx[a])
            _uv(self.out, c)

    def ops(self, inserts: list[InsertRun], deletes: list[DeleteRun]) -> None:
        out, idx = self.out, self.idx
        _uv(out, len(inserts))
        last: dict[str, int] = {}
        texts: list[str] = []
        for i, r in enumerate(inserts):
            _uv(out, idx[r.agent])
            _uv(out, _zz(r.seq - last.get(r.agent, 0)))
            last[r.agent] = r.seq + r.length
            _uv(out, r.length)
            flags = F_DELETED if r.deleted else 0
            prev = inserts[i - 1] if i else None
            nxt = inserts[i + 1] if i + 1 < len(inserts) else None
            if r.left is not None:
                flags |= F_LEFT
                if prev is not None and r.left == (prev.agent, prev.seq + prev.length - 1):
                    flags |= F_LEFT_PREV
            if r.right is not None:
                flags |= F_RIGHT
                if nxt is not None and r.right == (nxt.agent, nxt.seq):
                    flags |= F_RIGHT_NEXT
                elif prev is not None and r.right == prev.right:
                    flags |= F_RIGHT_SAME
            out.append(flags)
            if flags & F_LEFT and not flags & F_LEFT_PREV:
                self._cid(r.left, r.seq)
            if flags & F_RIGHT and not flags & (F_RIGHT_NEXT | F_RIGHT_SAME):
                self._cid(r.right, r.seq)
            if not r.deleted:
                texts.append(r.text)
        raw = "".join(texts).encode("utf-8", "surrogatepass")
        _uv(out, len(raw))
        out += raw
        _uv(out, len(deletes))
        last = {}
        for d in deletes:
            _uv(out, idx[d.agent])
            _uv(out, _zz(d.seq - last.get(d.agent, 0)))
            last[d.agent] = d.seq + d.length
            _uv(out, d.length)
            targets = _norm_targets(d.targets)
            _uv(out, len(targets))
            for a, s, m in targets:
                _uv(out, idx[a])
                _uv(out, _zz(s - d.seq))
                _uv(out, m)

    def _cid(self, cid: CharId | None, base: int) -> None:
        assert cid is not None
        _uv(self.out, self.idx[cid[0]])
        _uv(self.out, _zz(cid[1] - base))


def _agents_of(inserts: list[InsertRun], deletes: list[DeleteRun]) -> set[str]:
    names: set[str] = set()
    for r in inserts:
        names.add(r.agent)
        for o in (r.left, r.right):
            if o is not None:
                names.add(o[0])
    for d in deletes:
        names.add(d.agent)
        names.update(t[0] for t in d.targets)
    return names


def encode_update(delta: TextDelta) -> bytes:
    """Bytes for one delta (see the layout in the module docstring)."""
    w = _Writer(_agents_of(delta.inserts, delta.deletes))
    w.header(KIND_UPDATE)
    w.ops(delta.inserts, delta.deletes)
    return bytes(w.out)


def encode_doc(doc: Text, canonical: bool = False) -> bytes:
    """Bytes for a whole replica; `canonical` leaves out the replica's own id.

    Replicas with equal state have equal canonical bytes (those do not decode).
    """
    rl = doc._rl
    runs = _coalesce(
        InsertRun(r.agent, r.seq, r.length, r.text, r.deleted, r.left, r.right) for r in rl.runs()
    )
    deletes = [d for agent in sorted(doc._dels) for d in doc._dels[agent]]
    waiting = doc._waiting_ops()
    w_ins = [op for op in waiting if isinstance(op, InsertRun)]
    w_del = [op for op in waiting if isinstance(op, DeleteRun)]
    names = _agents_of(runs, deletes) | _agents_of(w_ins, w_del)
    names |= set(doc._vv) | set(doc._floor)
    w = _Writer(names)
    w.header(KIND_DOC)
    raw = b"" if canonical else doc.replica.encode("utf-8")
    _uv(w.out, len(raw))
    w.out += raw
    w.version(doc._vv)
    w.version(doc._floor)
    w.ops(runs, deletes)
    w.ops(w_ins, w_del)
    return bytes(w.out)


# ---- reading -----------------------------------------------------------------


class _Reader:
    def __init__(self, data: object, want_kind: int) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.pos = 0
        if self.data[:4] != MAGIC:
            raise DecodeError("not a Senate text encoding (bad magic)")
        if len(self.data) < 6:
            raise DecodeError("truncated text encoding header")
        if self.data[4] != FORMAT:
            raise DecodeError(f"unsupported text encoding format {self.data[4]} (know {FORMAT})")
        kind = self.data[5]
        if kind != want_kind:
            names = {KIND_DOC: "document", KIND_UPDATE: "update"}
            raise DecodeError(
                f"expected a text {names[want_kind]}, got kind {kind} "
                f"({names.get(kind, 'unknown')})"
            )
        self.pos = 6
        n = self.count("replica ids")
        self.names: list[str] = []
        for _ in range(n):
            m = self.count("replica id length")
            raw = self.take(m)
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DecodeError(f"replica id is not UTF-8: {e}") from None
            if not 0 < len(name) <= MAX_REPLICA_ID:
                raise DecodeError(f"replica id of {len(name)} characters (1..{MAX_REPLICA_ID})")
            self.names.append(name)
        if len(set(self.names)) != len(self.names):
            raise DecodeError("duplicate replica id in the id table")

    def uv(self) -> int:
        data, pos = self.data, self.pos
        result = shift = 0
        while True:
            if pos >= len(data):
                raise DecodeError("truncated varint")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 63:
                raise DecodeError("varint too long")
        if result > MAX_VARINT:
            raise DecodeError("varint out of range")
        self.pos = pos
        return result

    def zz(self) -> int:
        n = self.uv()
        return n >> 1 if not n & 1 else -(n >> 1) - 1

    def count(self, what: str) -> int:
        n = self.uv()
        if n > len(self.data) - self.pos:  # every item takes at least one byte
            raise DecodeError(f"{what}: count {n} exceeds the remaining input")
        return n

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError("truncated input")
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw

    def agent(self) -> str:
        i = self.uv()
        if i >= len(self.names):
            raise DecodeError(f"replica index {i} outside the id table of {len(self.names)}")
        return self.names[i]

    def seq(self, base: int) -> int:
        s = base + self.zz()
        if not 0 <= s <= MAX_VARINT:
            raise DecodeError(f"seq {s} out of range")
        return s

    def positive(self, what: str) -> int:
        n = self.uv()
        if n == 0:
            raise DecodeError(f"{what} must be positive")
        return n

    def version(self) -> dict[str, int]:
        vv: dict[str, int] = {}
        for _ in range(self.count("version entries")):
            a = self.agent()
            if a in vv:
                raise DecodeError(f"duplicate version entry for {a!r}")
            vv[a] = self.uv()
        return vv

    def ops(self) -> tuple[list[InsertRun], list[DeleteRun]]:
        n = self.count("inserts")
        heads: list[tuple[str, int, int, int, CharId | None, CharId | None]] = []
        last: dict[str, int] = {}
        for _ in range(n):
            a = self.agent()
            s = self.seq(last.get(a, 0))
            m = self.positive("insert length")
            last[a] = s + m
            flags = self.uv()
            if flags >= 64 or (flags & (F_RIGHT_NEXT | F_RIGHT_SAME) and not flags & F_RIGHT):
                raise DecodeError(f"bad insert flags {flags:#x}")
            if flags & F_LEFT_PREV and not flags & F_LEFT:
                raise DecodeError(f"bad insert flags {flags:#x}")
            left = right = None
            if flags & F_LEFT:
                if flags & F_LEFT_PREV:
                    if not heads:
                        raise DecodeError("first insert cannot take its left origin from before")
                    pa, ps, pm = heads[-1][:3]
                    left = (pa, ps + pm - 1)
                else:
                    left = (self.agent(), self.seq(s))
            if flags & F_RIGHT_SAME:
                if not heads:
                    raise DecodeError("first insert cannot share the previous right origin")
                right = heads[-1][5]
            elif flags & F_RIGHT and not flags & F_RIGHT_NEXT:
                right = (self.agent(), self.seq(s))
            heads.append((a, s, m, flags, left, right))
        try:
            blob = self.take(self.count("text bytes")).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as e:
            raise DecodeError(f"text is not UTF-8: {e}") from None
        inserts: list[InsertRun] = []
        p = 0
        for i, (a, s, m, flags, left, right) in enumerate(heads):
            if flags & F_RIGHT_NEXT:
                if i + 1 >= len(heads):
                    raise DecodeError("last insert cannot take its right origin from after")
                right = (heads[i + 1][0], heads[i + 1][1])
            deleted = bool(flags & F_DELETED)
            text = ""
            if not deleted:
                text = blob[p : p + m]
                if len(text) != m:
                    raise DecodeError("text blob shorter than the insert lengths")
                p += m
            inserts.append(InsertRun(a, s, m, text, deleted, left, right))
        if p != len(blob):
            raise DecodeError("text blob longer than the insert lengths")
        deletes: list[DeleteRun] = []
        last = {}
        for _ in range(self.count("deletes")):
            a = self.agent()
            s = self.seq(last.get(a, 0))
            m = self.positive("delete length")
            last[a] = s + m
            targets = []
            for _ in range(self.count("delete targets")):
                ta = self.agent()
                targets.append((ta, self.seq(s), self.positive("delete target length")))
            deletes.append(DeleteRun(a, s, m, tuple(targets)))
        return inserts, deletes

    def end(self) -> None:
        if self.pos != len(self.data):
            raise DecodeError(f"{len(self.data) - self.pos} trailing bytes after the encoding")


def decode_update(data: bytes) -> TextDelta:
    """A delta from `encode_update` bytes; raises DecodeError on malformed input."""
    r = _Reader(data, KIND_UPDATE)
    inserts, deletes = r.ops()
    r.end()
    return TextDelta(inserts, deletes)


def decode_doc(data: bytes) -> Text:
    """A replica from `encode_doc` bytes; raises DecodeError on malformed input."""
    r = _Reader(data, KIND_DOC)
    try:
        replica = r.take(r.count("replica id length")).decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(f"replica id is not UTF-8: {e}") from None
    if not replica:
        raise DecodeError("a document without its replica id (canonical bytes) cannot decode")
    if len(replica) > MAX_REPLICA_ID:
        raise DecodeError(f"replica id of {len(replica)} characters (at most {MAX_REPLICA_ID})")
    vv = r.version()
    floor = r.version()
    inserts, deletes = r.ops()
    w_ins, w_del = r.ops()
    r.end()
    seen: dict[str, list[tuple[int, int]]] = {}
    runs: list[Run] = []
    for op in inserts:
        if op.seq + op.length > vv.get(op.agent, 0):
            raise DecodeError(f"run {op.agent}:{op.seq} is beyond the document's version")
        seen.setdefault(op.agent, []).append((op.seq, op.length))
        runs.append(Run(op.agent, op.seq, op.length, op.text, op.deleted, op.left, op.right))
    for agent, spans in seen.items():
        spans.sort()
        for (s1, m1), (s2, _) in itertools.pairwise(spans):
            if s1 + m1 > s2:
                raise DecodeError(f"runs of {agent!r} overlap at seq {s2}")
    for d in deletes:
        if d.seq + d.length > vv.get(d.agent, 0):
            raise DecodeError(f"delete {d.agent}:{d.seq} is beyond the document's version")
    doc = Text(replica)
    try:
        doc._load(runs, vv, floor, deletes)
        if w_ins or w_del:
            doc.merge(TextDelta(w_ins, w_del))
    except CRDTError as e:  # waiting ops that are in fact applicable and inconsistent
        raise DecodeError(f"inconsistent text document: {e}") from None
    return doc
