"""Issue 6, done-means 1 for ZAB: 500 seeds, 5 nodes, random fault schedules with
every fault on; every invariant holds and every history is linearizable.

Split in 20 chunks of 25 seeds so pytest-xdist spreads them over the cores. Every
fourth chunk runs with a tiny zxid counter (16 proposals per epoch), so counter
roll-over forces new epochs in the middle of the faults. A failure names each
failing seed and how to replay it.
"""

from __future__ import annotations

from collections import Counter

import pytest

from senate.sim import FAULT_KINDS, FaultConfig, SimConfig, run_simulation
from senate.zab import ZabConfig

CHUNKS = 20
PER_CHUNK = 25
FIRST_SEED = 1
SMALL_COUNTER = 16


def _replay(cfg: SimConfig) -> str:
    if cfg.engine_config is None:
        return cfg.replay_command()
    return (
        "python -c 'from senate.sim import SimConfig, run_simulation; "
        "from senate.zab import ZabConfig; "
        f'r = run_simulation(SimConfig(seed={cfg.seed}, protocol="zab", '
        f"engine_config=ZabConfig(max_counter={SMALL_COUNTER}))); print(r.failure())'"
    )


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_seed_chunk(chunk: int) -> None:
    first = FIRST_SEED + chunk * PER_CHUNK
    engine_config = ZabConfig(max_counter=SMALL_COUNTER) if chunk % 4 == 3 else None
    failures: list[str] = []
    injected: Counter[str] = Counter()
    ok_ops = 0
    leaders = 0
    for seed in range(first, first + PER_CHUNK):
        cfg = SimConfig(
            seed=seed, nodes=5, faults=FaultConfig(), protocol="zab", engine_config=engine_config
        )
        result = run_simulation(cfg)
        injected.update(result.faults)
        ok_ops += result.ops["ok"]
        leaders += result.leaders_elected
        if not result.ok:
            failures.append(f"seed {seed}: {result.failure()}\n    replay: {_replay(cfg)}")
    assert not failures, f"{len(failures)} seed(s) failed:\n" + "\n".join(failures)
    # The sweep must really torture the cluster, and the cluster must still work.
    kinds = {k.split("-")[0] for k in injected}
    assert kinds >= set(FAULT_KINDS) - {"skew"}, f"faults not injected: {injected}"
    assert ok_ops > PER_CHUNK * 10
    assert leaders > PER_CHUNK  # leaders fail and new epochs start


def test_same_seed_same_trace() -> None:
    runs = [run_simulation(SimConfig(seed=11, protocol="zab")) for _ in range(2)]
    assert runs[0].trace_hash == runs[1].trace_hash
    assert runs[0].history == runs[1].history
