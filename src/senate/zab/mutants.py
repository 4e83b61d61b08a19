"""Deliberately broken ZAB variants, for proving the simulator's checks can fail.

Rules this file keeps:
- each mutant overrides exactly ONE narrow method of the real engine (the seams
  marked "narrow" in core.py, leader.py and node.py) and says its bug in one line;
- nothing here is used outside mutation tests (`senate sim --protocol zab --mutant NAME`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from senate.consensus.engine import Engine, EngineFactory
from senate.consensus.types import DurableState, HardState, Membership, Ready
from senate.zab.config import ZabConfig
from senate.zab.log import Zxid
from senate.zab.node import Zab


class CommitBeforeQuorum(Zab):
    """Commits what the leader itself holds, without waiting for a quorum of ACKs."""

    def commit_candidate(self) -> int:
        return self.log.last_index


class SkipTrunc(Zab):
    """Syncs a follower by DIFF from its last zxid, never TRUNCating proposals we lack."""

    def sync_point(self, commit: int, zxid: Zxid, runs: tuple[tuple[int, int], ...]) -> int:
        return min(zxid[1], self.log.last_index)


class AcceptAnyEpoch(Zab):
    """A follower acks any NEWEPOCH, even one not above the epoch it already accepted."""

    def accept_epoch(self, epoch: int, leader: str) -> bool:
        return True


class EpochNotSynced(Zab):
    """Asks for no fsync when only acceptedEpoch/currentEpoch changed, so a crash forgets them."""

    def must_sync(self, hs: HardState, rd: Ready) -> bool:
        return bool(rd.entries) or rd.snapshot is not None


class ApplyBeforeCommit(Zab):
    """Hands proposals to the state machine as soon as they are in the history."""

    def apply_limit(self) -> int:
        return self.log.last_index


class ReadNoConfirm(Zab):
    """Serves reads at the commit index without a PING round confirming leadership."""

    def read_confirmed_now(self) -> bool:
        return True


def _factory_of(cls: type[Zab]) -> Callable[[ZabConfig | None], EngineFactory]:
    def make(config: ZabConfig | None = None) -> EngineFactory:
        def factory(
            node_id: str, membership: Membership, durable: DurableState, rng: random.Random
        ) -> Engine:
            return cls(node_id, membership, durable, rng, config)

        return factory

    return make


MUTANTS: dict[str, Callable[[ZabConfig | None], EngineFactory]] = {
    "commit_before_quorum": _factory_of(CommitBeforeQuorum),
    "skip_trunc": _factory_of(SkipTrunc),
    "accept_any_epoch": _factory_of(AcceptAnyEpoch),
    "epoch_not_synced": _factory_of(EpochNotSynced),
    "apply_before_commit": _factory_of(ApplyBeforeCommit),
    "read_no_confirm": _factory_of(ReadNoConfirm),
}
