"""Each deliberately broken variant shows its bug in a small scenario, and the real
engine does not: the checks here are the same ones the scenario tests rely on."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from raft_harness import Cluster, Disk

from senate.consensus.types import DurableState, Entry, EntryKind, HardState, Membership, Role
from senate.raft import Raft, RaftConfig
from senate.raft import mutants as mu
from senate.raft.messages import MessageType, RaftMessage

Maker = Callable[[str, Membership, DurableState, random.Random], Raft]


def _maker(cls: type[Raft]) -> Maker:
    return lambda n, m, d, r: cls(n, m, d, r, RaftConfig())


def _sent_now(c: Cluster, mtype: MessageType) -> bool:
    return any(
        isinstance(m, RaftMessage) and m.type == mtype
        for rds in c.readies.values()
        for rd in rds
        for m in rd.send_now
    )


def vote_reply_waits(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    return not _sent_now(c, MessageType.VOTE_RESP)


def vote_is_synced(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    changes = 0
    for rds in c.readies.values():
        prev = HardState()
        for rd in rds:
            hs = rd.hard_state
            if hs is not None and (hs.term, hs.vote) != (prev.term, prev.vote):
                changes += 1
                if not rd.must_sync:
                    return False
            prev = hs or prev
    return changes >= 3


def ack_waits(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    c.propose("a", b"x")
    return not _sent_now(c, MessageType.APP_RESP)


def acked_entries_synced(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    c.propose("a", b"x")
    with_entries = [rd for rds in c.readies.values() for rd in rds if rd.entries]
    return bool(with_entries) and all(rd.must_sync for rd in with_entries)


def stale_log_loses(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    c.isolate("c")
    c.propose("a", b"x", b"y")
    c.heal()
    for n in c.engines:
        c.engines[n].election_elapsed = 10
    c.engines["c"].campaign(pre=False, transfer=False)
    c.stabilize()
    return c.engines["c"].role != Role.LEADER


def applies_only_committed(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    c.isolate("a")
    c.propose("a", b"uncommitted")
    return all(e.data != b"uncommitted" for e in c.applied["a"])


def conflicts_truncated(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    logs = {"a": [1, 3], "b": [1, 2, 2], "c": [1, 3]}
    for nid, terms in logs.items():
        entries = [Entry(i + 1, t, EntryKind.NORMAL) for i, t in enumerate(terms)]
        c.set_disk(nid, Disk(HardState(term=3, commit=1), None, entries))
        c.start(nid)
    c.campaign("a")
    c.tick(2)
    return [e.term for e in c.disks["b"].entries][:2] == [1, 3]


def reads_confirmed(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    c.isolate("a")
    c.engines["a"].read_index(b"r")
    c.stabilize()
    return c.reads["a"] == []


def commit_needs_a_majority(cls: type[Raft]) -> bool:
    c = Cluster(["a", "b", "c"], maker=_maker(cls))
    c.campaign("a")
    c.isolate("a")
    c.propose("a", b"alone")
    return all(e.data != b"alone" for e in c.applied["a"])


def commit_stops_at_the_last_new_entry(cls: type[Raft]) -> bool:
    # b holds 2 (term 1, also the leader's) and a stale 3 (term 2); the leader's 3
    # is another entry it committed. An append carrying only 2 proves b's log
    # matches up to 2, not 3.
    stale = [Entry(1, 1, EntryKind.NORMAL), Entry(2, 1, EntryKind.NORMAL), Entry(3, 2, data=b"old")]
    durable = DurableState(HardState(term=2, commit=1), None, tuple(stale))
    b = cls("b", Membership(frozenset("abc")), durable, random.Random(1), RaftConfig())
    app = RaftMessage(
        MessageType.APP, "a", "b", 3, log_term=1, index=1, entries=(stale[1],), commit=3
    )
    b.step(app)
    return b.log.committed == 2


CASES = [
    (mu.CommitPastLastNew, commit_stops_at_the_last_new_entry),
    (mu.MinorityCommit, commit_needs_a_majority),
    (mu.VoteReplyInSendNow, vote_reply_waits),
    (mu.VoteBeforeDurable, vote_is_synced),
    (mu.AckInSendNow, ack_waits),
    (mu.AckBeforeDurable, acked_entries_synced),
    (mu.NoUpToDateCheck, stale_log_loses),
    (mu.ApplyBeforeCommit, applies_only_committed),
    (mu.NoTruncateOnConflict, conflicts_truncated),
    (mu.ReadIndexNoConfirm, reads_confirmed),
]


@pytest.mark.parametrize(("mutant", "prop"), CASES, ids=[c[0].__name__ for c in CASES])
def test_real_engine_keeps_the_rule_the_mutant_breaks(
    mutant: type[Raft], prop: Callable[[type[Raft]], bool]
) -> None:
    assert prop(Raft)
    assert not prop(mutant)


def test_every_mutant_is_registered_with_a_factory() -> None:
    assert len(mu.MUTANTS) >= 11
    assert not hasattr(mu, "SUBTLE_MUTANTS")  # one table: the simulator catches them all
    for name, make in mu.MUTANTS.items():
        engine = make(None)("a", Membership(frozenset("a")), DurableState(), random.Random(1))
        assert isinstance(engine, Raft), name
        assert type(engine).__doc__, name
