"""Dots, version vectors and causal contexts: laws and compaction (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.clocks import Dot, DotContext, Ordering, VersionVector
from senate.errors import ClockError

FAST = settings(max_examples=60, deadline=None)
REPLICAS = st.sampled_from(["a", "b", "c"])
dots = st.builds(Dot, REPLICAS, st.integers(1, 8))
dot_sets = st.frozensets(dots, max_size=14)
vvs = st.dictionaries(REPLICAS, st.integers(0, 6)).map(VersionVector)


def ctx_of(ds: frozenset[Dot]) -> DotContext:
    return DotContext.of(ds)


# -- version vectors -------------------------------------------------------------------
def merged(a: VersionVector, b: VersionVector) -> VersionVector:
    m = a.copy()
    m.merge(b)
    return m


@FAST
@given(vvs, vvs, vvs)
def test_vv_merge_is_a_semilattice(a: VersionVector, b: VersionVector, c: VersionVector) -> None:
    assert merged(a, b) == merged(b, a)
    assert merged(merged(a, b), c) == merged(a, merged(b, c))
    assert merged(a, a) == a


@FAST
@given(vvs, vvs)
def test_vv_compare_consistent_with_merge(a: VersionVector, b: VersionVector) -> None:
    order = a.compare(b)
    back = b.compare(a)
    assert {order, back} in (
        {Ordering.BEFORE, Ordering.AFTER},
        {Ordering.EQUAL},
        {Ordering.CONCURRENT},
    )
    assert a.dominates(b) == (merged(a, b) == a)
    assert (order is Ordering.EQUAL) == (a == b)


@FAST
@given(vvs, dots)
def test_vv_contains_and_next_dot(a: VersionVector, dot: Dot) -> None:
    assert a.contains(dot) == (dot.counter <= a.get(dot.replica))
    before = a.copy()
    nxt = a.next_dot(dot.replica)
    assert nxt == Dot(dot.replica, before.get(dot.replica) + 1)
    assert a.contains(nxt) and not before.contains(nxt)
    assert before.compare(a) is Ordering.BEFORE


# -- causal contexts ----------------------------------------------------------------------
@FAST
@given(dot_sets)
def test_ctx_holds_exactly_its_dots_and_is_compact(ds: frozenset[Dot]) -> None:
    ctx = ctx_of(ds)
    assert set(ctx.dots()) == set(ds)
    vv = ctx.vv
    for dot in ctx.cloud:
        assert dot.counter > vv.get(dot.replica) + 1  # never foldable, never covered
    # Adding one dot at a time, in any order, gives the same canonical context.
    one_by_one = DotContext()
    for dot in sorted(ds, reverse=True):
        one_by_one.add(dot)
    assert one_by_one == ctx and one_by_one.to_plain() == ctx.to_plain()


@FAST
@given(dot_sets, dot_sets, dot_sets)
def test_ctx_merge_is_union(a: frozenset[Dot], b: frozenset[Dot], c: frozenset[Dot]) -> None:
    def m(x: DotContext, y: DotContext) -> DotContext:
        z = x.copy()
        z.merge(y)
        return z

    ca, cb, cc = ctx_of(a), ctx_of(b), ctx_of(c)
    assert m(ca, cb) == m(cb, ca) == ctx_of(a | b)
    assert m(m(ca, cb), cc) == m(ca, m(cb, cc))
    assert m(ca, ca) == ca
    for dot in a | b:
        assert dot in m(ca, cb)


@FAST
@given(dot_sets, REPLICAS)
def test_ctx_next_dot_is_fresh(ds: frozenset[Dot], replica: str) -> None:
    ctx = ctx_of(ds)
    dot = ctx.next_dot(replica)
    assert dot not in ds and dot in ctx and dot.replica == replica


@FAST
@given(dot_sets)
def test_ctx_plain_round_trip(ds: frozenset[Dot]) -> None:
    ctx = ctx_of(ds)
    vv, cloud = ctx.to_plain()
    assert DotContext.from_plain(vv, cloud) == ctx
    lists = ([list(p) for p in vv], [list(p) for p in cloud])
    assert DotContext.from_plain(*lists) == ctx


@pytest.mark.parametrize(
    ("vv", "cloud"),
    [
        ([["a", 0]], []),  # a vector entry of 0 is not canonical
        ([["a", 1], ["a", 2]], []),
        ([], [["a", 0]]),
        ([], [["", 1]]),
        ([], [["a"]]),
        ("x", []),
        ([], None),
        ([[1, 1]], []),
        ([["a", True]], []),
    ],
)
def test_ctx_from_plain_refuses_garbage(vv: object, cloud: object) -> None:
    with pytest.raises(ClockError):
        DotContext.from_plain(vv, cloud)


def test_dot_refuses_bad_parts() -> None:
    with pytest.raises(ClockError):
        Dot("a", 0)
    with pytest.raises(ClockError):
        Dot("", 1)


def test_ctx_compaction_example() -> None:
    ctx = DotContext.of([Dot("a", 1), Dot("a", 3), Dot("b", 2)])
    assert ctx.vv.to_dict() == {"a": 1}
    assert ctx.cloud == {Dot("a", 3), Dot("b", 2)}
    ctx.add(Dot("a", 2))
    assert ctx.vv.to_dict() == {"a": 3} and ctx.cloud == {Dot("b", 2)}
    assert ctx.next_dot("b") == Dot("b", 3)
