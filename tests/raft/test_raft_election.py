"""Elections: one leader, PreVote, CheckQuorum, leader stickiness."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from senate.consensus.types import Role
from senate.raft import RaftConfig
from senate.raft.messages import MessageType


@pytest.mark.parametrize("seed", range(5))
def test_one_leader_is_elected_and_it_appends_a_noop(seed: int) -> None:
    c = Cluster(["a", "b", "c"], seed=seed)
    leader = c.elect_any()
    term = c.engines[leader].term
    for e in c.engines.values():
        assert e.term == term
        assert e.lead == leader
        assert e.log.committed == 1  # the new leader's NOOP
    assert all(c.applied[n][0].term == term for n in c.engines)


def test_election_timeout_is_randomized_in_range() -> None:
    c = Cluster(["a", "b", "c"], seed=3)
    timeouts = set()
    for e in c.engines.values():
        for _ in range(30):
            e.reset(e.term)
            assert 10 <= e.randomized_timeout < 20
            timeouts.add(e.randomized_timeout)
    assert len(timeouts) > 3


def test_single_node_elects_itself_and_commits_after_persisting() -> None:
    c = Cluster(["a"])
    c.elect_any()
    c.propose("a", b"x")
    assert c.commands("a") == [b"x"]


def test_prevote_keeps_a_partitioned_node_from_raising_its_term() -> None:
    c = Cluster(["a", "b", "c"], seed=2)
    leader = c.elect_any()
    lonely = next(n for n in c.engines if n != leader)
    term = c.engines[leader].term
    c.isolate(lonely)
    c.tick(100)
    assert c.engines[lonely].term == term
    assert c.engines[lonely].role == Role.PRE_CANDIDATE
    c.heal()
    c.tick(5)
    assert c.leader() == leader
    assert c.engines[leader].term == term


def test_without_prevote_a_partitioned_node_disrupts_on_return() -> None:
    cfg = RaftConfig(pre_vote=False, check_quorum=False)
    c = Cluster(["a", "b", "c"], seed=2, config=cfg)
    leader = c.elect_any()
    lonely = next(n for n in c.engines if n != leader)
    term = c.engines[leader].term
    c.isolate(lonely)
    c.tick(100)
    assert c.engines[lonely].term > term + 3  # the control case for the test above


def test_check_quorum_makes_an_isolated_leader_step_down() -> None:
    c = Cluster(["a", "b", "c"], seed=4)
    leader = c.elect_any()
    c.isolate(leader)
    c.tick(25)
    assert c.engines[leader].role == Role.FOLLOWER
    others = [n for n in c.engines if n != leader]
    new = [n for n in others if c.engines[n].role == Role.LEADER]
    assert len(new) == 1


def test_followers_with_a_live_leader_ignore_vote_requests() -> None:
    c = Cluster(["a", "b", "c"], seed=5)
    leader = c.elect_any()
    rogue = next(n for n in c.engines if n != leader)
    term = c.engines[leader].term
    # A rogue campaign without PreVote: the others heard from the leader recently.
    c.engines[rogue].campaign(pre=False, transfer=False)
    c.stabilize()
    for n, e in c.engines.items():
        if n != rogue:
            assert e.term == term
    assert c.engines[leader].role == Role.LEADER


def test_vote_replies_wait_for_the_persist_and_must_sync_is_set() -> None:
    c = Cluster(["a", "b", "c"], seed=6)
    c.engines["a"].hup()
    c.stabilize()
    for nid, readies in c.readies.items():
        prev_term, prev_vote = 0, None
        for rd in readies:
            kinds = {m.type for m in rd.send_now}  # type: ignore[attr-defined]
            durable_only = {MessageType.VOTE_RESP, MessageType.PRE_VOTE_RESP, MessageType.APP_RESP}
            assert not kinds & durable_only
            if rd.hard_state is not None:
                hs = rd.hard_state
                if (hs.term, hs.vote) != (prev_term, prev_vote):
                    assert rd.must_sync, nid
                prev_term, prev_vote = hs.term, hs.vote
            if rd.entries:
                assert rd.must_sync
            replies = [m for m in rd.messages if m.type == MessageType.VOTE_RESP]  # type: ignore[attr-defined]
            if replies and not replies[0].reject:  # type: ignore[attr-defined]
                assert rd.hard_state is not None and rd.hard_state.vote == replies[0].dst  # type: ignore[attr-defined]


def test_a_new_leader_sends_nothing_before_its_term_is_durable() -> None:
    c = Cluster(["a"], learners=("l",))
    c.engines["a"].hup()
    rd = c.engines["a"].ready()
    assert rd.hard_state is not None and rd.hard_state.term == 1
    assert rd.send_now == []  # appends to the learner wait for the term's fsync
    assert any(m.type == MessageType.APP for m in rd.messages)  # type: ignore[attr-defined]
    assert rd.committed == []  # the NOOP is not durable yet
    c.engines["a"].advance(rd)
    c.stabilize()
    assert c.engines["a"].log.committed == 1
