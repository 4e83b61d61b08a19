"""Shared helpers for the checker's tests: a terse history notation and an oracle.

`h(rows)` builds events from (process, type, f, key, value) rows; event i happens at
time i. `brute_force_linearizable` is an independent, obviously-correct (exponential)
checker used as the oracle for small histories.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from senate.check import Event, events_from_dicts
from senate.check.history import Operation, pair_operations

Row = tuple[int, str, str, str, Any]


def h(*rows: Row) -> list[Event]:
    return events_from_dicts(
        {"process": p, "type": t, "f": f, "key": k, "value": v, "time": float(i)}
        for i, (p, t, f, k, v) in enumerate(rows)
    )


def op(
    process: int, f: str, key: str, value: Any, result: Any = None, outcome: str = "ok"
) -> list[Row]:
    """A whole operation with no overlap: invoke then completion."""
    done = result if f == "read" else value
    return [
        (process, "invoke", f, key, None if f == "read" else value),
        (process, outcome, f, key, done),
    ]


def seq(*ops: list[Row]) -> list[Event]:
    """Operations one after another (no overlap)."""
    return h(*[row for rows in ops for row in rows])


def brute_force_linearizable(events: Sequence[Event]) -> bool:
    """Try every subset of uncertain ops and every order. Only for a handful of ops."""
    operations = [
        o
        for o in pair_operations(events)
        if o.outcome != "fail" and not (o.f == "read" and o.outcome != "ok")
    ]
    return all(
        _key_ok([o for o in operations if o.key == key]) for key in {o.key for o in operations}
    )


def _key_ok(ops: list[Operation]) -> bool:
    definite = [o for o in ops if o.outcome == "ok"]
    uncertain = [o for o in ops if o.outcome != "ok"]
    for size in range(len(uncertain) + 1):
        for chosen in itertools.combinations(uncertain, size):
            for order in itertools.permutations(definite + list(chosen)):
                if _respects_real_time(order) and _legal(order):
                    return True
    return False


def _respects_real_time(order: Sequence[Operation]) -> bool:
    for i, first in enumerate(order):
        for later in order[i + 1 :]:
            # `later` may not have finished before `first` began.
            if later.ret is not None and later.outcome == "ok" and later.ret < first.call:
                return False
    return True


def _legal(order: Sequence[Operation]) -> bool:
    state: Any = None
    for o in order:
        if o.f == "read":
            if not _eq(o.result, state):
                return False
        elif o.f == "write":
            state = o.value
        elif o.f == "delete":
            state = None
        else:
            if not _eq(state, o.value[0]):
                return False
            state = o.value[1]
    return True


def _eq(a: Any, b: Any) -> bool:
    # JSON equality, written independently of the checker: true is not 1.
    return (isinstance(a, bool), a) == (isinstance(b, bool), b)
