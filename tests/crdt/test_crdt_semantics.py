"""Conflict rules as Redis Enterprise Active-Active documents them, and the other
types' defining behaviour, on small hand-made concurrent scenarios."""

from __future__ import annotations

import pytest

from senate.clocks import Dot, HLCTimestamp, HybridLogicalClock
from senate.crdt import (
    CausalCounter,
    CausalLWWRegister,
    DWFlag,
    EWFlag,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    PNCounter,
    TwoPSet,
)
from senate.errors import ClockError, CRDTError


class FakeTime:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


# -- counters: concurrent increments add up -----------------------------------------------
def test_concurrent_increments_add_up() -> None:
    a = PNCounter("a")
    b = a.fork("b")
    c = a.fork("c")
    da = a.increment(3)
    db = b.increment(4)
    dc = c.decrement(2)
    for replica in (a, b, c):
        for delta in (da, db, dc, da):
            replica.merge(delta)
        assert replica.value == 5


def test_gcounter_refuses_negative_and_overflow() -> None:
    g = GCounter("a")
    with pytest.raises(CRDTError):
        g.increment(-1)
    g.increment(2**64 - 1)
    with pytest.raises(CRDTError):
        g.increment(1)
    assert g.value == 2**64 - 1


# -- sets: concurrent add and remove leaves the element present ------------------------------
def test_orset_add_wins_over_concurrent_remove() -> None:
    a = ORSet("a")
    a.add("x")
    b = a.fork("b")
    d_remove = a.remove("x")
    d_add = b.add("x")
    a.merge(d_add)
    b.merge(d_remove)
    assert a.value == b.value == {"x"}


def test_orset_remove_removes_what_it_observed() -> None:
    a = ORSet("a")
    b = a.fork("b")
    b.merge(a.add("x"))
    d = b.remove("x")
    a.merge(d)
    assert "x" not in a and len(a) == 0
    # A second remove of an already-removed element is a harmless no-op delta.
    assert b.remove("x").dots() == frozenset()


def test_orset_keeps_no_tombstones() -> None:
    a = ORSet("a")
    for i in range(200):
        a.add(i)
    for i in range(200):
        a.remove(i)
    ctx = a.context
    assert a.value == frozenset() and a.dots() == frozenset()
    assert ctx.vv.to_dict() == {"a": 200} and not ctx.cloud
    assert len(a.encode()) < 40  # a version vector, nothing per element


def test_orset_concurrent_adds_of_one_element_both_live() -> None:
    a = ORSet("a")
    b = a.fork("b")
    da, db = a.add("x"), b.add("x")
    a.merge(db)
    b.merge(da)
    assert a.dots() == b.dots() == {Dot("a", 1), Dot("b", 1)}
    # A remove that saw both removes it everywhere.
    a.merge(b.remove("x"))
    assert "x" not in a


def test_twopset_remove_is_forever() -> None:
    a = TwoPSet("a")
    b = a.fork("b")
    b.merge(a.add("x"))
    a.merge(b.remove("x"))
    assert a.value == frozenset()
    with pytest.raises(CRDTError):
        a.add("x")
    with pytest.raises(CRDTError):
        a.remove("y")


def test_gset_and_element_types() -> None:
    s = GSet("a")
    s.add(1)
    s.add("1")
    s.add(b"1")
    assert s.value == {1, "1", b"1"}
    for bad in (True, 1.0, None, [1], 2**64):
        with pytest.raises(CRDTError):
            s.add(bad)  # type: ignore[arg-type]


# -- ORMap: a remove concurrent with an update keeps the update ------------------------------
def test_ormap_remove_concurrent_with_update_keeps_the_update_only() -> None:
    a = ORMap("a", ORSet)
    a.update("k", lambda s: s.add("old"))
    b = a.fork("b")
    d_remove = a.remove("k")
    d_update = b.update("k", lambda s: s.add("new"))
    a.merge(d_update)
    b.merge(d_remove)
    # The key survives with the concurrent update; what the remove saw stays removed.
    assert a.value == b.value == {"k": frozenset({"new"})}


def test_ormap_nested_maps_and_counters_of_concurrent_updates() -> None:
    a = ORMap("a", ORMap.of(MVRegister))
    b = a.fork("b")
    da = a.update("user", lambda m: m.update("name", lambda r: r.set("ann")))
    db = b.update("user", lambda m: m.update("age", lambda r: r.set(30)))
    a.merge(db)
    b.merge(da)
    assert a.value == b.value == {"user": {"age": (30,), "name": ("ann",)}}
    d = a.update("user", lambda m: m.remove("age"))
    b.merge(d)
    assert b.get("user") == {"name": ("ann",)}


def test_ormap_value_type_is_checked() -> None:
    with pytest.raises(CRDTError):
        ORMap("a", GCounter)  # type: ignore[arg-type]
    with pytest.raises(CRDTError):
        ORMap("a", PNCounter).merge(ORMap("b", ORSet))
    with pytest.raises(CRDTError):
        ORMap("a", ORSet).merge(ORMap("b", EWFlag))


