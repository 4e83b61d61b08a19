"""Durations in JSON bodies: a number of seconds, checked before any arithmetic.

Python's json module reads NaN, Infinity and integers of any size, so a duration
must be refused as bad input (400) unless it is a finite number in range; doing
arithmetic on it first would raise ValueError/OverflowError (a 500).
"""

from __future__ import annotations

import math

from senate.errors import MalformedInput


def seconds(value: object, what: str, low: float, high: float) -> float:
    """`value` as seconds in [low, high], or MalformedInput naming `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedInput(f"{what} must be a number of seconds")
    if isinstance(value, int) and abs(value) > 1 << 53:
        raise MalformedInput(f"{what} must be {low:g}..{high:g} seconds")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise MalformedInput(f"{what} must be {low:g}..{high:g} seconds")
    return number


def milliseconds(value: object, what: str, high_ms: int) -> int:
    """`value` seconds as whole milliseconds in 1..high_ms."""
    ms = round(seconds(value, what, 0.0, high_ms / 1000) * 1000)
    if not 1 <= ms <= high_ms:
        raise MalformedInput(f"{what} must be 0.001..{high_ms / 1000:g} seconds")
    return ms
