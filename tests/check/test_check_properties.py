"""Property tests: the checker against histories whose verdict is known by construction.

- Histories of a simulated atomic register, with any overlap and uncertain outcomes,
  are linearizable.
- In a sequential history, changing what one read returned makes it not linearizable,
  and the report points at that read.
- On small random (often corrupted) histories the checker agrees with a brute-force
  oracle, and every reported window is itself not linearizable.
"""

from __future__ import annotations

import dataclasses
import random

from check_helpers import brute_force_linearizable
from hypothesis import given, settings
from hypothesis import strategies as st

from senate.check import Verdict, check_events
from senate.check.generate import register_history


@settings(max_examples=150, deadline=None)
@given(
    rng=st.randoms(use_true_random=False),
    ops=st.integers(1, 120),
    processes=st.integers(1, 8),
    keys=st.integers(1, 3),
    info_rate=st.sampled_from([0.0, 0.05, 0.3]),
    fail_rate=st.sampled_from([0.0, 0.1]),
)
def test_atomic_register_histories_are_linearizable(
    rng: random.Random, ops: int, processes: int, keys: int, info_rate: float, fail_rate: float
) -> None:
    events = register_history(
        rng, ops=ops, processes=processes, keys=keys, info_rate=info_rate, fail_rate=fail_rate
    )
    result = check_events(events)
    assert result.verdict is Verdict.LINEARIZABLE, result.message


@settings(max_examples=150, deadline=None)
@given(
    rng=st.randoms(use_true_random=False),
    ops=st.integers(2, 80),
    keys=st.integers(1, 3),
    pick=st.integers(0, 10**6),
    wrong=st.sampled_from(["absent", "other", "fresh"]),
)
def test_corrupting_a_read_in_a_sequential_history_is_caught(
    rng: random.Random, ops: int, keys: int, pick: int, wrong: str
) -> None:
    events = register_history(rng, ops=ops, processes=3, keys=keys, sequential=True)
    reads = [i for i, e in enumerate(events) if e.type == "ok" and e.f == "read"]
    if not reads:
        return
    index = reads[pick % len(reads)]
    read = events[index]
    values = {e.value for e in events if e.f == "write"} - {read.value}
    bad_value = {
        "absent": None,
        "other": min(values, key=repr) if values else None,
        "fresh": 10**9,
    }[wrong]
    if bad_value == read.value:
        bad_value = 10**9
    corrupted = list(events)
    corrupted[index] = dataclasses.replace(read, value=bad_value)

    result = check_events(corrupted)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.key == read.key
    assert corrupted[index] in result.window  # the report shows the corrupted read
    assert check_events(result.window).verdict is Verdict.NOT_LINEARIZABLE


@settings(max_examples=300, deadline=None)
@given(
    rng=st.randoms(use_true_random=False),
    ops=st.integers(1, 6),
    processes=st.integers(1, 4),
    mutations=st.lists(
        st.tuples(st.integers(0, 100), st.sampled_from(["value", "type"]), st.integers(0, 4)),
        max_size=2,
    ),
)
def test_agrees_with_brute_force_on_small_histories(
    rng: random.Random,
    ops: int,
    processes: int,
    mutations: list[tuple[int, str, int]],
) -> None:
    events = register_history(
        rng, ops=ops, processes=processes, keys=1, info_rate=0.3, fail_rate=0.1
    )
    for where, what, choice in mutations:
        index = where % len(events)
        event = events[index]
        if event.type == "invoke":
            continue
        if what == "value" and event.f == "read" and event.type == "ok":
            events[index] = dataclasses.replace(event, value=[None, 1, 2, 3, 4][choice])
        elif what == "type" and event.f != "read":
            events[index] = dataclasses.replace(event, type=["ok", "info", "fail"][choice % 3])

    expected = brute_force_linearizable(events)
    result = check_events(events)
    assert result.verdict is (Verdict.LINEARIZABLE if expected else Verdict.NOT_LINEARIZABLE)
    if not expected:
        assert check_events(result.window).verdict is Verdict.NOT_LINEARIZABLE
        assert len(result.window) <= len(events)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_window_of_a_stale_read_in_a_busy_history_is_small(seed: int) -> None:
    rng = random.Random(seed)
    events = register_history(rng, ops=2000, processes=8, keys=2, info_rate=0.05)
    late = [i for i, e in enumerate(events) if e.f == "read" and e.type == "ok" and i > 3000]
    index = rng.choice(late)
    read = events[index]
    early = [
        e.value for e in events[:500] if e.f == "write" and e.type == "ok" and e.key == read.key
    ]
    corrupted = list(events)
    corrupted[index] = dataclasses.replace(read, value=early[-1])

    result = check_events(corrupted)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert 2 <= len(result.window) <= 30, len(result.window)
    assert check_events(result.window).verdict is Verdict.NOT_LINEARIZABLE


def test_generator_is_deterministic_per_seed() -> None:
    def make(seed: int) -> list[str]:
        history = register_history(random.Random(seed), ops=200, processes=4, info_rate=0.1)
        return [e.to_json() for e in history]

    assert make(5) == make(5)
    assert make(5) != make(6)
