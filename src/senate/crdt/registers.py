"""Last-writer-wins and multi-value registers, delta-state.

Rules kept in this file:
- LWWRegister: the state is (HLC timestamp, value); join keeps the larger timestamp,
  and timestamps order by (physical ms, logical, replica id), so ties between replicas
  go to the larger replica id, as in Redis Active-Active strings. A write that has
  seen the current value always beats it: if the local clock is not past the current
  timestamp, the clock first *receives* it (HLC receive event), which also refuses a
  timestamp beyond the clock's drift bound (ClockError, nothing changes).
- The HLC is injected. Without one, the register uses an HLC whose physical clock is
  always 0: it then orders writes like a Lamport clock (causality, then replica id).
- MVRegister: a causal DotFun of values; a write replaces the values it saw, so
  concurrent writes are all kept until a later write that saw them all.
- Values are msgpack scalars (None, bool, 64-bit int, non-NaN float, str, bytes).
"""

from __future__ import annotations

from typing import Any, Self

from senate.clocks import DotContext, HLCTimestamp, HybridLogicalClock
from senate.crdt._codec import (
    Scalar,
    check_scalar,
    expect_hlc,
    expect_list,
    expect_scalar,
    hlc_plain,
    sort_key,
)
from senate.crdt.base import CRDT, check_replica
from senate.crdt.causal import CausalCRDT, CausalKind, DotFunShape
from senate.errors import CRDTError, DecodeError


def _zero_ms() -> int:
    return 0


class LWWRegister(CRDT):
    """A last-writer-wins register ordered by hybrid logical clock, then replica id."""

    __slots__ = ("_clock", "_stamp", "_value")
    TAG = "lwwregister"

    def __init__(self, replica: str, clock: HybridLogicalClock | None = None) -> None:
        super().__init__(replica)
        self._stamp: HLCTimestamp | None = None
        self._value: Scalar = None
        self._clock = self._own_clock(clock)

    def _own_clock(self, clock: HybridLogicalClock | None) -> HybridLogicalClock:
        if clock is None:
            return HybridLogicalClock(self._replica, _zero_ms, max_drift_ms=None)
        if not isinstance(clock, HybridLogicalClock):
            raise CRDTError(f"clock must be a HybridLogicalClock, got {type(clock).__name__}")
        if clock.node != self._replica:
            # The timestamp's node id is the tie-break, so it must be this replica's id.
            raise CRDTError(f"clock node {clock.node!r} is not replica {self._replica!r}")
        return clock

    @property
    def clock(self) -> HybridLogicalClock:
        return self._clock

    @clock.setter
    def clock(self, clock: HybridLogicalClock) -> None:
        self._clock = self._own_clock(clock)

    @property
    def timestamp(self) -> HLCTimestamp | None:
        """The timestamp of the winning write (None if never written)."""
        return self._stamp

    @property
    def value(self) -> Scalar:
        return self._value

    def set(self, value: Scalar) -> Self:
        """Write `value`; returns the delta. Raises ClockError if the current value's
        timestamp is beyond the clock's drift bound."""
        check_scalar(value)
        stamp = self._clock.now()
        if self._stamp is not None and stamp <= self._stamp:
            stamp = self._clock.receive(self._stamp)
        self._stamp, self._value = stamp, value
        return self._with(stamp, value)

    def _with(self, stamp: HLCTimestamp | None, value: Scalar) -> Self:
        out = type(self).__new__(type(self))
        out._replica = self._replica
        out._clock = self._clock
        out._stamp, out._value = stamp, value
        return out

    def copy(self) -> Self:
        # A copy shares the clock: it is the same replica. `fork` gives a new clock.
        return self._with(self._stamp, self._value)

    def fork(self, replica: str, clock: HybridLogicalClock | None = None) -> Self:
        replica = check_replica(replica)
        twin = super().fork(replica)
        if clock is None:
            last = self._clock.last
            clock = HybridLogicalClock(
                replica,
                self._clock.physical,
                max_drift_ms=self._clock.max_drift_ms,
                last=HLCTimestamp(last.physical, last.logical, replica),
            )
        twin._clock = twin._own_clock(clock)
        return twin

    def _join(self, other: Self) -> None:
        if other._stamp is None:
            return
        if self._stamp is None or (other._stamp, sort_key(other._value)) > (
            self._stamp,
            sort_key(self._value),
        ):
            self._stamp, self._value = other._stamp, other._value

    def _state_plain(self) -> Any:
        if self._stamp is None:
            return []
        return [hlc_plain(self._stamp), self._value]

    @classmethod
    def _from_state_plain(cls, replica: str, plain: Any) -> Self:
        out = cls(replica)
        items = expect_list(plain, "lwwregister state")
        if items:
            stamp, value = expect_list(items, "lwwregister state", 2)
            out._stamp = expect_hlc(stamp)
            out._value = expect_scalar(value, "register value")
        return out

    @classmethod
    def decode(cls, data: bytes, clock: HybridLogicalClock | None = None) -> Self:
        """As CRDT.decode; `clock` (node = the encoded replica id) is attached if given."""
        out = super().decode(data)
        if clock is not None:
            try:
                out.clock = clock
            except CRDTError as exc:
                raise DecodeError(str(exc)) from None
        return out


class MVRegister(CausalCRDT):
    """A multi-value register: concurrent writes are all kept."""

    __slots__ = ()
    TAG = "mvregister"

    def set(self, value: Scalar) -> Self:
        """Write `value`, replacing every value this replica has seen; returns the delta."""
        check_scalar(value)
        seen = set(self._store)
        dot = self._ctx.next_dot(self._replica)
        self._store = {dot: value}
        return self._with({dot: value}, DotContext.of(seen | {dot}))

    def clear(self) -> Self:
        """Remove every value this replica has seen; returns the delta."""
        seen = set(self._store)
        self._store = {}
        return self._with({}, DotContext.of(seen))

    @property
    def value(self) -> tuple[Scalar, ...]:
        return _mv_value(self._store)


def _mv_value(store: Any) -> tuple[Scalar, ...]:
    unique = {sort_key(v): v for v in store.values()}
    return tuple(unique[k] for k in sorted(unique))


MVRegister.KIND = CausalKind(
    DotFunShape(lambda v: expect_scalar(v, "register value")),
    "mvregister",
    MVRegister._embedded,
    _mv_value,
)
