"""Deliberately broken Multi-Paxos variants, for proving the simulator's checks can fail.

Rules this file keeps:
- each mutant overrides exactly ONE narrow method of the real engine (the seams
  marked "narrow" in core.py, leader.py and node.py) and says its bug in one line;
- nothing here is used outside mutation tests (`senate sim --protocol multipaxos
  --mutant NAME`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from senate.consensus.engine import Engine, EngineFactory
from senate.consensus.types import DurableState, Membership
from senate.paxos.config import PaxosConfig
from senate.paxos.core import Promise
from senate.paxos.messages import PaxosMessage
from senate.paxos.node import MultiPaxos


class IgnorePromisedValues(MultiPaxos):
    """A new leader ignores the values in the promises and re-proposes its own log."""

    def choose_source(self) -> Promise:
        return self.promises[self.node_id]


class ReplyBeforePersist(MultiPaxos):
    """Acceptors answer (promise, accepted) in send_now, before the persist is durable."""

    def reply(self, m: PaxosMessage) -> None:
        self._now.append(m)


class AcceptLowerBallot(MultiPaxos):
    """Acceptors take accepts and heartbeats of any ballot, even below their promise."""

    def ballot_ok(self, ballot: int) -> bool:
        return True


class CommitWithoutQuorum(MultiPaxos):
    """The leader declares a slot chosen as soon as its own disk holds it."""

    def chosen_limit(self) -> int:
        return max(self.log.committed, self.self_match())


class ReadWithoutQuorum(MultiPaxos):
    """The leader serves reads at once, without a heartbeat round confirming its ballot."""

    def read_confirmed_now(self) -> bool:
        return True


def _factory_of(cls: type[MultiPaxos]) -> Callable[[PaxosConfig | None], EngineFactory]:
    def make(config: PaxosConfig | None = None) -> EngineFactory:
        def factory(
            node_id: str, membership: Membership, durable: DurableState, rng: random.Random
        ) -> Engine:
            return cls(node_id, membership, durable, rng, config)

        return factory

    return make


MUTANTS: dict[str, Callable[[PaxosConfig | None], EngineFactory]] = {
    "ignore_promised_values": _factory_of(IgnorePromisedValues),
    "reply_before_persist": _factory_of(ReplyBeforePersist),
    "accept_lower_ballot": _factory_of(AcceptLowerBallot),
    "commit_without_quorum": _factory_of(CommitWithoutQuorum),
    "read_without_quorum": _factory_of(ReadWithoutQuorum),
}
