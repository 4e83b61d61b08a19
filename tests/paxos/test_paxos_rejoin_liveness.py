"""Liveness when a member holds a promise above the leader's ballot.

An acceptor refuses every phase-2 message below its promise (safety), so the
leader must re-run phase 1 above that promise, or the member never catches up.
That held for voters only: a learner (here a removed voter that rejoins as a
learner with its old disk, its promise raised by campaigns while cut off) was
refused forever, and so could never be promoted.
"""

from __future__ import annotations

from paxos_harness import Cluster

from senate.consensus.types import ConfChange, ConfChangeOp, Role
from senate.paxos.messages import MessageType as MT

ADD, REMOVE = ConfChangeOp.ADD_LEARNER, ConfChangeOp.REMOVE


def _rejoined_learner_with_higher_promise() -> tuple[Cluster, str]:
    c = Cluster(["a", "b", "c", "d"], seed=5)
    leader = c.elect_any()
    assert leader != "d"
    c.propose(leader, b"1", b"2")
    c.isolate("d")
    c.tick(60, nodes=["d"])  # d times out again and again: its promise climbs
    c.heal()
    c.cut |= {("d", n) for n in "abc"} | {(n, "d") for n in "abc"}
    lead = c.engines[leader]
    lead.propose_membership(ConfChange(REMOVE, "d"))
    c.stabilize()
    lead.propose_membership(ConfChange(ADD, "d"))  # d rejoins, keeping its disk
    c.stabilize()
    c.propose(leader, b"3")
    assert c.engines["d"].promised > lead.ballot
    assert lead.membership.learners == {"d"}
    c.heal()
    return c, leader


def test_leader_reruns_phase_one_above_a_learners_higher_promise() -> None:
    c, leader = _rejoined_learner_with_higher_promise()
    mark = len(c.delivered)
    c.tick(30)
    refusals = [
        m for m in c.since(mark) if m.src == "d" and m.reject and m.type == MT.HEARTBEAT_RESP
    ]
    assert refusals, "d never refused the lower ballot: the scenario did not happen"
    lead = c.engines[c.leader()]
    d = c.engines["d"]
    assert lead.ballot > refusals[0].ballot  # phase 1 ran again above d's promise
    assert d.log.committed == lead.log.committed
    assert c.commands("d") == c.commands(leader) == [b"1", b"2", b"3"]
    assert d.status().role == Role.LEARNER  # it learned it is no longer a voter
