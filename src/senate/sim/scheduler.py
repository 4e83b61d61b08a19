"""The simulated clock and event queue: the only source of time and order in a run.

Rules this file keeps:
- Time is an integer count of simulated microseconds; nothing here reads a wall clock.
- Events fire in (time, sequence number) order, so two events at the same instant run
  in the order they were scheduled. No other tie-break exists, so no hash order or
  object identity can leak into a run.
- Every random choice of a run comes from `rng(name)`: a `random.Random` seeded by the
  text "<seed>/<name>". Each concern (network, nemesis, clients, a node's engine) owns
  its stream, so turning one knob does not shift the draws of the others.
- Every fired event, and every note a component records, is one canonical text line
  folded into a sha256: `trace_hash`. Same seed, same code => same hash.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

US_PER_MS = 1_000
US_PER_S = 1_000_000


@dataclass(slots=True)
class _Timer:
    label: str
    action: Callable[[], None]
    cancelled: bool = False


@dataclass(slots=True)
class Handle:
    """Lets the scheduler's caller cancel an event it scheduled."""

    _timer: _Timer

    def cancel(self) -> None:
        self._timer.cancelled = True


class Scheduler:
    """A min-heap of timers over a simulated clock, with a hashed event trace."""

    __slots__ = ("_hash", "_heap", "_seq", "_trace_file", "events_fired", "now", "seed")

    def __init__(self, seed: int, trace_file: TextIO | None = None) -> None:
        self.seed = seed
        self.now = 0
        self.events_fired = 0
        # (time, seq, timer): tuples compare in C, and seq is unique, so the timer
        # itself is never compared.
        self._heap: list[tuple[int, int, _Timer]] = []
        self._seq = 0
        self._hash = hashlib.sha256()
        self._trace_file = trace_file

    def rng(self, name: str) -> random.Random:
        """A random stream derived only from the seed and `name`."""
        return random.Random(f"{self.seed}/{name}")

    def at(self, time: int, label: str, action: Callable[[], None]) -> Handle:
        """Run `action` at simulated time `time` (never in the past)."""
        timer = _Timer(label, action)
        heapq.heappush(self._heap, (max(time, self.now), self._seq, timer))
        self._seq += 1
        return Handle(timer)

    def after(self, delay: int, label: str, action: Callable[[], None]) -> Handle:
        return self.at(self.now + max(delay, 0), label, action)

    def note(self, line: str) -> None:
        """Fold one line of what happened into the trace (and the trace file)."""
        text = f"{self.now} {line}\n"
        self._hash.update(text.encode())
        if self._trace_file is not None:
            self._trace_file.write(text)

    def step(self) -> bool:
        """Fire the next live event; False when the queue is empty."""
        heap = self._heap
        while heap:
            time, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self.now = time
            self.events_fired += 1
            self.note(timer.label)
            timer.action()
            return True
        return False

    def next_time(self) -> int | None:
        """The time of the next live event, if any."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_until(self, time: int, stop: Callable[[], bool] | None = None) -> None:
        """Fire events up to and including `time`, or until `stop()` says so."""
        while True:
            nxt = self.next_time()
            if nxt is None or nxt > time:
                self.now = max(self.now, time)
                return
            self.step()
            if stop is not None and stop():
                return

    @property
    def trace_hash(self) -> str:
        return self._hash.hexdigest()
