"""The node driver, clients and invariants, on the tiny fake engine (no Raft)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import fake_engine
import pytest

from senate.consensus.types import Entry
from senate.errors import NotLeader
from senate.sim import FaultConfig, SimConfig, engines, run_simulation


@pytest.fixture(autouse=True)
def _fake_protocol() -> Iterator[None]:
    engines.PROTOCOLS["fake"] = ("fake_engine", "fake_factory", "fake_engine")
    yield
    del engines.PROTOCOLS["fake"]


def _cfg(seed: int = 1) -> SimConfig:
    # The fake engine keeps no snapshots and has no elections: no crashes, no compaction.
    return SimConfig(
        seed=seed, ops=60, protocol="fake", faults=FaultConfig.parse("none"), snapshot_every=10**9
    )


def test_quiet_cluster_serves_every_op_linearizably() -> None:
    r = run_simulation(_cfg())
    assert r.ok, r.failure()
    assert r.ops["info"] == 0 and r.ops["ok"] >= 50
    assert r.leaders_elected == 1 and r.entries_committed > 20
    assert len(r.history) == 2 * 60


def test_history_records_reads_writes_and_values() -> None:
    r = run_simulation(_cfg(2))
    fs = {e["f"] for e in r.history}
    assert fs == {"read", "write", "cas", "delete"}
    reads = [e for e in r.history if e["f"] == "read" and e["type"] == "ok"]
    assert any(isinstance(e["value"], int) for e in reads)
    times = [e["time"] for e in r.history]
    assert times == sorted(times)


def test_pauses_delay_but_do_not_break() -> None:
    cfg = replace(_cfg(3), faults=FaultConfig.parse("pause"))
    r = run_simulation(cfg)
    assert r.ok, r.failure()
    assert r.faults.get("pause", 0) >= 1


def test_a_follower_that_corrupts_its_log_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = fake_engine.FakeEngine.step

    def corrupt(self: fake_engine.FakeEngine, msg: object) -> None:
        if self.node_id == "n3" and isinstance(msg, fake_engine.Append):
            msg = fake_engine.Append(
                msg.src,
                msg.dst,
                [Entry(e.index, e.term, e.kind, b"x") for e in msg.entries],
                msg.commit,
            )
        original(self, msg)

    monkeypatch.setattr(fake_engine.FakeEngine, "step", corrupt)
    r = run_simulation(_cfg())
    assert not r.ok
    assert r.violations[0].kind == "log matching"
    assert r.violations[0].node == "n3"


def test_a_second_leader_in_a_term_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        fake_engine.FakeEngine, "leader", property(lambda self: self.node_id in ("n1", "n2"))
    )
    r = run_simulation(_cfg())
    assert r.violations and r.violations[0].kind == "election safety"


def test_a_replica_applying_a_different_command_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = fake_engine.FakeEngine.ready

    def skewed(self: fake_engine.FakeEngine) -> object:
        rd = original(self)
        if self.node_id == "n4":
            rd.committed = [Entry(e.index, e.term, e.kind, e.data + b"!") for e in rd.committed]
        return rd

    monkeypatch.setattr(fake_engine.FakeEngine, "ready", skewed)
    r = run_simulation(_cfg())
    assert r.violations and r.violations[0].kind == "state machine safety"


def test_a_cluster_that_serves_nothing_after_the_heal_is_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: fake_engine.FakeEngine, *args: object) -> None:
        raise NotLeader(None)

    monkeypatch.setattr(fake_engine.FakeEngine, "propose", refuse)
    monkeypatch.setattr(fake_engine.FakeEngine, "read_index", refuse)
    r = run_simulation(_cfg())
    assert r.violations and r.violations[0].kind == "liveness"
    assert r.ops["ok"] == 0 and r.ops["info"] == 0  # a refusal proves nothing happened


def test_a_member_that_never_catches_up_after_the_heal_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # n3 hears nothing, ever: the others serve every op (a quorum), but a member
    # left behind on a healed network is a liveness failure all the same.
    original = fake_engine.FakeEngine.step

    def deaf(self: fake_engine.FakeEngine, msg: object) -> None:
        if self.node_id != "n3":
            original(self, msg)

    monkeypatch.setattr(fake_engine.FakeEngine, "step", deaf)
    r = run_simulation(_cfg())
    assert r.violations and r.violations[0].kind == "liveness", r.violations
    assert "n3 still behind" in r.violations[0].description
    assert r.ops_ok_after_heal > 0  # the quorum served: only the catch-up check fails


def test_an_engine_whose_has_ready_never_clears_is_a_livelock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake_engine.FakeEngine, "has_ready", lambda self: True)
    r = run_simulation(_cfg())
    assert r.violations and r.violations[0].kind == "livelock"
