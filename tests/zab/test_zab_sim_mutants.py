"""Issue 6, done-means 1 for ZAB: every deliberately broken variant of the ZAB
core is caught (an invariant breaks or a history is not linearizable) within the
sweep's seed budget, under the standard fault set; and every mutant is registered."""

from __future__ import annotations

import random

import pytest

from senate.consensus.types import DurableState, Membership
from senate.sim import SimConfig, run_simulation
from senate.sim.engines import mutants
from senate.zab import Zab
from senate.zab import mutants as mu

SEED_BUDGET = range(1, 501)
MUTANTS = sorted(mutants("zab"))


def test_there_are_at_least_three_mutants_each_one_documented() -> None:
    assert len(MUTANTS) >= 3, MUTANTS
    for name, make in mu.MUTANTS.items():
        engine = make(None)("a", Membership(frozenset("a")), DurableState(), random.Random(1))
        assert isinstance(engine, Zab) and type(engine) is not Zab, name
        assert type(engine).__doc__, name


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_is_caught(name: str) -> None:
    for seed in SEED_BUDGET:
        result = run_simulation(SimConfig(seed=seed, protocol="zab", mutant=name))
        if not result.ok:
            print(f"mutant {name} caught by seed {seed}: {result.failure()}")
            print(f"  replay: {result.replay_command}")
            return
    pytest.fail(f"mutant {name} survived seeds {SEED_BUDGET.start}..{SEED_BUDGET.stop - 1}")
