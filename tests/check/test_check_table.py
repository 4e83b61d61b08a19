"""A table of hand-written histories with known verdicts (issue 2, done-means 4).

Each bad history also checks what a person reads: the key, the op that could not be
placed, and a window that on its own is still not linearizable.
"""

from __future__ import annotations

import pytest
from check_helpers import brute_force_linearizable, h, op, seq

from senate.check import Event, Verdict, check_events

W, R, C, D = "write", "read", "cas", "delete"

GOOD: dict[str, list[Event]] = {
    "empty history": [],
    "write then read it": seq(op(0, W, "x", 1), op(1, R, "x", None, 1)),
    "fresh key reads absent": seq(op(0, R, "x", None, None)),
    "concurrent writes, read sees the one invoked first": h(
        (0, "invoke", W, "x", 1),
        (1, "invoke", W, "x", 2),
        (0, "ok", W, "x", 1),
        (1, "ok", W, "x", 2),
        (2, "invoke", R, "x", None),
        (2, "ok", R, "x", 1),
    ),
    "concurrent writes, read sees the one invoked last": h(
        (0, "invoke", W, "x", 1),
        (1, "invoke", W, "x", 2),
        (0, "ok", W, "x", 1),
        (1, "ok", W, "x", 2),
        (2, "invoke", R, "x", None),
        (2, "ok", R, "x", 2),
    ),
    "read concurrent with a write sees the old value": h(
        (0, "invoke", W, "x", 1),
        (0, "ok", W, "x", 1),
        (0, "invoke", W, "x", 2),
        (1, "invoke", R, "x", None),
        (1, "ok", R, "x", 1),
        (0, "ok", W, "x", 2),
    ),
    "read concurrent with a write sees the new value": h(
        (0, "invoke", W, "x", 1),
        (1, "invoke", R, "x", None),
        (1, "ok", R, "x", 1),
        (0, "ok", W, "x", 1),
    ),
    "cas succeeds on the current value": seq(
        op(0, W, "x", 1), op(1, C, "x", [1, 2]), op(2, R, "x", None, 2)
    ),
    "failed cas leaves the value": seq(
        op(0, W, "x", 1), op(1, C, "x", [3, 4], outcome="fail"), op(2, R, "x", None, 1)
    ),
    "concurrent cas from one value: one wins, one fails": h(
        (0, "invoke", W, "x", 1),
        (0, "ok", W, "x", 1),
        (1, "invoke", C, "x", [1, 2]),
        (2, "invoke", C, "x", [1, 3]),
        (1, "ok", C, "x", [1, 2]),
        (2, "fail", C, "x", [1, 3]),
        (3, "invoke", R, "x", None),
        (3, "ok", R, "x", 2),
    ),
    "info write that happened": seq(op(0, W, "x", 1, outcome="info"), op(1, R, "x", None, 1)),
    "info write that did not happen": seq(
        op(0, W, "x", 1, outcome="info"), op(1, R, "x", None, None)
    ),
    "info write observed much later, after reads of the old value": seq(
        op(0, W, "x", 1),
        op(1, W, "x", 9, outcome="info"),
        *[op(2, R, "x", None, 1) for _ in range(20)],
        op(1, R, "x", None, 9),
        op(2, R, "x", None, 9),
    ),
    "info cas that took effect": seq(
        op(0, W, "x", 1), op(1, C, "x", [1, 2], outcome="info"), op(2, R, "x", None, 2)
    ),
    "invoke never completed may take effect": h(
        (0, "invoke", W, "x", 5), (1, "invoke", R, "x", None), (1, "ok", R, "x", 5)
    ),
    "delete makes the key absent": seq(
        op(0, W, "x", 1), op(1, D, "x", None), op(2, R, "x", None, None)
    ),
    "info delete explains one absent read": seq(
        op(0, W, "x", 1), op(1, D, "x", None, outcome="info"), op(2, R, "x", None, None)
    ),
    "keys are independent": seq(
        op(0, W, "x", 1), op(1, W, "y", 2), op(2, R, "x", None, 1), op(3, R, "y", None, 2)
    ),
    "JSON numbers: 1.0 is 1": seq(op(0, W, "x", 1.0), op(1, R, "x", None, 1)),
    "cas from absent": seq(op(0, C, "x", [None, 1]), op(1, R, "x", None, 1)),
}

