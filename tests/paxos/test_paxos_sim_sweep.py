"""Issue 6, done-means 1 for Multi-Paxos: 500 seeds, 5 nodes, random fault schedules
with every fault on; every invariant holds and every history is linearizable.

Split in 20 chunks of 25 seeds so pytest-xdist spreads them over the cores. A
failure names each failing seed and the command that replays it.
"""

from __future__ import annotations

from collections import Counter

import pytest

from senate.sim import FAULT_KINDS, FaultConfig, SimConfig, run_simulation

CHUNKS = 20
PER_CHUNK = 25
FIRST_SEED = 1


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_paxos_seed_chunk(chunk: int) -> None:
    first = FIRST_SEED + chunk * PER_CHUNK
    failures: list[str] = []
    injected: Counter[str] = Counter()
    ok_ops = 0
    leaders = 0
    for seed in range(first, first + PER_CHUNK):
        cfg = SimConfig(seed=seed, nodes=5, faults=FaultConfig(), protocol="multipaxos")
        result = run_simulation(cfg)
        injected.update(result.faults)
        ok_ops += result.ops["ok"]
        leaders += result.leaders_elected
        if not result.ok:
            failures.append(f"seed {seed}: {result.failure()}\n    replay: {result.replay_command}")
    assert not failures, f"{len(failures)} seed(s) failed:\n" + "\n".join(failures)
    # The sweep must really torture the cluster, and the cluster must still work.
    kinds = {k.split("-")[0] for k in injected}
    assert kinds >= set(FAULT_KINDS) - {"skew"}, f"faults not injected: {injected}"
    assert ok_ops > PER_CHUNK * 10
    assert leaders > PER_CHUNK  # leaders fail and new ballots take over


def test_paxos_same_seed_same_trace() -> None:
    runs = [run_simulation(SimConfig(seed=42, protocol="multipaxos")) for _ in range(2)]
    assert runs[0].ok and runs[0].trace_hash == runs[1].trace_hash
    assert runs[0].history == runs[1].history
