"""Shared checks for clock inputs: ids and counters that arrive from outside.

Rules kept in this file: replica/node ids are non-empty str of at most
MAX_ID_LENGTH code points; counters are real ints (bool is refused) in a stated range.
"""

from __future__ import annotations

from typing import TypeGuard

from senate.errors import ClockError

MAX_ID_LENGTH = 256
# Counters are carried in msgpack uint64; refuse anything wider so encodings never fail.
MAX_COUNTER = 2**64 - 1


def is_int(value: object) -> TypeGuard[int]:
    """True for a real int; bool is an int subclass but never a counter."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_id(value: object, what: str = "replica id") -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ClockError(
            f"{what} must be a non-empty string of at most {MAX_ID_LENGTH} characters, "
            f"got {value!r:.80}"
        )
    return value


def check_counter(value: object, what: str = "counter", minimum: int = 0) -> int:
    if not is_int(value) or value < minimum or value > MAX_COUNTER:
        raise ClockError(f"{what} must be an integer in [{minimum}, 2**64-1], got {value!r:.80}")
    return value
