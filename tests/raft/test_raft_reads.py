"""Linearizable reads: ReadIndex on the leader and through followers, lease reads."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from senate.consensus.types import ReadState, Role
from senate.errors import UsageError
from senate.raft import RaftConfig
from senate.raft.messages import MessageType
from senate.raft.mutants import ReadIndexNoConfirm


def _cluster(config: RaftConfig | None = None) -> tuple[Cluster, str]:
    c = Cluster(["a", "b", "c"], config=config, seed=21)
    leader = c.elect_any()
    c.propose(leader, b"w1", b"w2")
    return c, leader


def test_read_index_on_the_leader_waits_for_a_heartbeat_quorum() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    c.isolate(leader)
    lead.read_index(b"r1")
    c.stabilize()
    assert c.reads[leader] == []  # no quorum answered yet
    c.heal()
    c.tick(1)
    assert c.reads[leader] == [ReadState(lead.log.committed, b"r1")]


def test_read_index_through_a_follower() -> None:
    c, leader = _cluster()
    follower = next(n for n in c.engines if n != leader)
    c.engines[follower].read_index(b"f1")
    c.stabilize()
    assert c.reads[follower] == [ReadState(c.engines[leader].log.committed, b"f1")]
    assert any(m.type == MessageType.READ_INDEX for m in c.delivered)


def test_a_deposed_partitioned_leader_never_returns_a_read_state() -> None:
    for cfg in (RaftConfig(), RaftConfig(check_quorum=False, pre_vote=False)):
        c, old = _cluster(cfg)
        c.isolate(old)
        c.engines[old].read_index(b"stale")
        others = [n for n in c.engines if n != old]
        c.tick(60, nodes=others)
        new = next(n for n in others if c.engines[n].role == Role.LEADER)
        c.propose(new, b"w3")
        for _ in range(60):
            c.tick(1)
            if c.engines[old].role == Role.LEADER:
                c.engines[old].read_index(b"stale")
        assert all(rs.ctx != b"stale" for rs in c.reads[old]), cfg


def test_without_confirmation_the_deposed_leader_does_answer() -> None:
    # The mutant shows what the test above guards against.
    cfg = RaftConfig(check_quorum=False, pre_vote=False)
    c = Cluster(
        ["a", "b", "c"],
        config=cfg,
        seed=21,
        maker=lambda n, m, d, r: ReadIndexNoConfirm(n, m, d, r, cfg),
    )
    old = c.elect_any()
    c.isolate(old)
    c.engines[old].read_index(b"stale")
    c.stabilize()
    assert [rs.ctx for rs in c.reads[old]] == [b"stale"]


def test_a_new_leader_serves_reads_only_after_committing_in_its_term() -> None:
    c = Cluster(["a", "b", "c"])
    c.cut |= {("a", "b"), ("a", "c")}
    c.engines["a"].campaign(pre=False, transfer=False)
    c.engines["a"].become_leader()
    c.engines["a"].read_index(b"early")
    c.stabilize()
    assert c.reads["a"] == []
    c.heal()
    c.tick(2)
    assert [rs.ctx for rs in c.reads["a"]] == [b"early"]
    assert c.reads["a"][0].index >= 1


def test_lease_reads_are_off_by_default() -> None:
    c, leader = _cluster()
    assert not RaftConfig().lease_reads
    c.tick(2)
    c.isolate(leader)
    c.engines[leader].read_index(b"r")
    c.stabilize()
    assert c.reads[leader] == []


def test_lease_reads_skip_the_round_only_while_the_lease_holds() -> None:
    cfg = RaftConfig(lease_reads=True, lease_drift_ticks=2)
    c, leader = _cluster(cfg)
    c.tick(1)
    c.isolate(leader)
    c.engines[leader].read_index(b"in-lease")
    c.stabilize()
    assert [rs.ctx for rs in c.reads[leader]] == [b"in-lease"]
    c.tick(cfg.lease_ticks, nodes=[leader])
    c.engines[leader].read_index(b"expired")
    c.stabilize()
    assert [rs.ctx for rs in c.reads[leader]] == [b"in-lease"]


def test_lease_is_shorter_than_the_followers_stickiness() -> None:
    cfg = RaftConfig(lease_reads=True, lease_drift_ticks=2)
    assert cfg.lease_ticks < cfg.election_ticks
    c, leader = _cluster(cfg)
    c.tick(1)
    c.isolate(leader)
    others = [n for n in c.engines if n != leader]
    # Until the lease is out, the followers refuse to elect anyone else.
    for _ in range(cfg.lease_ticks):
        c.tick(1, nodes=others)
        assert not any(c.engines[n].role == Role.LEADER for n in others)


def test_lease_reads_need_check_quorum() -> None:
    with pytest.raises(UsageError):
        RaftConfig(lease_reads=True, check_quorum=False)
    with pytest.raises(UsageError):
        RaftConfig(lease_reads=True, lease_drift_ticks=0)


def test_with_lease_reads_a_restarted_node_backs_the_lease_it_forgot() -> None:
    cfg = RaftConfig(lease_reads=True)
    c, leader = _cluster(cfg)
    follower = next(n for n in c.engines if n != leader)
    rogue = next(n for n in c.engines if n not in (leader, follower))
    c.crash(follower)
    c.start(follower)  # it no longer knows the leader...
    c.engines[rogue].campaign(pre=False, transfer=False)
    c.stabilize()
    # ...yet it refuses the rogue's vote request for one election timeout.
    assert c.engines[follower].vote != rogue
    assert c.engines[rogue].role != Role.LEADER


def _heartbeats(c: Cluster, leader: str) -> int:
    return sum(
        1 for rd in c.readies[leader] for m in rd.send_now if m.type == MessageType.HEARTBEAT
    )


def test_reads_between_two_rounds_share_one_quorum_round() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    before = _heartbeats(c, leader)
    for i in range(20):
        lead.read_index(b"r%d" % i)
    c.stabilize()
    assert [rs.ctx for rs in c.reads[leader]] == [b"r%d" % i for i in range(20)]
    assert _heartbeats(c, leader) - before == 2  # one round, to each of two followers


def test_a_read_is_never_answered_by_a_round_sent_before_it_arrived() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    lead.read_index(b"early")
    assert c.process(leader)  # round N goes out
    lead.read_index(b"late")  # arrives while round N is in flight
    while c.deliver_one():  # followers answer round N ...
        for nid in c.engines:
            if nid != leader:
                c.process(nid)
    assert [rs.ctx for rs in lead.read_states] == [b"early"]
    c.stabilize()  # ... and only round N + 1 releases the late read
    assert [rs.ctx for rs in c.reads[leader]] == [b"early", b"late"]
