"""Linearizable reads (a read index confirmed by a PING round through the leader),
membership one server at a time (observers), and leadership transfer."""

from __future__ import annotations

import pytest
from zab_harness import Cluster, Disk

from senate.consensus.types import ConfChange, ConfChangeOp, Membership, Role
from senate.errors import ConfigChangeInProgress, NotLeader
from senate.zab.errors import InvalidConfChange, LearnerNotCaughtUp


def test_leader_read_waits_for_a_quorum_round() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.propose(leader, b"x")
    c.tick(2)
    c.engines[leader].read_index(b"r1")
    c.stabilize()
    assert [r.ctx for r in c.reads[leader]] == [b"r1"]
    assert c.reads[leader][0].index == c.engines[leader].log.committed


def test_isolated_leader_serves_no_read() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.isolate(leader)
    c.engines[leader].read_index(b"stale?")
    c.stabilize()
    c.tick(3)
    assert c.reads[leader] == []


def test_follower_reads_through_the_leader() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.propose(leader, b"x", b"y")
    follower = next(n for n in "abc" if n != leader)
    c.engines[follower].read_index(b"f1")
    c.stabilize()
    assert [r.ctx for r in c.reads[follower]] == [b"f1"]
    assert c.reads[follower][0].index >= 2


def test_looking_node_has_no_leader_to_read_from() -> None:
    c = Cluster(["a", "b", "c"])
    with pytest.raises(NotLeader):
        c.engines["a"].read_index(b"r")


def test_observer_joins_catches_up_and_is_promoted() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.propose(leader, b"x", b"y")
    c.engines[leader].propose_membership(ConfChange(ConfChangeOp.ADD_LEARNER, "d"))
    with pytest.raises(ConfigChangeInProgress):  # one uncommitted change at a time
        c.engines[leader].propose_membership(ConfChange(ConfChangeOp.ADD_LEARNER, "e"))
    c.tick(2)
    # The new node starts knowing it is an observer.
    c.disks["d"] = Disk()
    c.synced["d"] = Disk()
    c.start("d", Membership(frozenset("abc"), frozenset("d")))
    c.tick(10)
    assert c.engines["d"].status().role == Role.LEARNER
    assert c.sm["d"] == [b"x", b"y"]
    c.propose(leader, b"z")
    c.tick(2)
    assert c.sm["d"] == [b"x", b"y", b"z"]
    c.engines[leader].propose_membership(ConfChange(ConfChangeOp.PROMOTE, "d"))
    c.tick(2)
    assert c.engines[leader].membership.voters == frozenset("abcd")
    assert c.engines["d"].status().role == Role.FOLLOWER
    c.engines[leader].propose_membership(
        ConfChange(ConfChangeOp.REMOVE, "a" if leader != "a" else "b")
    )
    c.tick(2)
    assert len(c.engines[leader].membership.voters) == 3


def test_membership_rules() -> None:
    c = Cluster(["a", "b", "c"], learners=("d",))
    leader = c.elect()
    with pytest.raises(InvalidConfChange):
        c.engines[leader].propose_membership(ConfChange(ConfChangeOp.ADD_LEARNER, "b"))
    with pytest.raises(InvalidConfChange):
        c.engines[leader].propose_membership(ConfChange(ConfChangeOp.PROMOTE, "b"))
    c.crash("d")
    with pytest.raises(LearnerNotCaughtUp):
        c.engines[leader].propose_membership(ConfChange(ConfChangeOp.PROMOTE, "d"))


def test_removed_leader_steps_down_once_its_removal_commits() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.engines[leader].propose_membership(ConfChange(ConfChangeOp.REMOVE, leader))
    c.stabilize()
    c.tick(3)
    assert c.engines[leader].status().role != Role.LEADER
    rest = [n for n in "abc" if n != leader]
    c.crash(leader)
    new = c.elect()
    assert new in rest
    c.propose(new, b"after")
    c.tick(2)
    assert all(c.sm[n][-1] == b"after" for n in rest)


@pytest.mark.parametrize("target_index", [0, 1])
def test_leadership_transfer(target_index: int) -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.propose(leader, b"x")
    target = [n for n in "abc" if n != leader][target_index]
    c.engines[leader].transfer_leadership(target)
    c.stabilize()
    new = c.elect()
    assert new == target
    c.propose(new, b"y")
    c.tick(2)
    assert all(c.sm[n] == [b"x", b"y"] for n in "abc")
