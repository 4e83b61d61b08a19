"""Leader election by ballots, phase 1 once per ballot, one round trip per command."""

from __future__ import annotations

import pytest
from paxos_harness import Cluster

from senate.consensus.types import Role
from senate.errors import NotLeader, UsageError
from senate.paxos.ballot import check_ranks, make_ballot, next_ballot, rank, round_of
from senate.paxos.messages import MessageType as MT


def test_ballots_order_by_round_then_rank() -> None:
    lo, hi = sorted("ab", key=rank)
    assert make_ballot(1, lo) < make_ballot(1, hi) < make_ballot(2, lo)
    b = make_ballot(3, "a")
    assert round_of(b) == 3 and b % 2**16 == rank("a")
    above = make_ballot(5, "b")
    mine = next_ballot(above, "a")
    assert mine > above and mine % 2**16 == rank("a") and round_of(mine) <= 6
    assert next_ballot(0, "a") == make_ballot(1, "a") > 0


def test_members_sharing_a_rank_are_refused() -> None:
    seen: dict[int, str] = {}
    for i in range(100_000):
        other = seen.setdefault(rank(f"n{i}"), f"n{i}")
        if other != f"n{i}":
            break
    with pytest.raises(UsageError):
        check_ranks([other, f"n{i}"])
    check_ranks(["n1", "n2", "n3", "n4", "n5"])


def test_one_leader_is_elected_and_everybody_follows_it() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    eng = c.engines[leader]
    assert eng.status().protocol == "multipaxos"
    assert eng.status().term == eng.ballot and eng.ballot % 2**16 == rank(leader)
    for nid, e in c.engines.items():
        assert e.status().leader == leader, nid
        assert e.promised == eng.ballot
    follower = next(n for n in c.engines if n != leader)
    with pytest.raises(NotLeader) as info:
        c.engines[follower].propose(b"x")
    assert info.value.leader == leader


def test_phase_one_runs_once_then_one_round_trip_per_command() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    for i in range(10):
        mark = len(c.delivered)
        c.engines[leader].propose(b"cmd%d" % i)
        c.stabilize()
        msgs = c.since(mark)
        assert not [m for m in msgs if m.type in (MT.PREPARE, MT.PROMISE)]
        carrying = [m for m in msgs if m.type == MT.ACCEPT and m.entries]
        # one accept per acceptor carries the command, one answer comes back from each
        assert sorted(m.dst for m in carrying) == sorted(n for n in c.engines if n != leader)
        assert all(m.entries[-1].data == b"cmd%d" % i for m in carrying)
        acks = [m for m in msgs if m.type == MT.ACCEPTED and not m.reject]
        assert len(acks) >= 2
        # the leader chose the slot after those answers alone
        assert c.engines[leader].log.committed == c.engines[leader].log.last_index
    for nid in c.engines:
        assert c.commands(nid) == [b"cmd%d" % i for i in range(10)]


def test_proposals_are_batched_and_pipelined() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    mark = len(c.delivered)
    eng = c.engines[leader]
    for i in range(30):
        eng.propose(b"v%d" % i)
    c.stabilize()
    carrying = [m for m in c.since(mark) if m.type == MT.ACCEPT and m.entries]
    # a burst of 30 proposals made before the driver ran goes out as one batch
    assert len(carrying) == 2 and all(len(m.entries) == 30 for m in carrying)
    assert c.commands("b") == [b"v%d" % i for i in range(30)]


def test_leader_failure_elects_a_higher_ballot_that_keeps_chosen_values() -> None:
    c = Cluster(["a", "b", "c", "d", "e"])
    first = c.elect_any()
    c.propose(first, b"x", b"y")
    old_ballot = c.engines[first].ballot
    c.crash(first)
    c.tick(40)
    second = c.leader()
    assert second != first and c.engines[second].ballot > old_ballot
    c.propose(second, b"z")
    for nid in c.engines:
        if nid != first:
            assert c.commands(nid) == [b"x", b"y", b"z"]


def test_followers_stick_to_a_live_leader() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    ballot = c.engines[leader].ballot
    rebel = next(n for n in c.engines if n != leader)
    c.engines[rebel].campaign()  # a spurious timeout, leader still alive
    c.stabilize()
    c.tick(3)
    # the others ignored the prepare; the leader re-ran phase 1 above the rebel's
    # ballot (preemption) or kept its own: either way there is one leader and the
    # rebel follows it again
    now = c.leader()
    assert c.engines[rebel].role == Role.FOLLOWER
    assert c.engines[rebel].leader == now
    assert now == leader and c.engines[now].ballot >= ballot
    c.propose(now, b"after")
    assert c.commands(rebel) == [b"after"]


def test_partitioned_minority_cannot_elect_or_choose() -> None:
    c = Cluster(["a", "b", "c", "d", "e"])
    leader = c.elect_any()
    minority = {leader, next(n for n in c.engines if n != leader)}
    for a in minority:
        for b in c.engines:
            if b not in minority:
                c.cut.update({(a, b), (b, a)})
    c.engines[leader].propose(b"lost")
    c.tick(40)
    assert c.engines[leader].role != Role.LEADER  # CheckQuorum stepped it down
    majority_leader = c.leader()
    assert majority_leader not in minority
    c.propose(majority_leader, b"kept")
    c.heal()
    c.tick(30)
    for nid in c.engines:
        assert c.commands(nid) == [b"kept"], nid
