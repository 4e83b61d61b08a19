"""Replication: commit rule, conflict hints, flow control, restart, snapshots."""

from __future__ import annotations

from dataclasses import replace

import pytest
from raft_harness import Cluster, Disk

from senate.consensus.types import Entry, EntryKind, HardState, Role
from senate.errors import NotLeader
from senate.raft import Raft, RaftConfig
from senate.raft.messages import MessageType, RaftMessage
from senate.raft.mutants import CommitPastLastNew, CommitPrevTerm


def _entries(terms: list[int]) -> list[Entry]:
    return [Entry(i + 1, t, EntryKind.NORMAL, b"%d" % (i + 1)) for i, t in enumerate(terms)]


def test_proposals_replicate_and_apply_in_order_everywhere() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    c.propose(leader, *[b"v%d" % i for i in range(20)])
    for nid in c.engines:
        assert c.commands(nid) == [b"v%d" % i for i in range(20)]
    follower = next(n for n in c.engines if n != leader)
    with pytest.raises(NotLeader) as info:
        c.engines[follower].propose(b"x")
    assert info.value.leader == leader


def test_divergent_suffix_is_repaired_in_a_few_round_trips() -> None:
    # a and c: 3 entries of term 1 then 40 of term 4; b: 3 of term 1, 50 of term 2,
    # 50 of term 3. Without hints b's repair would take ~100 rejections.
    good = [1] * 3 + [4] * 40
    bad = [1] * 3 + [2] * 50 + [3] * 50
    c = Cluster(["a", "b", "c"])
    for nid, terms in (("a", good), ("b", bad), ("c", good)):
        c.set_disk(nid, Disk(HardState(term=4, commit=3), None, _entries(terms)))
        c.start(nid)
    c.campaign("a")
    assert c.engines["a"].role == Role.LEADER
    c.tick(3)
    rejections = [
        m for m in c.delivered if m.type == MessageType.APP_RESP and m.reject and m.src == "b"
    ]
    assert 1 <= len(rejections) <= 3
    assert [e.term for e in c.disks["b"].entries] == [*good, c.engines["a"].term]
    assert c.commands("b") == c.commands("a")


def _commit_hints(cls: type[Raft]) -> bool:
    """conflict_hints=False: b hints its commit index (3), so the leader resends from
    4 one entry at a time (max_msg_entries=1) while b's log runs on past each append
    with stale term-2 entries. True if b committed only entries the leader holds."""
    good = [1] * 3 + [4] * 10
    bad = [1] * 3 + [4] * 2 + [2] * 8
    cfg = RaftConfig(conflict_hints=False, max_msg_entries=1, max_inflight=1)
    c = Cluster(["a", "b", "c"], maker=lambda nid, m, d, r: cls(nid, m, d, r, cfg))
    for nid, terms in (("a", good), ("b", bad), ("c", good)):
        commit = 3 if nid == "b" else 13
        c.set_disk(nid, Disk(HardState(term=4, commit=commit), None, _entries(terms)))
        c.start(nid)
    c.campaign("a")
    hints = [m for m in c.delivered if m.type == MessageType.APP_RESP and m.src == "b"]
    assert any(m.reject and m.reject_hint == 3 and m.log_term == 0 for m in hints)
    for _ in range(20):
        c.tick(1)
        commit = c.engines["b"].log.committed
        if c.disks["b"].entries[:commit] != c.disks["a"].entries[:commit]:
            return False
    assert c.commands("b") == c.commands("a")
    return True


def test_commit_index_hints_resend_held_entries_and_commit_stops_at_the_last_new() -> None:
    assert _commit_hints(Raft)
    assert not _commit_hints(CommitPastLastNew)


