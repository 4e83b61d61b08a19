"""Rejoin liveness: a follower cut off from its leader for a long time, in either
direction, is brought back by the leader alone once the link carries messages again.

The simulator's post-heal catch-up check (sim/runner.py) relies on this. Its raft
failures (13 in seeds 1..1000) were not a core bug: a message sent before the final
heal took a multi-second latency tail and the simulated FIFO link held every later
message behind it past the deadline (fixed in the simulator: the final heal restarts
the links). These tests pin the core's side of the contract with lost messages:
no election, no new term, just heartbeats and their answers.
"""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from senate.consensus.types import Role
from senate.raft import RaftConfig
from senate.raft.progress import ProgressState

IDS = ["a", "b", "c", "d", "e"]


def _cluster(max_inflight: int, seed: int) -> tuple[Cluster, str]:
    c = Cluster(IDS, config=RaftConfig(max_inflight=max_inflight), seed=seed)
    leader = c.elect_any()
    c.propose(leader, b"x0", b"x1")
    return c, leader


def _cut_one_way(c: Cluster, src: str, dst: str) -> None:
    c.cut.add((src, dst))


@pytest.mark.parametrize("max_inflight", [1, 4, 16])
@pytest.mark.parametrize("compact", [False, True])
def test_follower_deaf_to_its_leader_for_long_rejoins_without_an_election(
    max_inflight: int, compact: bool
) -> None:
    c, leader = _cluster(max_inflight, seed=11)
    follower = next(n for n in IDS if n != leader)
    term = c.engines[leader].term
    _cut_one_way(c, leader, follower)  # its answers still flow, nothing reaches it
    for i in range(20):
        c.propose(leader, b"y%d" % i)
        c.tick(3)
    f = c.engines[follower]
    # It timed out and pre-campaigns in vain: the others still hear the leader.
    assert f.role == Role.PRE_CANDIDATE and f.term == term
    assert c.engines[leader].role == Role.LEADER
    if compact:
        c.compact(leader)  # what it misses is now only in the snapshot
    c.heal()
    c.tick(4)
    assert f.role == Role.FOLLOWER and f.lead == leader and f.term == term
    assert c.commands(follower) == c.commands(leader)
    assert len(c.commands(leader)) == 22


@pytest.mark.parametrize("max_inflight", [1, 4, 16])
def test_follower_whose_answers_are_lost_for_long_is_caught_up_when_they_flow(
    max_inflight: int,
) -> None:
    c, leader = _cluster(max_inflight, seed=12)
    follower = next(n for n in IDS if n != leader)
    lead = c.engines[leader]
    _cut_one_way(c, follower, leader)  # it hears the leader; the leader never hears it
    for i in range(20):
        c.propose(leader, b"y%d" % i)
        c.tick(3)
    pr = lead.progress[follower]
    assert pr.is_paused()  # flow control waits for answers that never come
    assert lead.role == Role.LEADER  # a quorum still answers
    c.heal()
    c.tick(4)
    assert pr.state == ProgressState.REPLICATE and pr.match == lead.log.last_index
    assert c.engines[follower].log.committed == lead.log.committed
    assert c.commands(follower) == c.commands(leader)
    assert len(c.commands(leader)) == 22
