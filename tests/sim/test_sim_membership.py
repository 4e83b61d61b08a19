"""The membership nemesis (part of `--faults all`): learners are added, promoted and
removed, leadership is handed over, every engine survives it, and a run stays a pure
function of its seed.
"""

from __future__ import annotations

import io
from collections import Counter

import pytest

from senate.sim import FaultConfig, SimConfig, run_simulation
from senate.sim.faults import DEFAULT_FAULTS

WITH_MEMBERSHIP = FaultConfig.parse("all,membership")
# Every engine: the 500-seed sweeps (tests/sim, tests/paxos, tests/zab) run with
# membership too; these few seeds check that each kind of change really happens.
PROTOCOLS = ["multipaxos", "raft", "zab"]
SEEDS = range(1, 9)


def test_membership_is_a_fault_kind_in_all_that_parses_and_prints_back() -> None:
    assert "membership" in DEFAULT_FAULTS
    assert FaultConfig().kinds == WITH_MEMBERSHIP.kinds == FaultConfig.parse("all").kinds
    assert FaultConfig.parse(WITH_MEMBERSHIP.spec()).kinds == WITH_MEMBERSHIP.kinds
    assert FaultConfig.parse("membership,crash").spec() == "crash,membership"
    cfg = SimConfig(seed=7, faults=WITH_MEMBERSHIP, protocol="zab")
    assert "--faults all --protocol zab" in cfg.replay_command()
    without = FaultConfig(frozenset(DEFAULT_FAULTS) - {"membership"})
    assert FaultConfig.parse(without.spec()).kinds == without.kinds


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_membership_changes_are_applied_and_survived(protocol: str) -> None:
    applied: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    failures: list[str] = []
    for seed in SEEDS:
        r = run_simulation(SimConfig(seed=seed, faults=WITH_MEMBERSHIP, protocol=protocol))
        applied.update(r.conf_changes)
        asked.update({k: v for k, v in r.faults.items() if k.startswith("membership-")})
        if not r.ok:
            failures.append(f"seed {seed}: {r.failure()}\n    replay: {r.replay_command}")
    assert not failures, "\n".join(failures)
    # The nemesis really changes the cluster: each kind of step took effect.
    assert applied["add_learner"] > 0 and applied["promote"] > 0 and applied["remove"] > 0
    assert asked["membership-transfer"] > 0
    assert sum(applied.values()) <= sum(v for k, v in asked.items() if k != "membership-transfer")


def test_added_nodes_serve_and_removed_nodes_stay_down() -> None:
    trace = io.StringIO()
    r = run_simulation(SimConfig(seed=2, faults=WITH_MEMBERSHIP, trace=trace))
    assert r.ok, r.failure()
    lines = trace.getvalue().splitlines()
    spawned = {line.split()[-1] for line in lines if " spawn n" in line}
    stopped = {line.split()[-2] for line in lines if line.endswith("(removed)")}
    assert spawned and stopped, (spawned, stopped)
    # A node that left is never restarted, not even by the final heal.
    for node in stopped:
        assert not any(f"tick {node}" in line for line in lines[_last(lines, node) :])


def _last(lines: list[str], node: str) -> int:
    return max(i for i, line in enumerate(lines) if line.endswith(f"stopped {node} (removed)"))


def test_same_seed_same_trace_with_membership() -> None:
    a_trace, b_trace = io.StringIO(), io.StringIO()
    a = run_simulation(SimConfig(seed=5, faults=WITH_MEMBERSHIP, trace=a_trace))
    b = run_simulation(SimConfig(seed=5, faults=WITH_MEMBERSHIP, trace=b_trace))
    assert sum(a.conf_changes.values()) > 0
    assert a.trace_hash == b.trace_hash
    assert a_trace.getvalue() == b_trace.getvalue()
    assert (a.history, a.conf_changes, a.faults) == (b.history, b.conf_changes, b.faults)
    other = run_simulation(
        SimConfig(seed=5, faults=FaultConfig(WITH_MEMBERSHIP.kinds - {"membership"}))
    )
    assert other.trace_hash != a.trace_hash
