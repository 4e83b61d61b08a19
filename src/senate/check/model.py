"""The key-value register model, one register per key, as the checker sees it.

Rules this file keeps:
- A register holds one value or is absent. Values are interned to small ints
  (`ABSENT` is 0) so that model states are cheap to hash and compare.
- read ok: legal only if the value read equals the current value (null = absent).
  write v: the register becomes v. cas [old, new] ok: legal only if the current value
  is old; it then becomes new. delete: the register becomes absent.
- `fail` operations definitely did not take effect: they are dropped, never searched.
  Reads that did not return ok carry no information and are dropped too.
- `info` operations and invokes that never completed may or may not have taken effect:
  they are OPTIONAL (may linearize any time after their invoke, or never).
- An optional write, cas or delete whose resulting value nobody ever observes (no read
  returns it, no cas expects it) is dropped as well: placing it never helps explain
  anything, and skipping it keeps the search from branching on it forever.
- `ANY` is an unknown initial value, fixed by the first operation that observes it; the
  window minimizer uses it to check a slice of a history "from any starting value".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from senate.check.history import Operation

ABSENT: Final = 0
ANY: Final = -2
ILLEGAL: Final = -1

READ: Final = 0
WRITE: Final = 1
CAS: Final = 2
DELETE: Final = 3
KINDS: Final = {"read": READ, "write": WRITE, "cas": CAS, "delete": DELETE}


class ValueTable:
    """Interns JSON scalars to ints. JSON equality: 1 == 1.0, true != 1, null = absent."""

    __slots__ = ("_ids", "_values")

    def __init__(self) -> None:
        self._ids: dict[tuple[bool, object], int] = {(False, None): ABSENT}
        self._values: list[object] = [None]

    def intern(self, value: object) -> int:
        # bool is tagged so that true and 1 (equal in Python) stay different values.
        tag = (isinstance(value, bool), value)
        found = self._ids.get(tag)
        if found is None:
            found = len(self._values)
            self._ids[tag] = found
            self._values.append(value)
        return found

    def value(self, state: int) -> object:
        return self._values[state]

    def show(self, state: int) -> str:
        if state == ANY:
            return "unknown"
        value = self._values[state]
        return "absent" if value is None else json.dumps(value)


@dataclass(slots=True)
class KeyOp:
    """One operation on one key, ready for the search.

    `call`/`ret` are positions in the event order; `ret` is None for optional ops.
    `a` is the value read or written or cas-old; `b` is cas-new.
    """

    kind: int
    a: int
    b: int
    call: int
    ret: int | None
    op: Operation

    @property
    def optional(self) -> bool:
        return self.ret is None

    def effect(self) -> int:
        """The value a write, cas or delete leaves behind."""
        if self.kind == WRITE:
            return self.a
        if self.kind == CAS:
            return self.b
        return ABSENT


def step(state: int, kind: int, a: int, b: int) -> int:
    """The model's transition: the new state, or ILLEGAL if the op cannot happen here."""
    if kind == READ:
        return a if state in (a, ANY) else ILLEGAL
    if kind == WRITE:
        return a
    if kind == CAS:
        return b if state in (a, ANY) else ILLEGAL
    return ABSENT


def to_key_ops(operations: Iterable[Operation], values: ValueTable) -> dict[str, list[KeyOp]]:
    """Split operations per key, drop the ones that cannot matter, mark optional ones."""
    per_key: dict[str, list[KeyOp]] = {}
    for op in operations:
        if op.outcome == "fail" or (op.f == "read" and op.outcome != "ok"):
            continue
        kind = KINDS[op.f]
        a = b = ABSENT
        if kind == READ:
            a = values.intern(op.result)
        elif kind == WRITE:
            a = values.intern(op.value)
        elif kind == CAS:
            a, b = values.intern(op.value[0]), values.intern(op.value[1])
        ret = op.ret if op.outcome == "ok" else None
        per_key.setdefault(op.key, []).append(KeyOp(kind, a, b, op.call, ret, op))
    return {key: prune_unobserved(ops) for key, ops in per_key.items()}


def prune_unobserved(ops: list[KeyOp]) -> list[KeyOp]:
    """Drop optional mutations whose resulting value no operation ever observes."""
    observed = {op.a for op in ops if op.kind in (READ, CAS)}
    return [op for op in ops if not op.optional or op.kind == READ or op.effect() in observed]