# -- maps of counters: Redis Active-Active HINCRBY / HDEL -------------------------------------
def test_map_of_counters_concurrent_increments_add_up() -> None:
    a = ORMap("a", PNCounter)
    b, c = a.fork("b"), a.fork("c")
    deltas = [
        a.update("hits", lambda n: n.increment(5)),
        b.update("hits", lambda n: n.increment(3)),
        c.update("hits", lambda n: n.decrement(1)),
    ]
    for replica in (a, b, c):
        for d in deltas:
            replica.merge(d)
    assert a.value == b.value == c.value == {"hits": 7}
    assert a.value_kind == CausalCounter.KIND


def test_map_of_counters_remove_concurrent_with_increment_keeps_the_increment_only() -> None:
    a = ORMap("a", PNCounter)
    a.update("f", lambda n: n.increment(10))
    b = a.fork("b")
    d_remove = a.remove("f")  # HDEL: observed 10
    d_incr = b.update("f", lambda n: n.increment(2))  # HINCRBY 2, concurrently
    a.merge(d_incr)
    b.merge(d_remove)
    # Add-wins: the field survives; its value restarts from what the remover observed.
    assert a.value == b.value == {"f": 2}
    # The same when the incrementing replica made the observed increments itself.
    c = ORMap("c", PNCounter)
    c.update("f", lambda n: n.increment(10))
    d = c.fork("d")
    d_remove = d.remove("f")
    d_incr = c.update("f", lambda n: n.increment(2))
    c.merge(d_remove)
    d.merge(d_incr)
    assert c.value == d.value == {"f": 2}


def test_map_of_counters_remove_then_readd_restarts_at_zero() -> None:
    a = ORMap("a", PNCounter)
    a.update("f", lambda n: n.increment(10))
    b = a.fork("b")
    b.merge(a.remove("f"))
    assert "f" not in a and "f" not in b
    b.merge(a.update("f", lambda n: n.increment(1)))
    assert a.value == b.value == {"f": 1}
    a.update("z", lambda n: n.increment(0))  # HINCRBY z 0: present, 0
    assert a.get("z") == 0 and "z" in a
    a.update("z", lambda n: n.reset())
    assert "z" not in a


def test_causal_counter_on_its_own_and_its_limits() -> None:
    c = CausalCounter("a")
    d = c.increment(4)
    c.decrement(1)
    assert c.value == 3
    other = CausalCounter("b")
    other.merge(d)
    r = other.reset()
    c.merge(r)
    assert c.value == -1  # the reset took back only the increment it observed
    with pytest.raises(CRDTError):
        c.increment(2**63)
    with pytest.raises(CRDTError):
        c.decrement(True)  # type: ignore[arg-type]
    assert CausalCounter.decode(c.encode()).value == -1


def test_ormap_key_vanishes_when_its_value_is_empty() -> None:
    m = ORMap("a", EWFlag)
    m.update("f", lambda f: f.enable())
    assert "f" in m
    m.update("f", lambda f: f.disable())
    assert "f" not in m and m.value == {}


# -- registers: LWW by HLC then replica id ----------------------------------------------------
def test_lww_later_hlc_wins_regardless_of_arrival() -> None:
    ta, tb = FakeTime(1000), FakeTime(900)
    a = LWWRegister("a", HybridLogicalClock("a", ta))
    b = a.fork("b", HybridLogicalClock("b", tb))
    da = a.set("from-a")  # stamp 1000
    db = b.set("from-b")  # stamp 900, though written "later"
    a.merge(db)
    b.merge(da)
    assert a.value == b.value == "from-a"


def test_lww_equal_hlc_goes_to_larger_replica_id() -> None:
    a = LWWRegister("a", HybridLogicalClock("a", FakeTime(500)))
    b = a.fork("b", HybridLogicalClock("b", FakeTime(500)))
    da, db = a.set(1), b.set(2)
    assert (da.timestamp, db.timestamp) == (HLCTimestamp(500, 0, "a"), HLCTimestamp(500, 0, "b"))
    a.merge(db)
    b.merge(da)
    assert a.value == b.value == 2


def test_lww_write_after_observing_wins_even_with_slow_clock() -> None:
    a = LWWRegister("a", HybridLogicalClock("a", FakeTime(1000)))
    b = a.fork("b", HybridLogicalClock("b", FakeTime(800)))
    b.merge(a.set("first"))
    d = b.set("second")  # b's clock is behind, but b saw "first"
    assert d.timestamp is not None and d.timestamp > HLCTimestamp(1000, 0, "a")
    a.merge(d)
    assert a.value == "second"


def test_lww_refuses_to_follow_a_timestamp_beyond_drift() -> None:
    a = LWWRegister("a", HybridLogicalClock("a", FakeTime(100_000)))
    b = a.fork("b", HybridLogicalClock("b", FakeTime(0), max_drift_ms=500))
    b.merge(a.set("far ahead"))
    with pytest.raises(ClockError, match="max drift"):
        b.set("mine")
    assert b.value == "far ahead"


