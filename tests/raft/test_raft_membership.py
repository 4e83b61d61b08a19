"""Membership one server at a time, and leadership transfer."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, EntryKind, Membership, Role
from senate.errors import ConfigChangeInProgress, NotLeader, ProposalDropped
from senate.raft.errors import (
    EngineMisuse,
    InvalidConfChange,
    InvalidTransferTarget,
    LearnerNotCaughtUp,
)
from senate.raft.membership import ConfHistory, decode_bootstrap, encode_bootstrap
from senate.raft.messages import MessageType

ADD, PROMOTE, REMOVE = ConfChangeOp.ADD_LEARNER, ConfChangeOp.PROMOTE, ConfChangeOp.REMOVE


def _cluster() -> tuple[Cluster, str]:
    c = Cluster(["a", "b", "c"], seed=11)
    leader = c.elect_any()
    c.propose(leader, *[b"%d" % i for i in range(10)])
    return c, leader


def test_learner_added_catches_up_is_promoted_then_removed() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    c.add_node("d", Membership(frozenset("abc"), frozenset("d")))
    lead.propose_membership(ConfChange(ADD, "d"))
    assert lead.membership.learners == {"d"}  # effective on append
    with pytest.raises(ConfigChangeInProgress):
        lead.propose_membership(ConfChange(REMOVE, "c"))
    c.stabilize()
    c.tick(3)
    assert c.commands("d") == c.commands(leader)
    assert c.engines["d"].status().role == Role.LEARNER
    # The learner never counts: with b and c cut, nothing commits.
    c.cut |= {(leader, n) for n in "abc" if n != leader}
    c.propose(leader, b"stuck")
    assert lead.log.committed < lead.log.last_index
    c.heal()
    c.tick(2)
    lead.propose_membership(ConfChange(PROMOTE, "d"))
    c.stabilize()
    assert all(e.membership.voters == {"a", "b", "c", "d"} for e in c.engines.values())
    c.tick(2)
    lead.propose_membership(ConfChange(REMOVE, "d"))
    c.stabilize()
    c.tick(2)
    assert lead.membership == Membership(frozenset("abc"))
    c.propose(leader, b"after")
    assert c.commands("a")[-1] == b"after"


def test_promote_refuses_a_learner_that_is_behind() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    c.add_node("d", Membership(frozenset("abc"), frozenset("d")))
    c.isolate("d")
    lead.propose_membership(ConfChange(ADD, "d"))
    c.stabilize()
    with pytest.raises(LearnerNotCaughtUp):
        lead.propose_membership(ConfChange(PROMOTE, "d"))
    assert lead.learner_caught_up("d") is False
    c.heal()
    c.tick(3)
    assert lead.learner_caught_up("d")
    lead.propose_membership(ConfChange(PROMOTE, "d"))


def test_invalid_changes_are_refused() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    with pytest.raises(InvalidConfChange):
        lead.propose_membership(ConfChange(ADD, "b"))
    with pytest.raises(InvalidConfChange):
        lead.propose_membership(ConfChange(PROMOTE, "b"))
    with pytest.raises(InvalidConfChange):
        lead.propose_membership(ConfChange(REMOVE, "zz"))
    follower = next(n for n in c.engines if n != leader)
    with pytest.raises(NotLeader):
        c.engines[follower].propose_membership(ConfChange(ADD, "d"))


def test_new_leader_must_commit_in_its_term_before_a_conf_change() -> None:
    c = Cluster(["a", "b", "c"])
    c.cut |= {("a", "b"), ("a", "c")}
    c.engines["a"].campaign(pre=False, transfer=False)
    c.heal()
    c.engines["a"].become_leader()  # won, but its NOOP is not committed yet
    with pytest.raises(ConfigChangeInProgress):
        c.engines["a"].propose_membership(ConfChange(REMOVE, "c"))


def test_removed_leader_steps_down_after_the_removal_commits() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    lead.propose_membership(ConfChange(REMOVE, leader))
    assert lead.role == Role.LEADER  # still leads until the entry commits...
    with pytest.raises(ProposalDropped):
        lead.propose(b"x")
    c.stabilize()
    assert lead.role == Role.FOLLOWER  # ...then steps down
    others = [n for n in c.engines if n != leader]
    for n in others:
        assert c.engines[n].membership.voters == set(others)
    c.tick(40)
    new = c.leader()
    assert new in others
    c.propose(new, b"y")
    assert all(c.commands(n)[-1] == b"y" for n in others)


def test_membership_survives_restart_from_the_log() -> None:
    c, leader = _cluster()
    c.add_node("d", Membership(frozenset("abc"), frozenset("d")))
    c.engines[leader].propose_membership(ConfChange(ADD, "d"))
    c.stabilize()
    follower = next(n for n in "abc" if n != leader)
    c.crash(follower)
    c.start(follower, Membership(frozenset("abc")))  # initial membership is stale
    assert c.engines[follower].membership.learners == {"d"}


def test_truncated_conf_change_is_undone() -> None:
    c = Cluster(["a", "b", "c"], seed=2)
    c.campaign("a")
    c.tick(2)
    c.isolate("a")
    c.engines["a"].propose_membership(ConfChange(REMOVE, "c"))
    c.stabilize()
    assert c.engines["a"].membership.voters == {"a", "b"}
    for n in ("b", "c"):
        c.engines[n].election_elapsed = 10
    c.campaign("b")
    assert c.engines["b"].role == Role.LEADER
    c.heal()
    c.tick(12)
    assert c.engines["a"].membership.voters == {"a", "b", "c"}


def test_leadership_transfer_hands_over_and_blocks_proposals() -> None:
    c, leader = _cluster()
    target = next(n for n in c.engines if n != leader)
    c.cut.add((leader, target))
    c.engines[leader].propose(b"late")
    c.stabilize()
    c.engines[leader].transfer_leadership(target)
    with pytest.raises(ProposalDropped):
        c.engines[leader].propose(b"x")
    c.heal()
    c.stabilize()  # target catches up, gets TimeoutNow, wins without PreVote
    assert c.leader() == target
    assert any(m.type == MessageType.TIMEOUT_NOW for m in c.delivered)
    assert c.commands(target) == c.commands(leader)
    with pytest.raises(InvalidTransferTarget):
        c.engines[target].transfer_leadership("nobody")


def test_leadership_transfer_aborts_after_an_election_timeout() -> None:
    c, leader = _cluster()
    target = next(n for n in c.engines if n != leader)
    c.isolate(target)
    c.engines[leader].transfer_leadership(target)
    with pytest.raises(ProposalDropped):
        c.engines[leader].propose(b"x")
    c.tick(10, nodes=[leader])
    assert c.engines[leader].role == Role.LEADER
    c.propose(leader, b"x")  # accepted again


def test_snapshot_meta_is_what_compact_keeps_not_a_later_change() -> None:
    c, leader = _cluster()
    lead = c.engines[leader]
    applied = lead.log.applied
    c.cut |= {(leader, n) for n in "abc" if n != leader}
    lead.propose_membership(ConfChange(ADD, "d"))  # appended, never committed
    c.stabilize()
    assert lead.membership.learners == {"d"}
    term, membership = lead.snapshot_meta(applied)
    assert membership == Membership(frozenset("abc"))  # not the uncommitted change
    assert term == lead.log.term(applied)
    lead.compact(applied, b"state")
    assert lead.snapshot is not None
    assert (lead.snapshot.term, lead.snapshot.membership) == (term, membership)
    with pytest.raises(EngineMisuse):
        lead.snapshot_meta(lead.log.last_index + 1)


def test_a_joining_node_outside_the_configuration_never_campaigns() -> None:
    c, leader = _cluster()
    # Started as `senate node --join` starts it: the voters it knows exclude it.
    c.add_node("d", Membership(frozenset("abc")))
    term = c.engines[leader].term
    c.cut |= {(leader, "d"), ("d", leader)}  # it hears from nobody: its timer runs out
    c.tick(60)
    d = c.engines["d"]
    assert d.role == Role.FOLLOWER and d.term == 0
    assert not any(m.src == "d" for m in c.delivered)
    c.heal()
    c.engines[leader].propose_membership(ConfChange(ADD, "d"))
    c.tick(3)
    assert d.status().role == Role.LEARNER and c.engines[leader].term == term
    assert c.engines[leader].learner_caught_up("d")


def test_a_joiner_takes_the_initial_voters_from_the_log_not_from_its_cluster_flag() -> None:
    # The reviewer's scenario: voters {a,b,c}, learner x added but not promoted.
    c, leader = _cluster()
    lead = c.engines[leader]
    c.add_node("x", Membership(frozenset("abc")))
    lead.propose_membership(ConfChange(ADD, "x"))
    c.stabilize()
    c.tick(3)
    # n5 started with `--join --cluster a,b,c,x,n5`: it guesses x is a voter.
    c.add_node("n5", Membership(frozenset("abcx")))
    lead.propose_membership(ConfChange(ADD, "n5"))
    c.stabilize()
    c.tick(3)
    n5 = c.engines["n5"]
    assert n5.log.entries[0].index == 1  # it replayed the leader's log from index 1
    truth = Membership(frozenset("abc"), frozenset({"x", "n5"}))
    assert lead.membership == truth
    assert n5.membership == truth
    assert n5.status().role == Role.LEARNER
    lead.propose_membership(ConfChange(PROMOTE, "n5"))
    c.stabilize()
    promoted = Membership(frozenset({"a", "b", "c", "n5"}), frozenset("x"))
    assert all(e.membership == promoted for e in c.engines.values())
    # A restart replays the same history from its disk.
    c.crash("n5")
    c.start("n5", Membership(frozenset("abcx")))
    assert c.engines["n5"].membership == promoted


def test_a_fresh_clusters_first_leader_writes_the_full_membership_at_index_1() -> None:
    c = Cluster(["a", "b", "c"], learners=("l",), seed=5)
    leader = c.elect_any()
    first = c.engines[leader].log.entries[0]
    assert (first.index, first.kind) == (1, EntryKind.CONF_BOOTSTRAP)
    assert decode_bootstrap(first.data) == Membership(frozenset("abc"), frozenset("l"))
    assert all(e.log.committed >= 1 for e in c.engines.values())  # it does the NOOP's job
    c.propose(leader, b"v")
    assert c.commands("l") == [b"v"]
    # A later leader has a log: it writes a NOOP, never a second bootstrap.
    c.isolate(leader)
    c.tick(60)
    new = c.leader()
    assert new != leader
    kinds = [e.kind for e in c.engines[new].log.entries]
    assert kinds.count(EntryKind.CONF_BOOTSTRAP) == 1 and kinds[-1] == EntryKind.NOOP


def test_replay_a_bootstrap_replaces_the_base_and_truncating_it_restores_the_base() -> None:
    guess = Membership(frozenset("abcx"))
    real = Membership(frozenset("abc"), frozenset("x"))
    h = ConfHistory(0, guess)
    assert h.on_append([Entry(1, 1, EntryKind.CONF_BOOTSTRAP, encode_bootstrap(real))])
    assert h.current == real and h.at(0) == guess and h.at(1) == real
    h.on_append([Entry(2, 1, EntryKind.CONF_CHANGE, ConfChange(ADD, "x").encode())])
    assert h.current == real  # "already a member": skipped, as on every node
    h.compact(2)
    assert h.steps == [(2, real)]
    h2 = ConfHistory(0, guess)
    h2.on_append([Entry(1, 1, EntryKind.CONF_BOOTSTRAP, encode_bootstrap(real))])
    assert h2.truncate_from(1) and h2.current == guess
