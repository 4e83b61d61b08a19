"""Acceptors persist promises and accepted values before any answer leaves."""

from __future__ import annotations

from paxos_harness import Cluster

from senate.consensus.types import Ready
from senate.paxos import MultiPaxos, PaxosConfig
from senate.paxos.messages import MessageType as MT
from senate.paxos.messages import PaxosMessage
from senate.paxos.mutants import ReplyBeforePersist

ANSWERS = (MT.PROMISE, MT.ACCEPTED, MT.HEARTBEAT_RESP)


def _run(cls: type[MultiPaxos]) -> Cluster:
    c = Cluster(["a", "b", "c"], maker=lambda nid, m, d, r: cls(nid, m, d, r, PaxosConfig()))
    leader = c.elect_any()
    c.propose(leader, b"x", b"y")
    c.crash(leader)
    c.tick(40)
    c.propose(c.leader(), b"z")
    return c


def _answers(rd: Ready, where: str) -> list[PaxosMessage]:
    msgs = rd.send_now if where == "now" else rd.messages
    return [m for m in msgs if isinstance(m, PaxosMessage) and m.type in ANSWERS]


def test_answers_leave_only_after_a_synced_persist() -> None:
    c = _run(MultiPaxos)
    seen = 0
    for nid, readies in c.readies.items():
        prev_hs = None
        for rd in readies:
            assert not _answers(rd, "now"), nid
            seen += len(_answers(rd, "after"))
            hs = rd.hard_state
            changed = hs is not None and (
                prev_hs is None or (hs.term, hs.vote) != (prev_hs.term, prev_hs.vote)
            )
            if rd.entries or changed:
                assert rd.must_sync, (nid, rd)
            if hs is not None:
                prev_hs = hs
    assert seen > 10


def test_promise_and_accepted_ballot_are_in_the_hard_state() -> None:
    c = _run(MultiPaxos)
    leader = c.leader()
    ballot = c.engines[leader].ballot
    for nid in c.engines:
        if nid in c.down:
            continue
        hs = c.synced[nid].hard_state
        assert hs.term == ballot and hs.vote == str(ballot), nid
        assert [e.data for e in c.synced[nid].entries if e.data] == [b"x", b"y", b"z"]


def test_the_reply_before_persist_mutant_is_seen() -> None:
    c = _run(ReplyBeforePersist)
    assert any(_answers(rd, "now") for rds in c.readies.values() for rd in rds)


def test_a_crashed_acceptor_keeps_what_it_acknowledged() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    follower = next(n for n in c.engines if n != leader)
    c.propose(leader, b"1", b"2", b"3")
    acked = max(m.index for m in c.delivered if m.type == MT.ACCEPTED and m.src == follower)
    c.crash(follower)
    c.start(follower)
    eng = c.engines[follower]
    assert eng.log.last_index >= acked == 3
    assert eng.accepted == eng.promised == c.engines[leader].ballot


def test_a_leader_counts_itself_only_once_its_own_disk_holds_the_slot() -> None:
    c = Cluster(["solo"])
    c.elect_any()
    eng = c.engines["solo"]
    eng.propose(b"x")
    rd = eng.ready()
    assert [e.data for e in rd.entries] == [b"x"] and rd.must_sync
    assert eng.log.committed == 0 and not rd.committed  # not durable yet
    eng.advance(rd)
    assert eng.log.committed == 1
    assert [e.data for e in eng.ready().committed] == [b"x"]
