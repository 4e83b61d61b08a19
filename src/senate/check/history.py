"""The history format: what the simulator, a real cluster and any outside system record.

Rules this file keeps:
- One event per JSON line: {"process": int, "type": "invoke"|"ok"|"fail"|"info",
  "f": "read"|"write"|"cas"|"delete", "key": str, "value": ..., "time": float}.
- The ORDER of events is the real-time order (as in Jepsen and Porcupine); `time` is
  carried for people to read and is never used to reorder.
- Every event is validated when it is built (`Event.__post_init__`), and every pairing
  rule (one open operation per process, completions match their invoke) is checked by
  `pair_operations`, so the checker only ever sees well-formed operations.
- Errors are `MalformedInput` naming the first bad line (or event) and why.

Values: a cas value is `[old, new]`; a read's ok carries the value read (null = absent);
write and cas values are JSON scalars (string, number, boolean or null). Completions may
repeat the invoke's value for write and cas; if they do, it must be the same value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from senate.errors import MalformedInput

TYPES = frozenset({"invoke", "ok", "fail", "info"})
FUNCTIONS = frozenset({"read", "write", "cas", "delete"})
_FIELDS = ("process", "type", "f", "key", "value", "time")


def is_scalar(value: object) -> bool:
    """A JSON scalar: null, boolean, finite number or string."""
    if value is None or isinstance(value, (bool, str, int)):
        return True
    return isinstance(value, float) and math.isfinite(value)


def same_value(a: object, b: object) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1 and [x, y] equals (x, y)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _is_pair(value: object) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and is_scalar(value[0])
        and is_scalar(value[1])
    )


@dataclass(slots=True, frozen=True)
class Event:
    """One line of a history. Construction validates the fields (MalformedInput)."""

    process: int
    type: str
    f: str
    key: str
    value: Any
    time: float

    def __post_init__(self) -> None:
        if not isinstance(self.process, int) or isinstance(self.process, bool):
            raise MalformedInput(f"'process' must be an integer, got {self.process!r}")
        if self.type not in TYPES:
            raise MalformedInput(f"'type' must be one of {sorted(TYPES)}, got {self.type!r}")
        if self.f not in FUNCTIONS:
            raise MalformedInput(f"'f' must be one of {sorted(FUNCTIONS)}, got {self.f!r}")
        if not isinstance(self.key, str):
            raise MalformedInput(f"'key' must be a string, got {self.key!r}")
        if (
            not isinstance(self.time, (int, float))
            or isinstance(self.time, bool)
            or not math.isfinite(self.time)
        ):
            raise MalformedInput(f"'time' must be a finite number, got {self.time!r}")
        self._check_value()

    def _check_value(self) -> None:
        value = self.value
        if self.f == "cas":
            # The invoke states [old, new]; a completion may repeat it or carry null.
            if _is_pair(value) or (self.type != "invoke" and value is None):
                return
            raise MalformedInput(f"a cas value must be [old, new] of JSON scalars, got {value!r}")
        if not is_scalar(value):
            raise MalformedInput(f"a {self.f} value must be a JSON scalar, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "key": self.key,
            "value": value,
            "time": self.time,
        }

    def to_json(self) -> str:
        """One history line (no newline), the format `parse_events` reads."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass(slots=True, frozen=True)
class Operation:
    """An invoke paired with its completion (None when it never completed).

    `call` and `ret` are indexes into the event sequence; `ret` is None for an
    operation that never completed. `outcome` is "ok", "fail", "info" or None.
    """

    process: int
    f: str
    key: str
    value: Any
    result: Any
    outcome: str | None
    call: int
    ret: int | None
    invoke: Event
    completion: Event | None

    def describe(self) -> str:
        """Readable one-liner, for messages: `process 3 write x=5 ok (t=1.5..2.0)`."""
        if self.f == "read":
            what = f"read {self.key} -> {_show(self.result) if self.outcome == 'ok' else '?'}"
        elif self.f == "write":
            what = f"write {self.key}={_show(self.value)}"
        elif self.f == "cas":
            what = f"cas {self.key} {_show(self.value[0])}->{_show(self.value[1])}"
        else:
            what = f"delete {self.key}"
        end = f"{self.completion.time:g}" if self.completion is not None else "never"
        outcome = self.outcome or "pending"
        return f"process {self.process} {what} {outcome} (t={self.invoke.time:g}..{end})"