def _figure8(cls: type | None) -> Cluster:
    """Leader s1 of term 4 has index 2 (term 2) on a majority but none of its term-4 entry."""
    maker = None
    if cls is not None:
        maker = lambda nid, m, d, r: cls(nid, m, d, r, RaftConfig())  # noqa: E731
    c = Cluster(["s1", "s2", "s3", "s4", "s5"], maker=maker)
    logs = {"s1": [1, 2], "s2": [1, 2], "s3": [1], "s4": [1], "s5": [1, 3]}
    for nid, terms in logs.items():
        c.set_disk(nid, Disk(HardState(term=3, commit=1), None, _entries(terms)))
        c.start(nid)
    c.partition({"s1", "s2", "s3"}, {"s4", "s5"})

    def strip_term4(m: RaftMessage) -> RaftMessage | None:
        if m.type != MessageType.APP:
            return m
        return replace(m, entries=tuple(e for e in m.entries if e.term < 4))

    c.rewrite = strip_term4
    c.campaign("s1")
    assert c.engines["s1"].role == Role.LEADER and c.engines["s1"].term == 4
    c.tick(3)
    return c


def test_figure8_previous_term_entry_is_not_committed_by_counting() -> None:
    c = _figure8(None)
    s1 = c.engines["s1"]
    assert s1.progress["s2"].match == 2 and s1.progress["s3"].match == 2
    assert s1.log.committed == 1
    # s5 may now win and overwrite index 2: nobody applied it, so that is safe.
    c.crash("s1")
    c.heal()
    c.rewrite = lambda m: m
    for nid in ("s2", "s3", "s4"):
        c.engines[nid].election_elapsed = 10  # s1's leadership has timed out there
    c.campaign("s5")  # rejected: its term (3) is behind; it learns term 4
    c.campaign("s5")
    assert c.engines["s5"].role == Role.LEADER
    c.tick(2)
    for nid in ("s2", "s3", "s4", "s5"):
        assert [e.term for e in c.disks[nid].entries][:2] == [1, 3]


def test_figure8_mutant_commits_the_old_entry() -> None:
    c = _figure8(CommitPrevTerm)
    assert c.engines["s1"].log.committed == 2  # the bug the test above guards against


def test_pipelining_and_batching_limits_are_respected() -> None:
    cfg = RaftConfig(max_msg_entries=4, max_msg_bytes=350, max_inflight=3)
    c = Cluster(["a", "b", "c"], config=cfg, seed=7)
    c.campaign("a")
    c.tick(2)
    c.cut.add(("a", "b"))  # b hears nothing, so it acks nothing
    sent_before = len(c.readies["a"])
    for i in range(50):
        c.engines["a"].propose((b"%03d" % i).ljust(100, b"."))
    c.stabilize()
    to_b = [
        m
        for rd in c.readies["a"][sent_before:]
        for m in rd.send_now
        if isinstance(m, RaftMessage) and m.type == MessageType.APP and m.dst == "b"
    ]
    assert 1 <= len([m for m in to_b if m.entries]) <= 3  # the in-flight window
    c.heal()
    c.tick(5)
    all_apps = [
        m
        for rd in c.readies["a"]
        for m in rd.send_now + rd.messages
        if isinstance(m, RaftMessage) and m.type == MessageType.APP
    ]
    assert all(len(m.entries) <= 3 for m in all_apps)  # 3 * 116 bytes <= 350 < 4 * 116
    assert any(len(m.entries) == 3 for m in all_apps)  # batching does happen
    assert len(c.commands("b")) == 50 == len(c.commands("a"))


def test_leader_counts_itself_only_after_its_entries_are_durable() -> None:
    c = Cluster(["a", "b", "c"])
    c.campaign("a")
    a = c.engines["a"]
    c.cut.add(("a", "b"))
    c.cut.add(("a", "c"))
    a.propose(b"x")
    rd = a.ready()
    assert rd.must_sync and [e.data for e in rd.entries] == [b"x"]
    assert any(isinstance(m, RaftMessage) and m.type == MessageType.APP for m in rd.send_now)
    assert a.progress["b"].match < a.log.last_index
    assert a.log.stable < a.log.last_index  # not counted until advance()
    a.advance(rd)
    assert a.log.stable == a.log.last_index


