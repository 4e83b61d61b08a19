"""Linearizable reads: the leader confirms its ballot with a quorum round first."""

from __future__ import annotations

from paxos_harness import Cluster

from senate.paxos import MultiPaxos, PaxosConfig
from senate.paxos.messages import MessageType as MT
from senate.paxos.mutants import ReadWithoutQuorum


def test_leader_read_waits_for_a_quorum_heartbeat_round() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    c.propose(leader, b"x", b"y")
    mark = len(c.delivered)
    c.engines[leader].read_index(b"r1")
    assert not c.engines[leader].read_states  # not before the round
    c.stabilize()
    assert [(r.index, r.ctx) for r in c.reads[leader]] == [(2, b"r1")]
    assert any(m.type == MT.HEARTBEAT_RESP for m in c.since(mark))


def test_follower_read_is_forwarded_to_the_leader() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    c.propose(leader, b"x")
    follower = next(n for n in c.engines if n != leader)
    c.engines[follower].read_index(b"f1")
    c.stabilize()
    assert [(r.index, r.ctx) for r in c.reads[follower]] == [(1, b"f1")]


def test_an_isolated_leader_serves_no_read() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    c.propose(leader, b"x")
    c.isolate(leader)
    c.engines[leader].read_index(b"stale?")
    c.tick(5)
    assert c.reads[leader] == []


def _stale_read(cls: type[MultiPaxos]) -> list[int]:
    """An old leader cut off while a new one chooses a write: what index does it read at?"""
    c = Cluster(["a", "b", "c"], maker=lambda nid, m, d, r: cls(nid, m, d, r, PaxosConfig()))
    old = c.elect_any()
    c.propose(old, b"x")
    c.isolate(old)
    others = [n for n in c.engines if n != old]
    c.tick(40, nodes=others)
    new = next(n for n in c.leaders() if n != old)
    c.propose(new, b"y")
    c.engines[old].read_index(b"old-leader")
    c.stabilize()
    return [r.index for r in c.reads[old]]


def test_a_deposed_leader_does_not_serve_a_stale_read() -> None:
    assert _stale_read(MultiPaxos) == []


def test_the_read_without_quorum_mutant_serves_one() -> None:
    assert _stale_read(ReadWithoutQuorum) == [1]  # y (slot 2) was chosen meanwhile


def test_reads_wait_until_the_new_leader_chose_its_re_proposed_log() -> None:
    c = Cluster(["a", "b", "c"])
    first = c.elect_any()
    c.propose(first, b"x")
    c.crash(first)
    c.tick(40)
    lead = c.engines[c.leader()]
    assert lead.log.committed >= lead.sync_end
    lead.read_index(b"r")
    c.stabilize()
    assert c.reads[lead.node_id][-1].index >= lead.sync_end
