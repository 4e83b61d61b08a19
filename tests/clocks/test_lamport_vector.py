"""Laws of the Lamport clock and of vector clocks (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.clocks import LamportClock, Ordering, VectorClock
from senate.errors import ClockError

NODES = st.sampled_from(["a", "b", "c", "d"])
vclocks = st.dictionaries(NODES, st.integers(0, 6)).map(VectorClock)
FAST = settings(max_examples=60, deadline=None)


# -- Lamport ------------------------------------------------------------------------------
# A run of 3 processes: each step is a local event, or a message from i to j delivered at once.
steps = st.lists(
    st.tuples(st.sampled_from(["local", "msg"]), st.integers(0, 2), st.integers(0, 2)),
    max_size=40,
)


@FAST
@given(steps)
def test_lamport_clock_condition(run: list[tuple[str, int, int]]) -> None:
    """If e happened before f (tracked by vector clocks), then L(e) < L(f)."""
    clocks = [LamportClock() for _ in range(3)]
    vcs = [VectorClock() for _ in range(3)]
    events: list[tuple[VectorClock, int]] = []
    for kind, i, j in run:
        if kind == "local" or i == j:
            vcs[i] = vcs[i].increment(str(i))
            events.append((vcs[i], clocks[i].tick()))
        else:
            vcs[i] = vcs[i].increment(str(i))
            stamp = clocks[i].send()
            events.append((vcs[i], stamp))
            vcs[j] = vcs[j].merge(vcs[i]).increment(str(j))
            events.append((vcs[j], clocks[j].receive(stamp)))
    for ve, le in events:
        for vf, lf in events:
            if ve.happened_before(vf):
                assert le < lf


@FAST
@given(st.integers(0, 1000), st.integers(0, 1000))
def test_lamport_receive_moves_past_both(local: int, remote: int) -> None:
    clock = LamportClock(local)
    t = clock.receive(remote)
    assert t > local and t > remote and clock.time == t


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3", None, 2**64])
def test_lamport_refuses_bad_remote_time(bad: object) -> None:
    clock = LamportClock(4)
    with pytest.raises(ClockError):
        clock.receive(bad)  # type: ignore[arg-type]
    assert clock.time == 4


# -- vector clocks -----------------------------------------------------------------------
@FAST
@given(vclocks, vclocks, vclocks)
def test_vector_merge_is_a_semilattice(a: VectorClock, b: VectorClock, c: VectorClock) -> None:
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a


_MIRROR = {
    Ordering.BEFORE: Ordering.AFTER,
    Ordering.AFTER: Ordering.BEFORE,
    Ordering.EQUAL: Ordering.EQUAL,
    Ordering.CONCURRENT: Ordering.CONCURRENT,
}


@FAST
@given(vclocks, vclocks)
def test_vector_compare_is_antisymmetric_and_agrees_with_merge(
    a: VectorClock, b: VectorClock
) -> None:
    order = a.compare(b)
    assert b.compare(a) is _MIRROR[order]
    assert (order is Ordering.EQUAL) == (a == b)
    m = a.merge(b)
    # a dominates b exactly when merging b in changes nothing.
    assert a.dominates(b) == (m == a)
    assert b.dominates(a) == (m == b)
    assert m.dominates(a) and m.dominates(b)
    assert (order is Ordering.CONCURRENT) == (m != a and m != b)


@FAST
@given(vclocks, NODES)
def test_vector_increment_is_strictly_after(a: VectorClock, node: str) -> None:
    b = a.increment(node)
    assert a.compare(b) is Ordering.BEFORE and a.happened_before(b)
    assert b.get(node) == a.get(node) + 1


@FAST
@given(vclocks)
def test_vector_dict_round_trip(a: VectorClock) -> None:
    assert VectorClock.from_dict(a.to_dict()) == a
    assert hash(VectorClock.from_dict(a.to_dict())) == hash(a)


def test_vector_zero_entries_are_not_state() -> None:
    assert VectorClock({"a": 0, "b": 1}) == VectorClock({"b": 1})
    assert VectorClock({"a": 0}).to_dict() == {}


@pytest.mark.parametrize(
    "bad", [[1, 2], {"a": -1}, {"a": "1"}, {"": 1}, {3: 1}, {"a": True}, "a", None]
)
def test_vector_from_dict_refuses_garbage(bad: object) -> None:
    with pytest.raises(ClockError):
        VectorClock.from_dict(bad)


def test_vector_concurrent_example() -> None:
    a = VectorClock().increment("a")
    b = VectorClock().increment("b")
    assert a.compare(b) is Ordering.CONCURRENT and a.concurrent_with(b)
    assert not a.dominates(b)
