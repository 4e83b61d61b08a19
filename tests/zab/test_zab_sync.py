"""Synchronization: the leader brings each follower to its history with DIFF,
TRUNC (uncommitted proposals it lacks) or SNAP (from its snapshot), then NEWLEADER."""

from __future__ import annotations

from zab_harness import Cluster

from senate.consensus.types import EntryKind
from senate.zab.messages import MessageType, SyncMode, ZabMessage


def _syncs_to(c: Cluster, nid: str) -> list[ZabMessage]:
    return [m for m in c.sent(MessageType.SYNC) if m.dst == nid]


def test_diff_brings_a_lagging_follower_up_to_date() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    lag = next(n for n in "abc" if n != leader)
    c.crash(lag)
    c.propose(leader, b"x1", b"x2", b"x3")
    c.tick(2)
    c.restart(lag)
    c.tick(15)
    last = _syncs_to(c, lag)[-1]
    assert last.mode == SyncMode.DIFF
    assert [e.data for e in last.entries] == [b"x1", b"x2", b"x3"]
    assert c.sm[lag] == [b"x1", b"x2", b"x3"] == c.sm[leader]


def test_trunc_removes_uncommitted_proposals_of_a_dead_epoch() -> None:
    c = Cluster(["a", "b", "c"])
    old = c.elect()
    c.propose(old, b"committed")
    c.tick(2)
    c.isolate(old)
    c.propose(old, b"lost1", b"lost2")  # only the old leader ever holds these
    assert [e.data for e in c.engines[old].log.entries][-2:] == [b"lost1", b"lost2"]
    c.tick(30)
    new = c.elect()
    assert new != old
    c.propose(new, b"y")
    c.heal()
    c.tick(15)
    trunc = [m for m in _syncs_to(c, old) if m.mode == SyncMode.TRUNC]
    assert trunc, "the old leader was not truncated"
    assert c.log_of(old) == c.log_of(new)
    assert b"lost1" not in [e.data for e in c.engines[old].log.entries]
    assert c.sm[old] == [b"committed", b"y"]


def test_snap_when_the_follower_is_behind_the_snapshot() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    lag = next(n for n in "abc" if n != leader)
    c.crash(lag)
    c.propose(leader, *[f"v{i}".encode() for i in range(10)])
    c.tick(2)
    index = c.compact(leader)
    assert index >= 10
    c.restart(lag)
    c.tick(15)
    snaps = [m for m in _syncs_to(c, lag) if m.mode == SyncMode.SNAP]
    assert snaps and snaps[-1].snapshot is not None and snaps[-1].snapshot.index == index
    assert c.sm[lag] == c.sm[leader] == [f"v{i}".encode() for i in range(10)]
    c.propose(leader, b"after")
    c.tick(2)
    assert c.sm[lag][-1] == b"after"


def test_newleader_follows_the_sync_and_commits_the_initial_history() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    c.propose(leader, b"x")
    c.tick(2)
    c.isolate(leader)
    c.tick(30)
    c.heal()
    new = c.elect()
    eng = c.engines[new]
    assert eng.log.committed >= eng.epoch_base  # the initial history is committed
    for n in "abc":
        per_dst = [m for m in c.delivered if m.dst == n and m.src == new]
        kinds = [m.type for m in per_dst if m.type in (MessageType.SYNC, MessageType.NEWLEADER)]
        if kinds:
            assert kinds[0] == MessageType.SYNC and kinds[1] == MessageType.NEWLEADER


def test_a_trunc_with_nothing_after_it_reaches_the_disk() -> None:
    # Seed 351 (`senate sim --seed 351 --faults all,membership --protocol zab`):
    # the cut was only in memory, a restart brought the dead epoch's proposals back
    # (there, a membership change: two leaders of one epoch with disjoint quorums).
    c = Cluster(["a", "b", "c"])
    old = c.elect()
    c.propose(old, b"committed")
    c.tick(2)
    c.isolate(old)
    c.propose(old, b"lost1", b"lost2")
    c.tick(30)
    new = c.elect()
    assert new != old
    c.heal()
    c.tick(15)
    trunc = [m for m in _syncs_to(c, old) if m.mode == SyncMode.TRUNC]
    # The cut is followed by the new epoch's NOOP, written over the cut on disk.
    assert trunc and [e.kind for e in trunc[-1].entries] == [EntryKind.NOOP]
    assert c.log_of(old) == c.log_of(new)
    c.crash(old)
    c.restart(old)
    assert b"lost1" not in [e.data for e in c.engines[old].log.entries]
    assert c.log_of(old) == c.log_of(new)
