"""A new leader learns what may be chosen: re-proposal, hole filling, restart."""

from __future__ import annotations

from paxos_harness import Cluster, accepted_disk

from senate.consensus.types import Entry, EntryKind, Role
from senate.paxos import MultiPaxos, PaxosConfig
from senate.paxos.ballot import make_ballot
from senate.paxos.messages import MessageType as MT
from senate.paxos.mutants import IgnorePromisedValues

B1 = make_ballot(1, "a")
B2 = make_ballot(2, "b")


def _e(index: int, ballot: int, data: bytes) -> Entry:
    return Entry(index, ballot, EntryKind.NORMAL, data)


def _possibly_chosen(cls: type[MultiPaxos]) -> Cluster:
    """Old leader a had slots 2-3 accepted by b too (a majority: chosen), c only has
    slot 1, and nobody learned the commit. a is gone; c runs phase 1 with b."""
    c = Cluster(["a", "b", "c"], maker=lambda nid, m, d, r: cls(nid, m, d, r, PaxosConfig()))
    full = [_e(1, B1, b"v1"), _e(2, B1, b"v2"), _e(3, B1, b"v3")]
    c.set_disk("a", accepted_disk(B1, B1, full, commit=1))
    c.set_disk("b", accepted_disk(B1, B1, full, commit=1))
    c.set_disk("c", accepted_disk(B1, B1, full[:1], commit=1))
    for nid in "abc":
        c.start(nid)
    c.crash("a")
    c.campaign("c")
    assert c.engines["c"].role == Role.LEADER
    c.stabilize()
    return c


def test_new_leader_re_proposes_a_possibly_chosen_value() -> None:
    c = _possibly_chosen(MultiPaxos)
    lead = c.engines["c"]
    promises = [m for m in c.delivered if m.type == MT.PROMISE and m.dst == "c"]
    assert promises and promises[0].entries[-1].data == b"v3"  # b reported slot 3
    # re-proposed under the new ballot, keeping the value's original tag
    assert [(e.index, e.term, e.data) for e in lead.log.entries] == [
        (1, B1, b"v1"),
        (2, B1, b"v2"),
        (3, B1, b"v3"),
    ]
    assert lead.sync_end == 3 and lead.log.committed == 3
    for nid in "bc":
        assert c.commands(nid) == [b"v1", b"v2", b"v3"]
    c.propose("c", b"v4")
    assert c.commands("b") == [b"v1", b"v2", b"v3", b"v4"]


def test_leader_ignoring_promised_values_loses_a_chosen_value() -> None:
    # The same story with the mutant: the test above can fail.
    c = _possibly_chosen(IgnorePromisedValues)
    assert c.commands("c") == [b"v1"]
    assert [e.kind for e in c.engines["c"].log.entries[1:3]] == [EntryKind.NOOP] * 2


def test_holes_beyond_the_highest_ballot_log_are_filled_with_noops() -> None:
    c = Cluster(["a", "b", "c", "d", "e"])
    # b led ballot B2: it re-proposed slot 1 and proposed w2, then died with it.
    c.set_disk("b", accepted_disk(B2, B2, [_e(1, B1, b"v1"), _e(2, B2, b"w2")]))
    # d still holds what a proposed in B1 beyond slot 1 (never chosen: B2 won).
    c.set_disk("d", accepted_disk(B1, B1, [_e(i, B1, b"v%d" % i) for i in range(1, 5)]))
    c.set_disk("c", accepted_disk(B2, B1, [_e(1, B1, b"v1")]))
    for nid in "bcd":
        c.start(nid)
    c.crash("a")
    c.crash("e")
    c.campaign("c")
    lead = c.engines["c"]
    assert lead.role == Role.LEADER and lead.ballot > B2
    log = [(e.index, e.term, e.kind) for e in lead.log.entries]
    assert log == [
        (1, B1, EntryKind.NORMAL),
        (2, B2, EntryKind.NORMAL),  # the highest accepted ballot wins slot 2
        (3, lead.ballot, EntryKind.NOOP),  # holes: seen in a promise, not in that log
        (4, lead.ballot, EntryKind.NOOP),
    ]
    c.stabilize()
    for nid in "bcd":
        assert c.commands(nid) == [b"v1", b"w2"], nid
        assert [e.index for e in c.applied[nid]] == [1, 2, 3, 4]
    # d's old slots 2-4 were replaced by the new ballot's log
    assert [e.term for e in c.disks["d"].entries] == [B1, B2, lead.ballot, lead.ballot]


def test_restart_re_delivers_chosen_entries_after_the_snapshot() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect_any()
    c.propose(leader, *[b"%d" % i for i in range(8)])
    follower = next(n for n in c.engines if n != leader)
    snap_at = c.compact(follower)
    c.propose(leader, b"8", b"9")
    c.tick(2)
    c.crash(follower)
    c.start(follower)
    eng = c.engines[follower]
    assert eng.log.applied == snap_at
    c.tick(2)
    assert c.applied[follower][0].index == snap_at + 1
    assert c.commands(follower) == [b"%d" % i for i in range(10)]
    assert eng.promised == c.engines[leader].ballot  # the promise survived the crash
