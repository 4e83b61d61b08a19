"""Hybrid logical clock laws (hypothesis): monotonic, never behind physical time,
drift refusal, overflow, and the packed encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.clocks import MAX_LOGICAL, MAX_PHYSICAL, HLCTimestamp, HybridLogicalClock
from senate.errors import ClockError, DecodeError

FAST = settings(max_examples=60, deadline=None)


class FakeTime:
    """An injected physical clock the test moves by hand (it may go backwards)."""

    def __init__(self, ms: int = 0) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


# Each step: which node acts, a physical clock jump for it (may be negative), and an action.
actions = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(-30, 60),
        st.sampled_from(["local", "send", "recv"]),
        st.integers(0, 2),
    ),
    max_size=60,
)


@FAST
@given(actions)
def test_hlc_monotonic_and_never_behind_physical(run: list[tuple[int, int, str, int]]) -> None:
    times = [FakeTime(1000) for _ in range(3)]
    clocks = [HybridLogicalClock(f"n{i}", times[i], max_drift_ms=10_000) for i in range(3)]
    inbox: list[list[HLCTimestamp]] = [[] for _ in range(3)]
    sent: list[HLCTimestamp] = []
    for node, jump, action, peer in run:
        times[node].ms = max(0, times[node].ms + jump)
        before = clocks[node].last
        if action == "recv" and inbox[node]:
            remote = inbox[node].pop(0)
            stamp = clocks[node].receive(remote)
            # Receive is after the send it answers (the causality law of any logical clock).
            assert (stamp.physical, stamp.logical) > (remote.physical, remote.logical)
        else:
            stamp = clocks[node].now()
            if action == "send":
                inbox[peer].append(stamp)
                sent.append(stamp)
        assert (stamp.physical, stamp.logical) > (before.physical, before.logical)
        assert stamp.physical >= times[node].ms
        assert stamp == clocks[node].last
        assert stamp.node == f"n{node}"


def test_hlc_same_ms_counts_logically_then_resets() -> None:
    t = FakeTime(5)
    clock = HybridLogicalClock("a", t)
    assert clock.now() == HLCTimestamp(5, 0, "a")
    assert clock.now() == HLCTimestamp(5, 1, "a")
    t.ms = 4  # physical clock went backwards: HLC holds its ground
    assert clock.now() == HLCTimestamp(5, 2, "a")
    t.ms = 9
    assert clock.now() == HLCTimestamp(9, 0, "a")


def test_hlc_receive_takes_remote_physical_within_drift() -> None:
    t = FakeTime(1000)
    clock = HybridLogicalClock("a", t, max_drift_ms=100)
    got = clock.receive(HLCTimestamp(1100, 7, "b"))
    assert got == HLCTimestamp(1100, 8, "a")


@FAST
@given(st.integers(1, 10_000), st.integers(0, 500))
def test_hlc_refuses_excess_drift_and_stays_unchanged(ahead: int, drift: int) -> None:
    t = FakeTime(50_000)
    clock = HybridLogicalClock("a", t, max_drift_ms=drift)
    clock.now()
    before = clock.last
    remote = HLCTimestamp(50_000 + drift + ahead, 0, "b")
    with pytest.raises(ClockError, match="max drift"):
        clock.receive(remote)
    assert clock.last == before
    # Exactly at the bound is accepted.
    assert clock.receive(HLCTimestamp(50_000 + drift, 0, "b")).physical == 50_000 + drift


def test_hlc_logical_overflow_borrows_a_millisecond_within_drift() -> None:
    t = FakeTime(10)
    clock = HybridLogicalClock("a", t, max_drift_ms=5, last=HLCTimestamp(10, MAX_LOGICAL, "a"))
    assert clock.now() == HLCTimestamp(11, 0, "a")
    got = clock.receive(HLCTimestamp(11, MAX_LOGICAL, "b"))
    assert got == HLCTimestamp(12, 0, "a")


def test_hlc_logical_overflow_beyond_drift_is_refused() -> None:
    t = FakeTime(10)
    clock = HybridLogicalClock("a", t, max_drift_ms=0, last=HLCTimestamp(10, MAX_LOGICAL, "a"))
    with pytest.raises(ClockError, match="overflow"):
        clock.now()
    assert clock.last == HLCTimestamp(10, MAX_LOGICAL, "a")


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None, MAX_PHYSICAL + 1, True])
def test_hlc_refuses_bad_physical_clock(bad: object) -> None:
    clock = HybridLogicalClock("a", lambda: bad)  # type: ignore[arg-type, return-value]
    with pytest.raises(ClockError, match="physical clock"):
        clock.now()


def test_hlc_timestamps_are_totally_ordered_by_node_last() -> None:
    assert HLCTimestamp(1, 0, "z") < HLCTimestamp(1, 1, "a") < HLCTimestamp(2, 0, "a")
    assert HLCTimestamp(1, 1, "a") < HLCTimestamp(1, 1, "b")


timestamps = st.builds(
    HLCTimestamp,
    st.integers(0, MAX_PHYSICAL),
    st.integers(0, MAX_LOGICAL),
    st.text(min_size=1, max_size=20),
)


@FAST
@given(timestamps)
def test_hlc_encode_round_trips(ts: HLCTimestamp) -> None:
    assert HLCTimestamp.decode(ts.encode()) == ts
    assert HLCTimestamp.unpack(ts.pack(), ts.node) == ts
    assert ts.pack() < 2**64


@FAST
@given(timestamps, timestamps)
def test_hlc_pack_preserves_order(a: HLCTimestamp, b: HLCTimestamp) -> None:
    if (a.physical, a.logical) < (b.physical, b.logical):
        assert a.pack() < b.pack()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_hlc_decode_garbage_raises_decode_error_only(data: bytes) -> None:
    try:
        ts = HLCTimestamp.decode(data)
    except DecodeError as exc:
        assert str(exc)
    else:
        assert ts.encode() == data


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x00" * 8, b"\x00" * 8 + b"\xff\xfe", b"\x00" * 8 + b"a" * 300, "text", None, 12],
)
def test_hlc_decode_refuses_known_garbage(bad: object) -> None:
    with pytest.raises(DecodeError):
        HLCTimestamp.decode(bad)


def test_hlc_timestamp_refuses_out_of_range_parts() -> None:
    with pytest.raises(ClockError):
        HLCTimestamp(MAX_PHYSICAL + 1, 0, "a")
    with pytest.raises(ClockError):
        HLCTimestamp(0, MAX_LOGICAL + 1, "a")
    with pytest.raises(ClockError):
        HLCTimestamp(0, 0, "")
