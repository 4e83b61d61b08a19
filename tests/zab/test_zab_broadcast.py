"""Broadcast: proposals commit on a quorum of ACKs and apply in order; FIFO per
link holds over a reordering, lossy network; the counter roll-over starts a new
epoch; a follower that joins during broadcast misses nothing; durability order."""

from __future__ import annotations

import random

import pytest
from zab_harness import Cluster

from senate.consensus.types import Role
from senate.errors import NotLeader, ProposalDropped
from senate.zab import ZabConfig
from senate.zab.messages import MessageType, ZabMessage


def test_proposals_commit_on_quorum_and_apply_in_order() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    values = [f"v{i}".encode() for i in range(20)]
    c.propose(leader, *values)
    c.tick(2)
    for n in "abc":
        assert c.sm[n] == values
    zxids = [(e.term, e.index) for e in c.applied[leader]]
    assert zxids == sorted(zxids)


def test_no_commit_without_a_quorum_of_acks() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    for n in "abc":
        if n != leader:
            c.crash(n)
    c.propose(leader, b"alone")
    assert c.engines[leader].log.committed < c.engines[leader].log.last_index
    assert b"alone" not in c.sm[leader]


def test_followers_refuse_proposals() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    follower = next(n for n in "abc" if n != leader)
    with pytest.raises(NotLeader) as info:
        c.engines[follower].propose(b"x")
    assert info.value.leader == leader


def test_stream_stays_fifo_over_a_reordering_lossy_network() -> None:
    c = Cluster(["a", "b", "c"], seed=5)
    leader = c.elect()
    rng = random.Random(9)
    values = [f"v{i}".encode() for i in range(40)]
    for i, v in enumerate(values):
        c.engines[leader].propose(v)
        while c.process(leader):
            pass
        q = list(c.queue)
        rng.shuffle(q)  # any order on the wire
        if i % 7 == 3:  # and some proposals lost
            q = [m for m in q if m.type != MessageType.PROPOSAL][:1] + q[1:]
        c.queue.clear()
        c.queue.extend(q)
        c.stabilize()
    c.tick(20)
    for n in "abc":
        assert c.sm[n] == values, n
    assert c.engines[leader].status().role == Role.LEADER


def test_gap_makes_the_follower_register_again() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    follower = next(n for n in "abc" if n != leader)
    attempt = c.engines[follower].attempt
    dropped: list[ZabMessage] = []

    def drop_first_proposal(m: ZabMessage) -> ZabMessage | None:
        if m.type == MessageType.PROPOSAL and m.dst == follower and not dropped:
            dropped.append(m)
            return None
        return m

    c.rewrite = drop_first_proposal
    c.propose(leader, b"p1", b"p2")
    c.tick(6)
    assert dropped and c.engines[follower].attempt > attempt
    assert c.sm[follower] == [b"p1", b"p2"]


def test_counter_roll_over_forces_a_new_epoch() -> None:
    c = Cluster(["a", "b", "c"], config=ZabConfig(max_counter=5))  # the NOOP and 4
    leader = c.elect()
    epoch = c.engines[leader].status().term
    c.propose(leader, b"1", b"2", b"3", b"4")
    with pytest.raises(ProposalDropped):
        c.engines[leader].propose(b"5")
    assert c.engines[leader].status().role != Role.LEADER
    new = c.elect()
    assert c.engines[new].status().term > epoch
    c.propose(new, b"5")
    c.tick(2)
    for n in "abc":
        assert c.sm[n] == [b"1", b"2", b"3", b"4", b"5"]
    counters = [e.index - c.engines[new].epoch_base for e in c.engines[new].log.entries[-1:]]
    assert counters == [2]  # the counter restarted in the new epoch (1 is its NOOP)


def test_a_follower_joining_during_broadcast_misses_nothing() -> None:
    c = Cluster(["a", "b", "c", "d", "e"])
    leader = c.elect()
    joiner = next(n for n in "abcde" if n != leader)
    c.crash(joiner)
    c.propose(leader, b"before1", b"before2")
    c.restart(joiner)
    c.applied[joiner].clear()  # a restart applies its history again from index 1
    values = [b"before1", b"before2"]
    # Proposals and commits keep flowing while the joiner registers and syncs.
    for i in range(30):
        v = f"during{i}".encode()
        c.engines[leader].propose(v)
        values.append(v)
        c.tick()
    c.tick(3)
    assert c.sm[joiner] == values
    assert [e.index for e in c.applied[joiner]] == list(range(1, len(c.applied[joiner]) + 1))


def test_follower_replies_wait_for_the_persist() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.propose(leader, b"x", b"y")
    c.tick(2)
    replies = (MessageType.ACKEPOCH, MessageType.ACK)
    for n, rds in c.readies.items():
        for rd in rds:
            assert not any(isinstance(m, ZabMessage) and m.type in replies for m in rd.send_now), n
            replying = any(isinstance(m, ZabMessage) and m.type in replies for m in rd.messages)
            if replying and (rd.entries or rd.hard_state is not None):
                # A reply that promises new durable state rides with its fsync.
                assert rd.must_sync


def test_leader_speaks_for_a_new_epoch_only_once_it_is_durable() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    for rd in c.readies[leader]:
        if rd.hard_state is not None and rd.must_sync:
            assert not any(
                isinstance(m, ZabMessage) and m.type == MessageType.NEWEPOCH for m in rd.send_now
            )
    epochs = [
        rd
        for rd in c.readies[leader]
        if any(isinstance(m, ZabMessage) and m.type == MessageType.NEWEPOCH for m in rd.messages)
    ]
    assert epochs and all(rd.must_sync and rd.hard_state is not None for rd in epochs[:1])


def test_restart_from_durable_state_keeps_every_commit() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.propose(leader, b"x", b"y", b"z")
    c.tick(2)
    for n in "abc":
        c.crash(n)
    for n in "abc":
        c.applied[n] = []
        c.sm[n] = []
        c.restart(n)
    new = c.elect()
    c.propose(new, b"w")
    c.tick(2)
    for n in "abc":
        assert c.sm[n] == [b"x", b"y", b"z", b"w"]
