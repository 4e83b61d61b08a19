"""Issue 6, done-means 1 for Multi-Paxos: every deliberately broken variant of the
engine is caught (an invariant breaks or a history is not linearizable) within the
same seed budget as the sweep, under the standard fault set.
"""

from __future__ import annotations

import pytest

from senate.sim import SimConfig, run_simulation
from senate.sim.engines import mutants

SEED_BUDGET = range(1, 501)
MUTANTS = sorted(mutants("multipaxos"))


def test_there_are_at_least_three_mutants() -> None:
    assert len(MUTANTS) >= 3, MUTANTS


@pytest.mark.parametrize("name", MUTANTS)
def test_paxos_mutant_is_caught(name: str) -> None:
    for seed in SEED_BUDGET:
        result = run_simulation(SimConfig(seed=seed, protocol="multipaxos", mutant=name))
        if not result.ok:
            print(f"mutant {name} caught by seed {seed}: {result.failure()}")
            print(f"  replay: {result.replay_command}")
            return
    pytest.fail(f"mutant {name} survived seeds {SEED_BUDGET.start}..{SEED_BUDGET.stop - 1}")
