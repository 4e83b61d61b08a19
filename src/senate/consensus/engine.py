"""The engine interface: one sans-I/O state machine per node, driven by a driver.

Drivers (the asyncio runtime, the simulator) own time, sockets and disks. An engine
owns only its protocol state. The driver loop is:

    engine.tick()                  # every tick of the driver's clock
    engine.step(msg)               # every message that arrives for this node
    engine.propose(data)           # a client command (leader only; NotLeader otherwise)
    engine.read_index(ctx)         # a linearizable read request
    if engine.has_ready():
        rd = engine.ready()
        send(rd.send_now)          # may go out before anything is durable (the
                                   # leader's replication traffic: Raft thesis 10.2.1)
        persist(rd.snapshot, rd.entries, rd.hard_state)   # entries[0].index may
                                   # overwrite a log suffix: truncate from there
        if rd.must_sync: fsync()   # acknowledged means durable
        send(rd.messages)          # only after the persist above is durable
        install(rd.snapshot)       # restore the state machine, then
        apply(rd.committed)        # apply in order
        serve(rd.read_states)      # once applied index >= read_state.index
        engine.advance(rd)

Rules an engine keeps:
- Between ready() and advance() the engine accepts tick/step/propose/read_index;
  the next ready() comes only after advance().
- Anything whose correctness depends on durable state (a vote reply, an append
  acknowledgement, the leader counting itself in a quorum) is released only in
  `messages` or after `advance`, never in `send_now`.
- `must_sync` is true whenever hard state term/vote or entries changed.
- The engine reads no clock, no socket, no file and no global random: randomness
  comes from the injected `random.Random`.
"""

from __future__ import annotations

import random
from typing import Protocol

from senate.consensus.types import (
    ConfChange,
    DurableState,
    Membership,
    Message,
    Ready,
    Status,
)


class Engine(Protocol):
    """What every consensus core offers. Raft, Multi-Paxos and ZAB implement it."""

    node_id: str

    def tick(self) -> None:
        """Advance the engine's logical clock by one tick (election/heartbeat timers)."""

    def step(self, message: Message) -> None:
        """Feed one message addressed to this node. Stale or foreign messages are ignored."""

    def propose(self, data: bytes) -> None:
        """Append a command to the replicated log. Raises NotLeader or ProposalDropped."""

    def propose_membership(self, change: ConfChange) -> None:
        """Start one membership step. Raises NotLeader or ConfigChangeInProgress."""

    def read_index(self, ctx: bytes) -> None:
        """Ask for a linearizable read; a ReadState with `ctx` comes in a later Ready.

        Raises NotLeader when no leader is known to forward to.
        """

    def transfer_leadership(self, target: str) -> None:
        """Hand leadership to `target` once it is caught up (Raft's TimeoutNow)."""

    def has_ready(self) -> bool: ...

    def ready(self) -> Ready: ...

    def advance(self, ready: Ready) -> None:
        """The driver finished persisting, sending and applying `ready`."""

    def compact(self, index: int, data: bytes) -> None:
        """The driver durably saved a state machine snapshot `data` at applied `index`.

        The engine keeps it to catch up slow followers and may drop log entries
        up to `index`.
        """

    def snapshot_meta(self, index: int) -> tuple[int, Membership]:
        """(term, membership) of a snapshot at applied `index`: exactly what
        compact(index, ...) will keep, so the driver persists the very Snapshot the
        engine serves. The membership is the one in force at `index` (later, maybe
        uncommitted changes are not in it). Raises for an index beyond the applied
        one or no longer in the log."""

    def learner_caught_up(self, node: str) -> bool:
        """On the leader: does learner `node` hold every committed entry? (Then a
        PROMOTE of it is accepted.) False anywhere else."""

    def status(self) -> Status: ...


class EngineFactory(Protocol):
    """Builds an engine for node `node_id` from what its disk holds."""

    def __call__(
        self,
        node_id: str,
        membership: Membership,
        durable: DurableState,
        rng: random.Random,
    ) -> Engine: ...