def _show(value: object) -> str:
    return "absent" if value is None else json.dumps(value)


def event_from_dict(obj: object) -> Event:
    """Build one Event from a decoded JSON object; MalformedInput says what is wrong."""
    if not isinstance(obj, Mapping):
        raise MalformedInput(f"expected a JSON object, got {type(obj).__name__}")
    missing = [name for name in _FIELDS if name not in obj and name != "value"]
    if missing:
        raise MalformedInput(f"missing field {missing[0]!r}")
    # `value` may be left out where it carries nothing (a read invoke, a delete).
    return Event(
        process=obj["process"],
        type=obj["type"],
        f=obj["f"],
        key=obj["key"],
        value=obj.get("value"),
        time=obj["time"],
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_events(lines: Iterable[str]) -> list[Event]:
    """Parse JSON lines into events; blank lines are skipped.

    Raises MalformedInput naming the first bad line number (1-based) and why.
    """
    events: list[Event] = []
    line_numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=_reject_constant)
        except ValueError as exc:
            raise MalformedInput(f"line {number}: bad JSON: {exc}") from None
        try:
            events.append(event_from_dict(obj))
        except MalformedInput as exc:
            raise MalformedInput(f"line {number}: {exc}") from None
        line_numbers.append(number)
    pair_operations(events, labels=[f"line {n}" for n in line_numbers])
    return events


def load_history(path: str | Path) -> list[Event]:
    """Read a JSON-lines history file; MalformedInput on any bad line or I/O error."""
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_events(handle)
    except OSError as exc:
        raise MalformedInput(f"cannot read history {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"history {str(path)!r} is not UTF-8: {exc.reason}") from None


def events_from_dicts(dicts: Iterable[Mapping[str, Any]]) -> list[Event]:
    """In-memory twin of `parse_events`; errors name the event by 1-based position."""
    events: list[Event] = []
    for number, obj in enumerate(dicts, start=1):
        try:
            events.append(event_from_dict(obj))
        except MalformedInput as exc:
            raise MalformedInput(f"event {number}: {exc}") from None
    pair_operations(events)
    return events


def pair_operations(
    events: Sequence[Event], *, labels: Sequence[str] | None = None
) -> list[Operation]:
    """Pair each invoke with the next completion of the same process.

    Returns operations in invoke order. Raises MalformedInput (naming the event by
    `labels[i]`, default "event i+1") for a completion with no open invoke, a second
    invoke while one is open, or a completion whose f, key or value differs.
    """
    open_ops: dict[int, int] = {}  # process -> index of its open invoke
    completion_of: dict[int, int] = {}
    for index, event in enumerate(events):
        if event.type == "invoke":
            if event.process in open_ops:
                raise MalformedInput(
                    f"{_label(labels, index)}: process {event.process} invokes {event.f} "
                    f"while its invoke at {_label(labels, open_ops[event.process])} is open"
                )
            open_ops[event.process] = index
            continue
        start = open_ops.pop(event.process, None)
        if start is None:
            raise MalformedInput(
                f"{_label(labels, index)}: {event.type} for process {event.process} "
                "has no open invoke"
            )
        _check_completion(events[start], event, _label(labels, index))
        completion_of[start] = index
    operations = []
    for index, event in enumerate(events):
        if event.type != "invoke":
            continue
        end = completion_of.get(index)
        done = events[end] if end is not None else None
        operations.append(
            Operation(
                process=event.process,
                f=event.f,
                key=event.key,
                value=event.value,
                result=done.value if done is not None and event.f == "read" else None,
                outcome=done.type if done is not None else None,
                call=index,
                ret=end,
                invoke=event,
                completion=done,
            )
        )
    return operations


def _check_completion(invoke: Event, done: Event, label: str) -> None:
    if done.f != invoke.f or done.key != invoke.key:
        raise MalformedInput(
            f"{label}: completion {done.f} {done.key!r} does not match the open invoke "
            f"{invoke.f} {invoke.key!r} of process {invoke.process}"
        )
    repeats = invoke.f in ("write", "cas") and done.value is not None
    if repeats and not same_value(done.value, invoke.value):
        raise MalformedInput(
            f"{label}: completion value {done.value!r} differs from the invoke's {invoke.value!r}"
        )


def _label(labels: Sequence[str] | None, index: int) -> str:
    return labels[index] if labels is not None else f"event {index + 1}"
