"""Knobs of the ZAB core, all in ticks or counts (never seconds).

Rules this file keeps:
- every knob has a safe default; `ZabConfig()` is what the simulator and the
  runtime use unless told otherwise;
- impossible combinations are refused at construction (UsageError).
"""

from __future__ import annotations

from dataclasses import dataclass

from senate.errors import UsageError

ZXID_COUNTER_MAX = 2**32 - 1  # ZooKeeper: the low 32 bits of a zxid


@dataclass(slots=True, frozen=True)
class ZabConfig:
    # A LOOKING node starts a new election round after a timeout drawn from
    # [election_ticks, 2*election_ticks); a follower that hears nothing from its
    # leader for election_ticks, or a leader that hears from no quorum for that
    # long, goes back to LOOKING.
    election_ticks: int = 10
    # The leader pings every session every heartbeat_ticks (must be < election_ticks).
    heartbeat_ticks: int = 2
    # A LOOKING node re-sends its notification every notify_ticks (messages get lost).
    notify_ticks: int = 2
    # A follower re-registers (new FOLLOWERINFO attempt) when its leader has not
    # answered for retry_ticks, or its stream has had a gap for that long.
    retry_ticks: int = 3
    # The largest zxid counter within one epoch. When the next proposal would pass
    # it, the leader gives up leadership so that a new epoch starts (ZooKeeper
    # does this at 2**32 - 1). Tests make it small. Counter 1 of every epoch is the
    # leader's opening NOOP, so at least 2 (else no command would ever fit).
    max_counter: int = ZXID_COUNTER_MAX
    # At most this many out-of-order stream messages are buffered per follower.
    max_buffered: int = 512

    def __post_init__(self) -> None:
        if self.election_ticks < 2:
            raise UsageError("zab: election_ticks must be at least 2")
        if not 1 <= self.heartbeat_ticks < self.election_ticks:
            raise UsageError("zab: heartbeat_ticks must be in [1, election_ticks)")
        if self.notify_ticks < 1 or self.retry_ticks < 1:
            raise UsageError("zab: notify_ticks and retry_ticks must be >= 1")
        if not 2 <= self.max_counter <= ZXID_COUNTER_MAX:
            raise UsageError(f"zab: max_counter must be in [2, {ZXID_COUNTER_MAX}]")
        if self.max_buffered < 1:
            raise UsageError("zab: max_buffered must be >= 1")
