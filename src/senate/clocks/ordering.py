"""How two causal histories relate, and the one comparison every clock here uses.

Rules kept in this file:
- a history is a map replica -> counter; a missing replica means counter 0;
- `compare_counts` is the only place that decides BEFORE / AFTER / EQUAL / CONCURRENT,
  so vector clocks and version vectors can never disagree about it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Ordering(enum.Enum):
    """The causal relation of `a` to `b` in `a.compare(b)`."""

    BEFORE = "before"  # a happened before b: every counter <=, at least one <
    AFTER = "after"  # b happened before a
    EQUAL = "equal"
    CONCURRENT = "concurrent"  # each has seen something the other has not


def compare_counts(a: Mapping[str, int], b: Mapping[str, int]) -> Ordering:
    """Compare two replica -> counter maps (absent entries count as 0)."""
    a_ahead = False
    b_ahead = False
    for key in a.keys() | b.keys():
        x = a.get(key, 0)
        y = b.get(key, 0)
        if x > y:
            a_ahead = True
        elif y > x:
            b_ahead = True
        if a_ahead and b_ahead:
            return Ordering.CONCURRENT
    if a_ahead:
        return Ordering.AFTER
    if b_ahead:
        return Ordering.BEFORE
    return Ordering.EQUAL
