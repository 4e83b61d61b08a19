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
- CausalLWWRegister: an MVRegister whose entries carry HLC timestamps and whose value
  is the entry with the largest one: last-writer-wins "by causality, then HLC, then
  replica id" (Redis Active-Active strings). Being causal it can live in an ORMap,
  where removing its key removes exactly the writes the remove observed.
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


def own_clock(clock: HybridLogicalClock | None, replica: str) -> HybridLogicalClock:
    """The clock a replica stamps its writes with (a Lamport-like HLC if none given)."""
    if clock is None:
        return HybridLogicalClock(replica, _zero_ms, max_drift_ms=None)
    if not isinstance(clock, HybridLogicalClock):
        raise CRDTError(f"clock must be a HybridLogicalClock, got {type(clock).__name__}")
    if clock.node != replica:
        # The timestamp's node id is the tie-break, so it must be this replica's id.
        raise CRDTError(f"clock node {clock.node!r} is not replica {replica!r}")
    return clock


def fork_clock(clock: HybridLogicalClock, replica: str) -> HybridLogicalClock:
    """A clock for a fork: same physical source and drift bound, never behind `clock`."""
    last = clock.last
    return HybridLogicalClock(
        replica,
        clock.physical,
        max_drift_ms=clock.max_drift_ms,
        last=HLCTimestamp(last.physical, last.logical, replica),
    )


def stamp_after(clock: HybridLogicalClock, seen: HLCTimestamp | None) -> HLCTimestamp:
    """A timestamp for a write that has seen `seen`: the clock's next reading, made
    larger than `seen` by an HLC receive event if needed (ClockError past the drift)."""
    stamp = clock.now()
    if seen is not None and stamp <= seen:
        stamp = clock.receive(seen)
    return stamp


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
        return own_clock(clock, self._replica)

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
        stamp = stamp_after(self._clock, self._stamp)
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
        twin._clock = twin._own_clock(clock or fork_clock(self._clock, replica))
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


# An entry of a CausalLWWRegister: (packed HLC time, HLC node id, value); tuples of
# msgpack scalars, so entries order and encode like the timestamps they hold.
LWWEntry = tuple[int, str, Scalar]


def _check_entry(obj: object) -> LWWEntry:
    packed, node, value = expect_list(obj, "causal LWW entry", 3)
    stamp = HLCTimestamp.unpack(packed, node)
    return (stamp.pack(), stamp.node, expect_scalar(value, "register value"))


def _winner(store: Any) -> LWWEntry | None:
    best: LWWEntry | None = None
    for entry in store.values():
        if best is None or (entry[:2], sort_key(entry[2])) > (best[:2], sort_key(best[2])):
            best = entry
    return best


def _lww_value(store: Any) -> Scalar:
    best = _winner(store)
    return None if best is None else best[2]


class CausalLWWRegister(CausalCRDT):
    """A last-writer-wins register ordered by causality, then HLC, then replica id."""

    __slots__ = ("_clock",)
    TAG = "causallww"

    def __init__(self, replica: str, clock: HybridLogicalClock | None = None) -> None:
        super().__init__(replica)
        self._clock = own_clock(clock, replica)

    @classmethod
    def _embedded(
        cls, replica: str, store: Any, ctx: DotContext, clock: HybridLogicalClock | None = None
    ) -> Self:
        out = cls(replica, clock)
        out._store = store
        out._ctx = ctx
        return out

    def _blank(self) -> Self:
        return type(self)(self._replica, self._clock)

    @property
    def clock(self) -> HybridLogicalClock:
        return self._clock

    @clock.setter
    def clock(self, clock: HybridLogicalClock) -> None:
        self._clock = own_clock(clock, self._replica)

    def fork(self, replica: str, clock: HybridLogicalClock | None = None) -> Self:
        twin = super().fork(replica)
        twin._clock = own_clock(clock or fork_clock(self._clock, twin.replica), twin.replica)
        return twin

    def set(self, value: Scalar) -> Self:
        """Write `value`, replacing every write seen here; returns the delta. Raises
        ClockError if a seen timestamp is beyond the clock's drift bound."""
        check_scalar(value)
        stamp = stamp_after(self._clock, self.timestamp)
        seen = set(self._store)
        dot = self._ctx.next_dot(self._replica)
        entry: LWWEntry = (stamp.pack(), stamp.node, value)
        self._store = {dot: entry}
        return self._with({dot: entry}, DotContext.of(seen | {dot}))

    def clear(self) -> Self:
        """Remove every write seen here; returns the delta."""
        seen = set(self._store)
        self._store = {}
        return self._with({}, DotContext.of(seen))

    @property
    def timestamp(self) -> HLCTimestamp | None:
        """The largest timestamp among the live writes (None if there is none)."""
        best = _winner(self._store)
        return None if best is None else HLCTimestamp.unpack(best[0], best[1])

    @property
    def value(self) -> Scalar:
        return _lww_value(self._store)


CausalLWWRegister.KIND = CausalKind(
    DotFunShape(_check_entry), "causallww", CausalLWWRegister._embedded, _lww_value
)
