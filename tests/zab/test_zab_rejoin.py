"""A node whose bid for an epoch failed joins the leader that established that epoch.

Seen on real processes after a power cut of every node: n3 chose epoch 2 as a
would-be leader and never established it, while n1 established epoch 2 with n2.
n3 refused n1's NEWEPOCH(2) (it had accepted epoch 2 from itself) and stayed
LOOKING for as long as the epoch lasted. As in ZooKeeper, it now follows the
leader of an epoch it already acked for someone else, and its ack does not count
toward establishing that epoch (so one epoch still has at most one leader).
"""

from __future__ import annotations

from zab_harness import Cluster, Disk, history

from senate.consensus.types import HardState, Role
from senate.zab.messages import MessageType


def test_a_failed_would_be_leader_follows_the_leader_of_its_epoch() -> None:
    disks = {
        "a": Disk(HardState(1, "1/a", 1), None, history(1, 1)),
        "b": Disk(HardState(1, "1/a", 1), None, history(1, 1)),
        # c chose epoch 2 for itself (acceptedEpoch 2, accepted from c), never established.
        "c": Disk(HardState(2, "1/c", 1), None, history(1, 1)),
    }
    c = Cluster(["a", "b", "c"], disks=disks)
    c.isolate("c")
    leader = c.elect()
    assert c.engines[leader].current_epoch == 2
    c.heal()
    c.propose(leader, b"x")
    c.tick(60)
    st = c.engines["c"].status()
    assert st.role == Role.FOLLOWER and st.leader == leader
    assert c.log_of("c") == c.log_of(leader)
    # c's ack was marked: it did not count toward establishing epoch 2 ...
    acks = [m for m in c.sent(MessageType.ACKEPOCH) if m.src == "c"]
    assert acks and all(m.flag for m in acks)
    assert c.engines[leader].sessions["c"].uncounted
    # ... and c still holds the epoch as accepted from itself.
    assert c.engines["c"].accepted_from == "c"
