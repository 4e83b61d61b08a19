"""Enable-wins and disable-wins flags (Almeida, Shoker, Baquero 2018), causal delta-state.

Rules kept in this file:
- EWFlag: the store is a set of "enabled" dots. Enable replaces the dots it saw by one
  fresh dot; disable removes the dots it saw. A concurrent enable's dot was not seen,
  so it survives: enable wins. A new flag is disabled.
- DWFlag: the store maps dots to True (enable) or False (disable). Each write replaces
  the dots it saw by one fresh dot; the flag is on only if at least one dot is live and
  all live dots say True, so a concurrent disable wins. A new flag is disabled.
- deltas carry the fresh dot (if any) and, in their context, the dots they replace.
"""

from __future__ import annotations

from typing import Any, Self

from senate.clocks import DotContext
from senate.crdt._codec import expect_bool
from senate.crdt.causal import CausalCRDT, CausalKind, DotFunShape, DotSetShape


class EWFlag(CausalCRDT):
    """An enable-wins flag."""

    __slots__ = ()
    TAG = "ewflag"

    def enable(self) -> Self:
        seen = set(self._store)
        dot = self._ctx.next_dot(self._replica)
        self._store = {dot}
        return self._with({dot}, DotContext.of(seen | {dot}))

    def disable(self) -> Self:
        seen = set(self._store)
        self._store = set()
        return self._with(set(), DotContext.of(seen))

    @property
    def value(self) -> bool:
        return bool(self._store)


class DWFlag(CausalCRDT):
    """A disable-wins flag."""

    __slots__ = ()
    TAG = "dwflag"

    def _write(self, flag: bool) -> Self:
        seen = set(self._store)
        dot = self._ctx.next_dot(self._replica)
        self._store = {dot: flag}
        return self._with({dot: flag}, DotContext.of(seen | {dot}))

    def enable(self) -> Self:
        return self._write(True)

    def disable(self) -> Self:
        return self._write(False)

    @property
    def value(self) -> bool:
        return _dw_value(self._store)


def _dw_value(store: Any) -> bool:
    return bool(store) and all(store.values())


EWFlag.KIND = CausalKind(DotSetShape(), "ewflag", EWFlag._embedded, bool)
DWFlag.KIND = CausalKind(
    DotFunShape(lambda v: expect_bool(v, "disable-wins flag value")),
    "dwflag",
    DWFlag._embedded,
    _dw_value,
)
