"""An acceptor that adopts a new ballot drops its stale tail only above its commit
index: the cut reaches the disk as a rewrite of the slot it keeps last, and a chosen
slot may be compacted into a snapshot before that rewrite is written.

Found by `senate sim --seed 280 --faults all,membership --protocol multipaxos`
(before the learner_caught_up hook changed that schedule): the cut slot was compacted
first, has_ready() stayed true with empty Readies (a livelock) and the driver's log
kept the stale tail under the new accepted ballot.
"""

from __future__ import annotations

import random

from senate.consensus.types import DurableState, Entry, EntryKind, HardState, Membership
from senate.paxos import MultiPaxos
from senate.paxos.ballot import make_ballot
from senate.paxos.messages import MessageType as MT
from senate.paxos.messages import PaxosMessage

OLD = make_ballot(1, "a")
NEW = make_ballot(2, "b")


def _acceptor() -> MultiPaxos:
    # Slots 1..5 accepted in OLD; 1..3 chosen. 4 and 5 were never chosen: NEW's
    # leader (b) ends its log at 3.
    entries = tuple(Entry(i, OLD, EntryKind.NORMAL, b"v%d" % i) for i in range(1, 6))
    durable = DurableState(HardState(OLD, str(OLD), 3), None, entries)
    eng = MultiPaxos("c", Membership(frozenset("abc")), durable, random.Random(1))
    while eng.has_ready():  # deliver the chosen slots
        eng.advance(eng.ready())
    assert eng.log.applied == 3
    return eng


def _accept(index: int, entries: tuple[Entry, ...] = ()) -> PaxosMessage:
    return PaxosMessage(
        MT.ACCEPT, "b", "c", NEW, index=index, log_term=OLD, entries=entries,
        commit=3, sync_end=3,
    )  # fmt: skip


def test_an_accept_up_to_the_commit_index_is_acked_without_a_cut() -> None:
    eng = _acceptor()
    eng.step(_accept(3))
    # The driver compacts the applied prefix before the next Ready (as the sim does).
    eng.compact(3, b"snap")
    assert eng.accepted == OLD and eng.log.last_index == 5
    rd = eng.ready()
    assert not rd.is_empty()
    assert rd.hard_state is not None and rd.hard_state.vote == str(OLD)
    acks = [m for m in rd.messages if isinstance(m, PaxosMessage) and m.type == MT.ACCEPTED]
    assert [(m.index, m.reject) for m in acks] == [(3, False)]
    eng.advance(rd)
    assert not eng.has_ready()


def test_the_ballot_is_adopted_with_entries_that_overwrite_the_tail() -> None:
    eng = _acceptor()
    eng.step(_accept(3))
    eng.compact(3, b"snap")
    eng.advance(eng.ready())
    new4 = Entry(4, NEW, EntryKind.NOOP)
    eng.step(_accept(3, (new4,)))
    rd = eng.ready()
    # The write starts right after the snapshot, so the driver drops the old 4 and 5
    # in the same persist that records NEW as the accepted ballot.
    assert rd.entries == [new4]
    assert rd.hard_state is not None and rd.hard_state.vote == str(NEW)
    assert eng.log.last_index == 4
