"""Fault selection (`--faults`), the nemesis schedule and the final heal."""

from __future__ import annotations

import pytest

from senate.errors import UsageError
from senate.sim import FAULT_KINDS, FaultConfig, SimConfig, run_simulation


def test_parse_names_all_and_none() -> None:
    assert FaultConfig.parse("partition,drop").kinds == {"partition", "drop"}
    assert FaultConfig.parse("all").kinds == set(FAULT_KINDS)
    assert FaultConfig.parse("none").kinds == set()
    assert FaultConfig.parse("").kinds == set()
    assert FaultConfig.parse("crash, pause").spec() == "crash,pause"
    assert FaultConfig.parse("all").spec() == "all"


def test_unknown_fault_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="meteor"):
        FaultConfig.parse("drop,meteor")


def test_no_faults_means_none_injected() -> None:
    r = run_simulation(SimConfig(seed=4, faults=FaultConfig.parse("none")))
    assert r.ok, r.failure()
    assert r.faults == {}
    assert r.net["dropped"] == 0 and r.net["blocked"] == 0 and r.net["duplicated"] == 0
    assert r.ops["info"] == 0


@pytest.mark.parametrize("kind", ["partition", "crash", "pause", "drop", "dup"])
def test_each_fault_alone_is_injected_and_survived(kind: str) -> None:
    seen = 0
    for seed in range(1, 6):
        r = run_simulation(SimConfig(seed=seed, faults=FaultConfig.parse(kind)))
        assert r.ok, f"seed {seed}: {r.failure()}\n{r.replay_command}"
        seen += sum(v for k, v in r.faults.items() if k.startswith(kind) or k.endswith(kind))
    assert seen > 0


def test_crashes_lose_unsynced_writes_and_sometimes_tear() -> None:
    torn = 0
    for seed in range(1, 11):
        r = run_simulation(SimConfig(seed=seed, faults=FaultConfig.parse("crash")))
        assert r.ok, f"seed {seed}: {r.failure()}"
        torn += r.faults.get("torn-write", 0)
    assert torn > 0


def test_the_cluster_heals_and_serves_at_the_end() -> None:
    r = run_simulation(SimConfig(seed=9))
    assert r.ok, r.failure()
    last = [e for e in r.history if e["type"] != "invoke"][-10:]
    assert any(e["type"] == "ok" for e in last)


def test_replay_command_names_every_choice() -> None:
    cfg = SimConfig(seed=42, nodes=3, ops=20, faults=FaultConfig.parse("drop,crash"))
    assert cfg.replay_command() == (
        "senate sim --seed 42 --nodes 3 --ops 20 --faults drop,crash --protocol raft"
    )