BAD: dict[str, tuple[list[Event], str]] = {
    # name: (history, text the message must contain)
    "stale read after a write completes": (
        seq(op(0, W, "x", 1), op(0, W, "x", 2), op(1, R, "x", None, 1)),
        "read x -> 1",
    ),
    "read of a never-written value": (seq(op(0, W, "x", 1), op(1, R, "x", None, 7)), "-> 7"),
    "lost write: acknowledged, then absent": (
        seq(op(0, W, "x", 1), op(1, R, "x", None, None)),
        "read x -> absent",
    ),
    "cas succeeded on a value that was not there": (
        seq(op(0, W, "x", 1), op(1, C, "x", [2, 3])),
        "cas x 2->3",
    ),
    "a failed cas took effect": (
        seq(op(0, W, "x", 1), op(1, C, "x", [1, 2], outcome="fail"), op(2, R, "x", None, 2)),
        "-> 2",
    ),
    "a failed write took effect": (
        seq(op(0, W, "x", 1, outcome="fail"), op(1, R, "x", None, 1)),
        "-> 1",
    ),
    "info write seen, then unseen": (
        seq(op(0, W, "x", 1, outcome="info"), op(1, R, "x", None, 1), op(1, R, "x", None, None)),
        "absent",
    ),
    "read after delete sees the old value": (
        seq(op(0, W, "x", 1), op(1, D, "x", None), op(2, R, "x", None, 1)),
        "register held absent",
    ),
    "one info delete cannot explain two absent reads": (
        seq(
            op(0, W, "x", 1),
            op(1, D, "x", None, outcome="info"),
            op(2, R, "x", None, None),
            op(0, W, "x", 2),
            op(2, R, "x", None, None),
        ),
        "absent",
    ),
    "keys are independent: x's write is not y's": (
        seq(op(0, W, "x", 1), op(1, R, "y", None, 1)),
        "key 'y'",
    ),
    "reads go back in time": (
        h(
            (0, "invoke", W, "x", 1),
            (1, "invoke", W, "x", 2),
            (0, "ok", W, "x", 1),
            (1, "ok", W, "x", 2),
            (2, "invoke", R, "x", None),
            (2, "ok", R, "x", 2),
            (2, "invoke", R, "x", None),
            (2, "ok", R, "x", 1),
        ),
        "-> 1",
    ),
    "two cas from one value both succeed": (
        h(
            (0, "invoke", W, "x", 1),
            (0, "ok", W, "x", 1),
            (1, "invoke", C, "x", [1, 2]),
            (2, "invoke", C, "x", [1, 3]),
            (1, "ok", C, "x", [1, 2]),
            (2, "ok", C, "x", [1, 3]),
        ),
        "cas x 1->",
    ),
    "JSON types: true is not 1": (seq(op(0, W, "x", True), op(1, R, "x", None, 1)), "held true"),
    "read from the future": (
        seq(op(1, R, "x", None, 1), op(0, W, "x", 1)),
        "read x -> 1",
    ),
    "write lost among concurrent reads": (
        h(
            (0, "invoke", W, "x", 1),
            (0, "ok", W, "x", 1),
            (1, "invoke", R, "x", None),
            (2, "invoke", R, "x", None),
            (1, "ok", R, "x", 1),
            (2, "ok", R, "x", 1),
            (0, "invoke", W, "x", 2),
            (0, "ok", W, "x", 2),
            (1, "invoke", R, "x", None),
            (1, "ok", R, "x", 1),
        ),
        "held 2",
    ),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_history_is_linearizable(name: str) -> None:
    events = GOOD[name]
    if len(events) <= 16:  # the oracle is exponential
        assert brute_force_linearizable(events)  # the table itself is right
    result = check_events(events)
    assert result.verdict is Verdict.LINEARIZABLE, result.message
    assert result.window == []


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_history_is_caught_with_a_witness_window(name: str) -> None:
    events, expected_text = BAD[name]
    if len(events) <= 16:  # the oracle is exponential
        assert not brute_force_linearizable(events)  # the table itself is right
    result = check_events(events)
    assert result.verdict is Verdict.NOT_LINEARIZABLE, result.message
    assert expected_text in result.message
    assert result.key is not None and repr(result.key) in result.message
    assert result.window, "a violation shows its window"
    assert all(event.key == result.key for event in result.window)
    # The window alone is a witness: it is not linearizable either.
    assert check_events(result.window).verdict is Verdict.NOT_LINEARIZABLE


def test_tables_are_big_enough() -> None:
    assert len(GOOD) >= 12 and len(BAD) >= 12


def test_stale_read_window_is_minimal() -> None:
    events, _ = BAD["stale read after a write completes"]
    result = check_events(events)
    # The first write is irrelevant: the second write and the read show it.
    assert [(e.type, e.f, e.value) for e in result.window] == [
        ("invoke", "write", 2),
        ("ok", "write", 2),
        ("invoke", "read", None),
        ("ok", "read", 1),
    ]
    assert "held 2" in result.message


def test_window_is_small_inside_a_long_history() -> None:
    good = [op(p % 3, W, "x", i) + op(p % 3, R, "x", None, i) for p, i in enumerate(range(1, 200))]
    rows = [row for pair in good for row in pair]
    rows += op(0, W, "x", 500) + op(1, R, "x", None, 42)  # stale: 42 was overwritten long ago
    result = check_events(h(*rows))
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert len(result.window) <= 4, result.window


def test_budget_exhausted_answers_unknown() -> None:
    events, _ = BAD["reads go back in time"]
    result = check_events(events, max_steps=2)
    assert result.verdict is Verdict.UNKNOWN
    assert "max_steps=2" in result.message
    assert result.steps == 2


def test_max_steps_must_be_positive() -> None:
    with pytest.raises(ValueError):
        check_events([], max_steps=0)