def test_restart_redelivers_committed_entries_and_keeps_term_and_vote() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    c.propose(leader, b"1", b"2", b"3")
    term = c.engines[leader].term
    for nid in list(c.engines):
        c.synced[nid] = c.disks[nid].copy()  # a clean shutdown flushes the commit index
        c.crash(nid)
    for nid in list(c.engines):
        vote = c.engines[nid].vote
        c.start(nid)
        e = c.engines[nid]
        assert (e.term, e.vote) == (term, vote)
        assert e.log.applied == 0 and e.log.committed >= 4
    c.stabilize()
    assert c.commands(leader) == [b"1", b"2", b"3"]
    new = c.elect_any()
    c.propose(new, b"4")
    for nid in c.engines:
        assert c.commands(nid) == [b"1", b"2", b"3", b"4"]


def test_compaction_and_install_snapshot_catch_up_a_far_behind_follower() -> None:
    c = Cluster(["a", "b", "c"])
    c.campaign("a")
    c.isolate("c")
    c.propose("a", *[b"%d" % i for i in range(30)])
    for nid in ("a", "b"):
        c.compact(nid)
    a = c.engines["a"]
    assert a.log.offset == a.log.committed and a.log.entries == []
    c.heal()
    c.tick(3)
    snaps = [m for m in c.delivered if m.type == MessageType.SNAP and m.dst == "c"]
    assert len(snaps) == 1
    assert c.commands("c") == c.commands("a")
    assert c.engines["c"].log.offset == a.log.offset
    assert c.disks["c"].snapshot is not None
    c.propose("a", b"after")
    assert c.commands("c")[-1] == b"after"
    # c restarts from its snapshot plus the entries after it.
    c.crash("c")
    c.start("c")
    assert c.engines["c"].log.applied == a.log.offset
    c.tick(2)  # its commit index was not fsynced: the next heartbeat tells it again
    assert c.commands("c") == c.commands("a")


def test_snapshot_lost_on_the_wire_is_sent_again() -> None:
    c = Cluster(["a", "b", "c"])
    c.campaign("a")
    c.isolate("c")
    c.propose("a", b"x", b"y")
    c.compact("a")
    c.heal()
    dropped = []

    def drop_first_snap(m: RaftMessage) -> RaftMessage | None:
        if m.type == MessageType.SNAP and not dropped:
            dropped.append(m)
            return None
        return m

    c.rewrite = drop_first_snap
    c.tick(30)
    assert dropped
    assert c.commands("c") == [b"x", b"y"]


def test_lost_pipelined_appends_are_recovered() -> None:
    c = Cluster(["a", "b", "c"], seed=3)
    c.campaign("a")
    c.tick(2)
    lost = []

    def lose_some(m: RaftMessage) -> RaftMessage | None:
        if m.type == MessageType.APP and m.dst == "b" and m.entries and len(lost) < 3:
            lost.append(m)
            return None
        return m

    c.rewrite = lose_some
    for i in range(10):
        c.propose("a", b"%d" % i)
    c.tick(10)
    assert len(lost) == 3
    assert c.commands("b") == c.commands("a") and len(c.commands("a")) == 10


def test_a_follower_that_lost_an_acknowledged_tail_is_repaired_by_heartbeats() -> None:
    c = Cluster(["a", "b", "c"], seed=5)
    leader = c.elect_any()
    c.propose(leader, *[b"e%d" % i for i in range(6)])
    lead = c.engines[leader]
    follower = next(n for n in c.engines if n != leader)
    last = lead.log.last_index
    assert lead.progress[follower].match == last
    # A torn WAL tail: the follower comes back without the last entries it acked.
    c.crash(follower)
    torn = c.synced[follower]
    torn.entries = [e for e in torn.entries if e.index <= last - 3]
    c.start(follower)
    assert c.engines[follower].log.last_index == last - 3
    c.tick(3)  # heartbeats only: no new proposal arrives to expose the gap
    assert c.engines[follower].log.last_index == last
    assert lead.progress[follower].match == last
    # And later writes reach it as usual.
    c.propose(leader, b"after")
    assert c.engines[follower].log.last_index == lead.log.last_index
