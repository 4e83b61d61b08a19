"""Histories from a simulated atomic register: known-good input for tests and benches.

Rules this file keeps:
- Every operation takes effect at one instant (its linearization point) between its
  invoke and its completion, on a correct in-memory register, so every history made
  here is linearizable by construction, whatever the overlap.
- `info` operations model timeouts: the outcome is unknown to the client; the effect
  happens or not (a coin flip), possibly AFTER the client gave up. `fail` operations
  never take effect (a cas whose compare failed, or an error before it was applied).
- All randomness comes from the `random.Random` passed in: same seed, same history.
- Values written are unique integers, as Jepsen's generators make them, so a read
  names the write it saw.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from senate.check.history import Event

_FUNCTIONS = ("read", "write", "cas", "delete")
_WEIGHTS = (50, 30, 15, 5)


@dataclass(slots=True)
class _Op:
    process: int
    f: str
    key: str
    value: object
    invoke: float
    point: float  # the linearization point, or +inf if it never takes effect
    complete: float
    outcome: str
    result: object = None


def register_history(
    rng: random.Random,
    *,
    ops: int,
    processes: int = 5,
    keys: int = 3,
    info_rate: float = 0.0,
    fail_rate: float = 0.0,
    sequential: bool = False,
) -> list[Event]:
    """A linearizable history of `ops` operations (see module rules).

    `sequential` makes operations never overlap (each completes before the next starts).
    """
    key_names = [f"k{i}" for i in range(keys)]
    recent: dict[str, list[object]] = {k: [None] for k in key_names}  # for cas guesses
    counter = 0
    schedule: list[_Op] = []
    ready = [(rng.random(), p) for p in range(processes)]
    heapq.heapify(ready)
    clock = 0.0
    for _ in range(ops):
        start, process = heapq.heappop(ready)
        if sequential:
            start = clock
        # Latency with a tail: mostly short, sometimes ten times longer.
        # (Capped, so that any Random, even one drawing extremes, gives finite times.)
        duration = min(rng.expovariate(1.0), 20.0) * (10.0 if rng.random() < 0.05 else 1.0)
        duration += 0.01
        f = rng.choices(_FUNCTIONS, _WEIGHTS)[0]
        key = rng.choice(key_names)
        value: object = None
        if f == "write":
            counter += 1
            value = counter
        elif f == "cas":
            counter += 1
            value = [rng.choice(recent[key][-3:]), counter]
        outcome = "ok"
        point = start + rng.uniform(0.0, duration)
        roll = rng.random()
        if roll < info_rate:
            outcome = "info"
            # A timed-out operation may still take effect, even after the timeout.
            point = start + rng.uniform(0.0, 3.0 * duration) if rng.random() < 0.5 else _NEVER
        elif roll < info_rate + fail_rate and f != "read":
            outcome, point = "fail", _NEVER
        end = start + duration
        schedule.append(_Op(process, f, key, value, start, point, end, outcome))
        if f in ("write", "cas"):
            recent[key].append(counter)
        clock = end + 0.001
        # A strictly positive pause: a process's next invoke follows its completion.
        heapq.heappush(ready, (end + 0.001 + min(rng.expovariate(4.0), 20.0), process))
    _run_register(schedule)
    return _to_events(schedule)


_NEVER = float("inf")


def _run_register(schedule: list[_Op]) -> None:
    """Apply each op at its linearization point, in time order; fill results."""
    state: dict[str, object] = {}
    for op in sorted(schedule, key=lambda o: o.point):
        if op.point == _NEVER:
            break
        current = state.get(op.key)
        if op.f == "read":
            op.result = current
        elif op.f == "write":
            state[op.key] = op.value
        elif op.f == "delete":
            state.pop(op.key, None)
        else:
            assert isinstance(op.value, list)
            old, new = op.value
            if old == current:
                state[op.key] = new
            elif op.outcome == "ok":
                op.outcome = "fail"  # the compare failed: the client is told so


def _to_events(schedule: list[_Op]) -> list[Event]:
    timeline: list[tuple[float, int, Event]] = []
    for op in schedule:
        timeline.append(
            (op.invoke, 0, Event(op.process, "invoke", op.f, op.key, op.value, op.invoke))
        )
        if op.f == "read":
            done_value = op.result if op.outcome == "ok" else None
        else:
            done_value = op.value
        timeline.append(
            (op.complete, 1, Event(op.process, op.outcome, op.f, op.key, done_value, op.complete))
        )
    timeline.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in timeline]
