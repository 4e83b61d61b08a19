"""Lagging replicas catch up from the leader's log, or from a snapshot."""

from __future__ import annotations

import pytest
from paxos_harness import Cluster

from senate.paxos.errors import EngineMisuse
from senate.paxos.messages import MessageType as MT


def test_a_lagging_acceptor_catches_up_from_the_log() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    lagger = next(n for n in c.engines if n != leader)
    c.isolate(lagger)
    c.propose(leader, *[b"%d" % i for i in range(12)])
    assert c.commands(lagger) == []
    c.heal()
    mark = len(c.delivered)
    c.tick(3)
    assert c.commands(lagger) == c.commands(leader)
    assert not [m for m in c.since(mark) if m.snapshot is not None]


def test_a_replica_behind_a_compacted_log_gets_a_snapshot() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    lagger = next(n for n in c.engines if n != leader)
    c.isolate(lagger)
    c.propose(leader, *[b"%d" % i for i in range(30)])
    snap_at = c.compact(leader)
    assert c.engines[leader].log.offset == snap_at == 30
    c.propose(leader, b"30", b"31")
    c.heal()
    mark = len(c.delivered)
    c.tick(4)
    snaps = [m for m in c.since(mark) if m.type == MT.ACCEPT and m.snapshot is not None]
    assert snaps and snaps[0].dst == lagger and snaps[0].snapshot.index == snap_at
    assert any(rd.snapshot is not None for rd in c.readies[lagger])
    assert c.commands(lagger) == [b"%d" % i for i in range(32)]
    # it now follows the log again
    c.propose(leader, b"32")
    assert c.commands(lagger)[-1] == b"32"


def test_a_candidate_behind_a_compacted_log_adopts_the_snapshot_in_phase_one() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    lagger = next(n for n in c.engines if n != leader)
    c.isolate(lagger)
    c.propose(leader, *[b"%d" % i for i in range(20)])
    for nid in c.engines:
        if nid != lagger:
            c.compact(nid)
    c.crash(leader)
    c.heal()
    # only the lagger and one compacted acceptor are up; a transfer-marked
    # prepare skips the wait for the acceptor's leader lease to run out
    c.engines[lagger].campaign(transfer=True)
    c.stabilize()
    assert c.engines[lagger].role.value == "leader"
    c.propose(lagger, b"new")
    assert c.commands(lagger) == [b"%d" % i for i in range(20)] + [b"new"]


def test_snapshot_meta_names_what_compact_keeps() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    c.propose(leader, b"x", b"y")
    eng = c.engines[leader]
    term, membership = eng.snapshot_meta(2)
    assert term == eng.ballot and membership == c.membership
    c.compact(leader)
    assert eng.snapshot is not None and (eng.snapshot.index, eng.snapshot.term) == (2, term)
    with pytest.raises(EngineMisuse):
        eng.snapshot_meta(3)  # beyond the applied index
