"""Fast leader election and discovery: the highest (currentEpoch, zxid) leads,
ties go to the highest id, and the new epoch is above every accepted epoch."""

from __future__ import annotations

import pytest
from zab_harness import Cluster, Disk, history

from senate.consensus.types import ConfChange, ConfChangeOp, Entry, EntryKind, HardState, Role
from senate.zab.messages import MessageType


def _disk(accepted: int, current: int, epochs: list[int], commit: int = 0) -> Disk:
    return Disk(HardState(accepted, f"{current}/x", commit), None, history(*epochs))


def test_election_picks_the_highest_zxid() -> None:
    disks = {
        "a": _disk(2, 2, [1, 1, 2, 2, 2], commit=2),
        "b": _disk(2, 2, [1, 1, 2, 2, 2, 2, 2], commit=2),
        "c": _disk(2, 2, [1, 1, 2], commit=2),
    }
    c = Cluster(["a", "b", "c"], disks=disks)
    assert c.elect() == "b"
    # Everyone ends with b's history, the epoch-2 tail included.
    for n in "abc":
        assert c.log_of(n)[:7] == c.log_of("b")[:7]


def test_current_epoch_ranks_above_zxid() -> None:
    # c's last zxid is the highest, but a's currentEpoch is newer: a synced with
    # a later leader whose initial history had no new proposal yet.
    disks = {
        "a": _disk(3, 3, [1, 1], commit=1),
        "b": _disk(3, 2, [1, 1], commit=1),
        "c": _disk(2, 2, [1, 1, 2, 2], commit=1),
    }
    c = Cluster(["a", "b", "c"], disks=disks)
    assert c.elect() == "a"
    assert c.log_of("c") == c.log_of("a")  # c's epoch-2 tail was truncated


def test_ties_go_to_the_highest_id() -> None:
    disks = {n: _disk(1, 1, [1, 1, 1], commit=3) for n in "abc"}
    assert Cluster(["a", "b", "c"], disks=disks).elect() == "c"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fresh_cluster_elects_one_leader(seed: int) -> None:
    c = Cluster(["a", "b", "c", "d", "e"], seed=seed)
    leader = c.elect()
    assert c.engines[leader].status().term == 1
    for n, eng in c.engines.items():
        if n != leader:
            assert eng.status().role == Role.FOLLOWER and eng.status().leader == leader


def test_discovery_proposes_an_epoch_above_every_accepted_epoch() -> None:
    disks = {
        "a": _disk(3, 1, [1]),
        "b": _disk(7, 1, [1]),
        "c": _disk(5, 1, [1]),
    }
    c = Cluster(["a", "b", "c"], disks=disks)
    leader = c.elect()
    newepochs = {m.epoch for m in c.sent(MessageType.NEWEPOCH)}
    assert newepochs == {8}
    assert c.engines[leader].status().term == 8
    for n in "abc":  # acceptedEpoch and currentEpoch are durable
        hs = c.synced[n].hard_state
        assert hs.term == 8 and hs.vote == f"8/{leader}"


def test_a_node_acks_an_epoch_for_one_leader_only() -> None:
    c = Cluster(["a", "b", "c"])
    leader = c.elect()
    follower = next(n for n in "abc" if n != leader)
    eng = c.engines[follower]
    eng.accepted_from = "someone-else"
    assert not eng.accept_epoch(eng.accepted_epoch, leader)
    assert eng.accept_epoch(eng.accepted_epoch + 1, leader)


def test_leader_that_loses_its_quorum_steps_down_and_a_new_epoch_starts() -> None:
    c = Cluster(["a", "b", "c"])
    old = c.elect()
    epoch = c.engines[old].status().term
    c.isolate(old)
    c.tick(30)
    assert c.engines[old].status().role != Role.LEADER
    c.heal()
    new = c.elect()
    assert c.engines[new].status().term > epoch


def test_an_uncommitted_removal_does_not_shut_out_the_voter_it_removes() -> None:
    # Found by `senate sim --seed 521 --faults all,membership --protocol zab`.
    # Committed: entry 3 removes e, so the voters are a, b, c, d (quorum 3); d is
    # down. b never learned of entry 3 and holds an uncommitted entry 3 of an older
    # epoch that removes c. a and c need b's vote; b must still talk to c (a voter
    # at b's commit index) and follow c once c leads, which truncates b's entry 3.
    def conf(index: int, epoch: int, node: str) -> Entry:
        cc = ConfChange(ConfChangeOp.REMOVE, node)
        return Entry(index, epoch, EntryKind.CONF_CHANGE, cc.encode())

    base = history(1, 1)
    disks = {
        "a": Disk(HardState(2, "2/x", 3), None, [*base, conf(3, 2, "e")]),
        "b": Disk(HardState(1, "1/x", 2), None, [*base, conf(3, 1, "c")]),
        "c": Disk(HardState(2, "2/x", 3), None, [*base, conf(3, 2, "e")]),
    }
    c = Cluster(["a", "b", "c", "d", "e"], disks=disks)
    c.crash("d")
    c.crash("e")
    assert c.elect() == "c"
    assert c.log_of("b")[:3] == c.log_of("c")[:3]
    assert c.engines["b"].membership.voters == {"a", "b", "c", "d"}


def test_a_node_holding_its_own_uncommitted_removal_still_votes_and_can_lead() -> None:
    # Seed 807 (`senate sim --seed 807 --faults all,membership --protocol zab`):
    # b holds the best history, ending in an uncommitted entry that removes b. It
    # must take part: it leads with its membership (a, c, d), commits its removal
    # and steps down; before, nobody could gather a quorum of a, b, c, d.
    cc = ConfChange(ConfChangeOp.REMOVE, "b")
    base = history(1, 1)
    disks = {
        "a": Disk(HardState(1, "1/x", 2), None, list(base)),
        "b": Disk(
            HardState(2, "2/x", 2), None, [*base, Entry(3, 2, EntryKind.CONF_CHANGE, cc.encode())]
        ),
        "c": Disk(HardState(1, "1/x", 2), None, list(base)),
    }
    c = Cluster(["a", "b", "c", "d"], disks=disks)
    c.crash("d")
    c.elect()
    c.tick(100)
    leaders = c.leaders()
    assert len(leaders) == 1 and leaders[0] in ("a", "c")
    for n in "abc":
        assert c.engines[n].log.committed >= 3
        assert c.engines[n].membership.voters == {"a", "c", "d"}
