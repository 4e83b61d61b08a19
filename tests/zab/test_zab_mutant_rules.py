"""Each deliberately broken variant shows its bug in a small scenario, and the real
engine does not: the rule each mutant breaks is one the scenario can observe."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from zab_harness import Cluster

from senate.consensus.types import DurableState, Membership
from senate.zab import Zab, ZabConfig
from senate.zab import mutants as mu

Maker = Callable[[str, Membership, DurableState, random.Random], Zab]


def _cluster(cls: type[Zab]) -> Cluster:
    maker: Maker = lambda n, m, d, r: cls(n, m, d, r, ZabConfig())  # noqa: E731
    return Cluster(["a", "b", "c"], maker=maker)


def commits_only_on_quorum(cls: type[Zab]) -> bool:
    c = _cluster(cls)
    leader = c.elect()
    for n in "abc":
        if n != leader:
            c.crash(n)
    c.propose(leader, b"alone")
    return b"alone" not in c.sm[leader]


def truncates_dead_proposals(cls: type[Zab]) -> bool:
    c = _cluster(cls)
    old = c.elect()
    c.isolate(old)
    c.propose(old, b"lost")
    c.tick(30)
    new = c.elect()
    c.propose(new, b"y")
    c.heal()
    c.tick(15)
    return c.log_of(old) == c.log_of(new)


def acks_an_epoch_for_one_leader(cls: type[Zab]) -> bool:
    c = _cluster(cls)
    leader = c.elect()
    follower = next(n for n in "abc" if n != leader)
    eng = c.engines[follower]
    return not eng.accept_epoch(eng.accepted_epoch, "intruder")


def syncs_new_epochs(cls: type[Zab]) -> bool:
    c = _cluster(cls)
    c.elect()
    epoch_changes = [
        rd
        for rds in c.readies.values()
        for rd in rds
        if rd.hard_state is not None
        and not rd.entries
        and rd.snapshot is None
        and rd.hard_state.term > 0
    ]
    return bool(epoch_changes) and all(rd.must_sync for rd in epoch_changes if rd.messages)


def applies_only_committed(cls: type[Zab]) -> bool:
    c = _cluster(cls)
    leader = c.elect()
    c.isolate(leader)
    c.propose(leader, b"uncommitted")
    return b"uncommitted" not in c.sm[leader]


def reads_confirmed(cls: type[Zab]) -> bool:
    c = _cluster(cls)
    leader = c.elect()
    c.isolate(leader)
    c.engines[leader].read_index(b"r")
    c.stabilize()
    return c.reads[leader] == []


CASES = [
    (mu.CommitBeforeQuorum, commits_only_on_quorum),
    (mu.SkipTrunc, truncates_dead_proposals),
    (mu.AcceptAnyEpoch, acks_an_epoch_for_one_leader),
    (mu.EpochNotSynced, syncs_new_epochs),
    (mu.ApplyBeforeCommit, applies_only_committed),
    (mu.ReadNoConfirm, reads_confirmed),
]


@pytest.mark.parametrize(("mutant", "prop"), CASES, ids=[c[0].__name__ for c in CASES])
def test_real_engine_keeps_the_rule_the_mutant_breaks(
    mutant: type[Zab], prop: Callable[[type[Zab]], bool]
) -> None:
    assert prop(Zab)
    assert not prop(mutant)


def test_every_mutant_has_a_scenario() -> None:
    names = {c[0].__name__ for c in CASES}
    registered = {
        type(make(None)("a", Membership(frozenset("a")), DurableState(), random.Random(1))).__name__
        for make in mu.MUTANTS.values()
    }
    assert registered == names
