"""Membership one server at a time (alpha = 1), and leadership transfer."""

from __future__ import annotations

import pytest
from paxos_harness import Cluster

from senate.consensus.types import ConfChange, ConfChangeOp, Membership, Role
from senate.errors import ConfigChangeInProgress, NotLeader, ProposalDropped
from senate.paxos.errors import InvalidConfChange, InvalidTransferTarget, LearnerNotCaughtUp
from senate.paxos.messages import MessageType as MT

ADD, PROMOTE, REMOVE = ConfChangeOp.ADD_LEARNER, ConfChangeOp.PROMOTE, ConfChangeOp.REMOVE


def _cluster() -> tuple[Cluster, str]:
    c = Cluster(["a", "b", "c"], seed=11)
    leader = c.elect_any()
    c.propose(leader, *[b"%d" % i for i in range(10)])
    return c, leader


def test_learner_is_added_catches_up_is_promoted_then_removed() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    c.add_node("d", Membership(frozenset("abc"), frozenset("d")))
    lead.propose_membership(ConfChange(ADD, "d"))
    assert lead.membership.learners == {"d"}  # governs the slots after it at once
    with pytest.raises(ConfigChangeInProgress):
        lead.propose_membership(ConfChange(REMOVE, "c"))
    with pytest.raises(ProposalDropped):
        lead.propose(b"behind an unchosen change")  # alpha = 1
    c.stabilize()
    c.tick(3)
    assert c.commands("d") == c.commands(leader)
    assert c.engines["d"].status().role == Role.LEARNER
    # A learner is never counted: with the other voters cut, nothing is chosen.
    c.cut |= {(leader, n) for n in "abc" if n != leader}
    c.propose(leader, b"stuck")
    assert lead.log.committed < lead.log.last_index
    c.heal()
    c.tick(2)
    lead.propose_membership(ConfChange(PROMOTE, "d"))
    c.stabilize()
    assert all(e.membership.voters == {"a", "b", "c", "d"} for e in c.engines.values())
    # four voters: a quorum is three, so two alone choose nothing
    others = [n for n in "abc" if n != leader]
    c.cut |= {(leader, others[0]), (leader, others[1])}
    c.propose(leader, b"needs three")
    assert lead.log.committed < lead.log.last_index
    c.heal()
    c.tick(5)  # lost accepts are noticed after a few answered heartbeats
    assert lead.log.committed == lead.log.last_index
    lead.propose_membership(ConfChange(REMOVE, "d"))
    c.stabilize()
    c.tick(2)
    assert lead.membership == Membership(frozenset("abc"))
    c.propose(leader, b"after")
    assert c.commands("a")[-1] == b"after"


def test_membership_changes_are_refused_when_they_make_no_sense() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    follower = next(n for n in "abc" if n != leader)
    with pytest.raises(NotLeader):
        c.engines[follower].propose_membership(ConfChange(ADD, "d"))
    with pytest.raises(InvalidConfChange):
        lead.propose_membership(ConfChange(ADD, "b"))
    with pytest.raises(InvalidConfChange):
        lead.propose_membership(ConfChange(PROMOTE, "zz"))
    with pytest.raises(InvalidConfChange):
        lead.propose_membership(ConfChange(REMOVE, "zz"))
    c.add_node("d", Membership(frozenset("abc"), frozenset("d")))
    c.isolate("d")
    lead.propose_membership(ConfChange(ADD, "d"))
    c.stabilize()
    with pytest.raises(LearnerNotCaughtUp):
        lead.propose_membership(ConfChange(PROMOTE, "d"))


def test_a_leader_that_removes_itself_steps_down_once_that_is_chosen() -> None:
    c, leader = _cluster()
    c.engines[leader].propose_membership(ConfChange(REMOVE, leader))
    c.stabilize()
    c.tick(2)
    assert c.engines[leader].role != Role.LEADER
    c.tick(40)
    new = c.leader()
    assert new != leader
    assert c.engines[new].membership.voters == {"a", "b", "c"} - {leader}
    c.propose(new, b"two voters")
    assert c.commands(new)[-1] == b"two voters"


def test_leadership_transfer_hands_over_to_a_caught_up_voter() -> None:
    c, leader = _cluster()
    target = next(n for n in "abc" if n != leader)
    with pytest.raises(InvalidTransferTarget):
        c.engines[leader].transfer_leadership("zz")
    c.isolate(target)
    c.propose(leader, b"more")
    c.heal()
    c.engines[leader].transfer_leadership(target)
    with pytest.raises(ProposalDropped):
        c.engines[leader].propose(b"during transfer")
    c.stabilize()
    c.tick(2)
    assert c.leader() == target
    assert any(m.type == MT.TIMEOUT_NOW and m.dst == target for m in c.delivered)
    c.propose(target, b"new leader")
    assert c.commands(leader)[-2:] == [b"more", b"new leader"]
