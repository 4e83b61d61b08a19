"""Is a history of key-value operations linearizable? The checker's entry point.

Rules this file keeps:
- A key-value store is linearizable iff each key is (linearizability is local, Herlihy &
  Wing), so the history is partitioned per key and each key searched on its own
  (search.py), smallest keys first so that a cheap violation is found before an
  expensive key eats the budget.
- `max_steps` bounds the total search work over all keys; when it runs out the verdict
  is UNKNOWN, never a guess. Window minimization has its own, separate bound.
- On a violation the result names the key, the operation that could not be placed, the
  values the register could hold at that point, and a small window of events that by
  itself is not linearizable (window.py).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from senate.check.history import Event, pair_operations
from senate.check.model import KeyOp, ValueTable, to_key_ops
from senate.check.search import SearchOutcome, search
from senate.check.window import minimal_window

# Enough for the 10,000-operation benchmark, even its 1-key stress variant (proving that
# one wrong takes 25M steps, ~9 s of CPU here); finite so that nothing hangs.
DEFAULT_MAX_STEPS = 50_000_000
# Shrinking a violation's window is best effort, bounded separately.
WINDOW_MAX_STEPS = 2_000_000


class Verdict(enum.Enum):
    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not linearizable"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class CheckResult:
    """The verdict, a readable message, and for a violation its key and event window.

    `window` holds whole operations (invoke and completion events, in history order)
    that by themselves are not linearizable. `steps` counts the search steps spent on
    the verdict; shrinking the window has its own budget and is not counted.
    """

    verdict: Verdict
    message: str
    key: str | None = None
    window: list[Event] = field(default_factory=list)
    steps: int = 0


def check_events(events: Sequence[Event], *, max_steps: int = DEFAULT_MAX_STEPS) -> CheckResult:
    """Check `events` (real-time order) against the key-value register model.

    Raises MalformedInput if the events do not pair up (see history.pair_operations).
    """
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    operations = pair_operations(events)
    values = ValueTable()
    per_key = to_key_ops(operations, values)
    keys = sorted(per_key, key=lambda k: len(per_key[k]))  # stable: ties keep first use
    steps = 0
    for key in keys:
        ops = per_key[key]
        outcome = search(ops, max_steps=max_steps - steps)
        steps += outcome.steps
        if outcome.linearizable is None:
            return CheckResult(
                Verdict.UNKNOWN,
                f"gave up after {steps} search steps (max_steps={max_steps}) on key "
                f"{key!r} ({len(ops)} operations); raise --max-steps to search further",
                key=key,
                steps=steps,
            )
        if not outcome.linearizable:
            return _violation(key, ops, outcome, values, steps, events)
    return CheckResult(
        Verdict.LINEARIZABLE,
        f"{_count(len(operations), 'operation')} on {_count(len(per_key), 'key')} "
        f"{'is' if len(operations) == 1 else 'are'} linearizable ({steps} search steps)",
        steps=steps,
    )


def _violation(
    key: str,
    ops: list[KeyOp],
    outcome: SearchOutcome,
    values: ValueTable,
    steps: int,
    events: Sequence[Event],
) -> CheckResult:
    assert outcome.stuck is not None
    stuck = ops[outcome.stuck]
    window_ops = minimal_window(ops, stuck, max_steps=WINDOW_MAX_STEPS)
    indexes = sorted(
        index for op in window_ops for index in (op.op.call, op.op.ret) if index is not None
    )
    held = sorted(values.show(state) for state in outcome.stuck_states)
    if len(held) == 1:
        context = f"the register held {held[0]} when it had to take effect"
    else:
        context = f"the register could hold only {', '.join(held)} when it had to take effect"
    optional = sum(1 for op in window_ops if op.optional)
    message = (
        f"key {key!r} is not linearizable: {stuck.op.describe()} cannot be placed; "
        f"{context}. A window of {_count(len(window_ops), 'operation')} shows it"
        + (f", even without assuming that {optional} of them took effect." if optional else ".")
    )
    return CheckResult(
        Verdict.NOT_LINEARIZABLE,
        message,
        key=key,
        window=[events[i] for i in indexes],
        steps=steps,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
