"""Lamport's logical clock ("Time, Clocks, and the Ordering of Events", 1978).

Rules kept in this file:
- every local or send event advances the clock by one and returns the new time;
- a receive event sets the clock past both its own time and the message's time,
  so if event e happened before event f then time(e) < time(f) (the clock condition);
- the clock never moves backwards, and never reads wall time.
"""

from __future__ import annotations

from dataclasses import dataclass

from senate.clocks._validate import check_counter


@dataclass(slots=True)
class LamportClock:
    """A mutable Lamport clock. `time` is the timestamp of the last event (0 = none yet)."""

    time: int = 0

    def __post_init__(self) -> None:
        check_counter(self.time, "Lamport time")

    def tick(self) -> int:
        """A local event: advance and return the event's timestamp."""
        self.time = check_counter(self.time + 1, "Lamport time")
        return self.time

    def send(self) -> int:
        """A send event; the returned timestamp travels with the message."""
        return self.tick()

    def receive(self, remote: int) -> int:
        """A receive event for a message stamped `remote`; returns this event's timestamp."""
        check_counter(remote, "remote Lamport time")
        self.time = check_counter(max(self.time, remote) + 1, "Lamport time")
        return self.time