def test_lww_without_clock_orders_by_causality_then_replica() -> None:
    a = LWWRegister("a")
    b = a.fork("b")
    b.merge(a.set("x"))
    a.merge(b.set("y"))
    assert a.value == "y"
    da, db = a.set("p"), b.set("q")
    a.merge(db)
    b.merge(da)
    assert a.value == b.value


def test_lww_clock_must_belong_to_the_replica() -> None:
    with pytest.raises(CRDTError):
        LWWRegister("a", HybridLogicalClock("b", FakeTime(0)))


def test_mvregister_keeps_concurrent_writes_until_one_sees_them() -> None:
    a = MVRegister("a")
    b = a.fork("b")
    da, db = a.set("x"), b.set("y")
    a.merge(db)
    b.merge(da)
    assert a.value == b.value == ("x", "y")
    b.merge(a.set("z"))
    assert b.value == ("z",)


# -- flags ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("flag_type", "winner"), [(EWFlag, True), (DWFlag, False)])
def test_flags_concurrent_enable_disable(flag_type: type[EWFlag | DWFlag], winner: bool) -> None:
    a = flag_type("a")
    assert a.value is False
    b = a.fork("b")
    b.merge(a.enable())
    de, dd = a.enable(), b.disable()
    a.merge(dd)
    b.merge(de)
    assert a.value is b.value is winner
    # A later write that saw both settles it.
    b.merge(a)
    a.merge(b.enable())
    assert a.value is True


def test_fork_needs_a_new_id_and_merge_the_same_type() -> None:
    a = ORSet("a")
    with pytest.raises(CRDTError):
        a.fork("a")
    with pytest.raises(CRDTError):
        a.merge(GSet("b"))  # type: ignore[arg-type]
    with pytest.raises(CRDTError):
        ORSet("")


def test_small_deltas_into_a_large_set_touch_the_right_keys() -> None:
    # A large state and small deltas: the merge goes through the dot -> key index.
    a = ORSet("a")
    for i in range(60):
        a.add(i)
    b = a.fork("b")
    a.merge(b.add(1000))  # builds a's index
    removals = [b.remove(i) for i in range(0, 60, 3)]
    for d in removals:
        a.merge(d)
    a.add(2000)  # kept in the index by the mutator
    b.merge(a.copy())
    a.merge(b.remove(2000))
    assert a.value == b.value - {2000} == {i for i in range(60) if i % 3} | {1000}
    m = ORMap("a", ORSet)
    for i in range(30):
        m.update(i, lambda s: s.add("v"))
    n = m.fork("n")
    m.merge(n.update(99, lambda s: s.add("w")))
    m.merge(n.remove(5))
    m.update(7, lambda s: s.add("z"))
    n.merge(m.copy())
    m.merge(n.remove(7))
    assert 5 not in m and 7 not in m and m.get(99) == {"w"} and len(m) == 29


# -- the causal LWW register: causality, then HLC, then replica id ---------------------------
def test_causal_lww_concurrent_writes_resolve_by_hlc_then_replica() -> None:
    a = CausalLWWRegister("a", HybridLogicalClock("a", FakeTime(1000)))
    b = a.fork("b", HybridLogicalClock("b", FakeTime(900)))
    c = a.fork("c", HybridLogicalClock("c", FakeTime(1000)))
    deltas = [a.set("a"), b.set("b"), c.set("c")]
    for replica in (a, b, c):
        for d in deltas:
            replica.merge(d)
        # Same physical ms and counter for a and c: the larger replica id wins.
        assert replica.value == "c"
        assert replica.timestamp == HLCTimestamp(1000, 0, "c")
        assert len(replica.dots()) == 3  # concurrent writes are all kept until one sees them
    b.merge(b.set("after all"))
    a.merge(b)
    # b's clock is behind, but its write saw the others: causality first.
    assert a.value == "after all" and len(a.dots()) == 1


def test_causal_lww_in_a_map_delete_keeps_only_concurrent_writes() -> None:
    a = ORMap("a", CausalLWWRegister, HybridLogicalClock("a", FakeTime(5000)))
    a.update("k", lambda r: r.set("old"))
    b = a.fork("b")
    assert b.clock is not None and b.clock.node == "b"
    d_del = a.remove("k")  # DEL observed "old"
    d_set = b.update("k", lambda r: r.set("new"))
    a.merge(d_set)
    b.merge(d_del)
    assert a.value == b.value == {"k": "new"}
    later = a.update("k", lambda r: r.set("newest"))
    assert a.clock is not None and a.clock.last.physical == 5000  # the map's clock stamped it
    b.merge(later)
    assert a.get("k") == b.get("k") == "newest"


def test_ormap_nesting_limit_is_the_same_for_building_and_decoding() -> None:
    kind = ORMap.of(ORSet)
    for _ in range(7):
        kind = ORMap.of(kind)
    deepest = ORMap("a", kind)  # eight maps inside the outer one
    assert ORMap.decode(deepest.encode()) == deepest
    with pytest.raises(CRDTError, match="nest"):
        ORMap("a", ORMap.of(kind))
